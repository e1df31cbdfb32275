//! The files credentials and certificates are read from, watched: the kubelet updates a
//! mounted Secret in place, and a process that read it at start must restart to use
//! the new content.

use std::path::PathBuf;

use super::secret::file_digest;

/// The files to watch, with a digest of each as it was when the watch began.
#[derive(Debug, Clone, Default)]
pub struct FileWatch {
    entries: Vec<(&'static str, PathBuf, Option<u64>)>,
}

impl FileWatch {
    /// Watches `files` (setting key, path) from now on.
    pub fn new(files: Vec<(&'static str, PathBuf)>) -> Self {
        FileWatch {
            entries: files
                .into_iter()
                .map(|(setting, path)| {
                    let digest = file_digest(&path);
                    (setting, path, digest)
                })
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The settings whose file no longer holds what it held when the watch began. A file
    /// that cannot be read now counts as unchanged (the kubelet swaps the content
    /// atomically; a missing file is no new credential).
    pub fn changed(&self) -> Vec<&'static str> {
        self.entries
            .iter()
            .filter(|(_, path, before)| file_digest(path).is_some_and(|now| Some(now) != *before))
            .map(|(setting, _, _)| *setting)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_file_is_a_change_and_a_vanished_one_is_not() {
        let dir = std::env::temp_dir().join(format!("spate-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("password"), dir.join("ca.crt"));
        std::fs::write(&a, "one").unwrap();
        std::fs::write(&b, "cert").unwrap();
        let watch = FileWatch::new(vec![
            ("kafka.sasl_password_file", a.clone()),
            ("kafka.ssl_ca_file", b.clone()),
        ]);
        assert_eq!(watch.changed(), Vec::<&str>::new());
        std::fs::write(&a, "one").unwrap();
        assert_eq!(watch.changed(), Vec::<&str>::new(), "same bytes, no change");
        std::fs::write(&a, "two").unwrap();
        std::fs::remove_file(&b).unwrap();
        assert_eq!(watch.changed(), vec!["kafka.sasl_password_file"]);
    }
}
