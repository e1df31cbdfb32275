//! Secret values and the credentials that carry them: given directly or read from a file
//! (the file's exact bytes), never shown by `Debug`, in an error or in a log line.

use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

/// A secret value. `Debug` prints `<redacted>`; there is no `Display`: the only way to
/// the text is [`Secret::expose`], at the place that hands it to a client library.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret text, for the client that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A credential: its secret and the file it was read from, if any (watched for changes,
/// re-read where a client refreshes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub secret: Secret,
    pub file: Option<PathBuf>,
}

impl Credential {
    /// A credential given as a value.
    pub fn value(value: impl Into<String>) -> Self {
        Credential {
            secret: Secret::new(value),
            file: None,
        }
    }

    /// The credential in `path`, read now.
    pub fn from_file(path: impl Into<PathBuf>) -> Result<Self, CredentialError> {
        let path = path.into();
        let secret = read_secret(&path)?;
        Ok(Credential {
            secret,
            file: Some(path),
        })
    }

    /// The current secret: the file's content as it is now, or the value.
    pub fn current(&self) -> Result<Secret, CredentialError> {
        match &self.file {
            Some(path) => read_secret(path),
            None => Ok(self.secret.clone()),
        }
    }

    /// From a value or a file, not both; `None` when neither is given.
    pub fn value_or_file(
        value: Option<String>,
        file: Option<&str>,
    ) -> Result<Option<Self>, CredentialError> {
        match (value, file) {
            (Some(_), Some(_)) => Err(CredentialError::ValueAndFile),
            (Some(v), None) => check_text(&v).map(|()| Some(Credential::value(v))),
            (None, Some(path)) => Credential::from_file(path).map(Some),
            (None, None) => Ok(None),
        }
    }
}

/// Why a credential could not be had. Never holds the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("give the value or the file, not both")]
    ValueAndFile,
    #[error("read {path}: {reason}")]
    ReadFile { path: PathBuf, reason: String },
    #[error("is empty")]
    Empty,
    #[error("is not UTF-8 text")]
    NotUtf8,
    #[error("contains a NUL byte, which no client can send")]
    ContainsNul,
}

/// Checks a secret's text: not empty, no NUL (librdkafka takes C strings).
fn check_text(text: &str) -> Result<(), CredentialError> {
    if text.is_empty() {
        Err(CredentialError::Empty)
    } else if text.contains('\0') {
        Err(CredentialError::ContainsNul)
    } else {
        Ok(())
    }
}

/// The secret in `path`: its exact bytes, which must be UTF-8 text.
pub fn read_secret(path: &Path) -> Result<Secret, CredentialError> {
    let bytes = std::fs::read(path).map_err(|e| CredentialError::ReadFile {
        path: path.to_owned(),
        reason: e.kind().to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|_| CredentialError::NotUtf8)?;
    check_text(&text)?;
    Ok(Secret(text))
}

/// A digest of a file's bytes, to notice a change without keeping a second copy of the
/// secret; `None` when the file cannot be read.
pub fn file_digest(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    Some(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("spate-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credential::value("hunter2");
        let shown = format!("{c:?} {:?}", c.secret);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn a_file_is_read_as_its_exact_bytes() {
        let awkward = "a,b;c=d \"q\" 'q' \\ \nline2\n";
        let path = temp_file("exact", awkward.as_bytes());
        let c = Credential::value_or_file(None, path.to_str())
            .unwrap()
            .unwrap();
        assert_eq!(c.secret.expose(), awkward);
        assert_eq!(c.file.as_deref(), Some(path.as_path()));
    }

    #[test]
    fn value_and_file_together_are_refused() {
        assert_eq!(
            Credential::value_or_file(Some("x".into()), Some("/nonexistent")),
            Err(CredentialError::ValueAndFile)
        );
        assert_eq!(Credential::value_or_file(None, None), Ok(None));
    }

    #[test]
    fn empty_binary_and_missing_files_are_refused_without_their_content() {
        let empty = temp_file("empty", b"");
        assert_eq!(read_secret(&empty), Err(CredentialError::Empty));
        let binary = temp_file("binary", &[0xff, 0xfe, b's']);
        assert_eq!(read_secret(&binary), Err(CredentialError::NotUtf8));
        let nul = temp_file("nul", b"pass\0word");
        assert_eq!(read_secret(&nul), Err(CredentialError::ContainsNul));
        let missing = read_secret(Path::new("/nonexistent/spate-secret")).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/spate-secret"));
    }

    #[test]
    fn the_current_secret_follows_the_file() {
        let path = temp_file("rotating", b"one");
        let c = Credential::from_file(&path).unwrap();
        let before = file_digest(&path);
        std::fs::write(&path, b"two").unwrap();
        assert_eq!(c.current().unwrap().expose(), "two");
        assert_ne!(file_digest(&path), before);
        assert_eq!(c.secret.expose(), "one", "the loaded value stays");
    }
}
