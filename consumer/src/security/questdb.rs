//! Pure. QuestDB credentials (a user and password, or a token), kept out of the client
//! configuration string and merged by the consumer into each client it builds: spate's
//! ILP writer, questdb-rs's `SenderBuilder` and the HTTP client of `/exec`.

use std::path::PathBuf;

use base64::Engine as _;
use questdb::ingress::SenderBuilder;

use super::kafka::SecurityProblem;
use super::secret::{Credential, Secret};

/// Keys of a questdb-rs configuration string that carry secrets: refused there, each has
/// a setting of its own (a value or a file).
pub const SECRET_CONF_KEYS: &[&str] = &["username", "password", "token"];

/// The secret-bearing keys present in the configuration string `conf` (none when it
/// does not parse: that is reported on its own).
pub fn secret_conf_keys(conf: &str) -> Vec<&'static str> {
    let Ok(parsed) = questdb_confstr::parse_conf_str(conf) else {
        return Vec::new();
    };
    SECRET_CONF_KEYS
        .iter()
        .copied()
        .filter(|k| parsed.get(k).is_some())
        .collect()
}

/// How spate authenticates to QuestDB's HTTP server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuestdbAuth {
    pub username: Option<Credential>,
    pub password: Option<Credential>,
    /// A bearer token (QuestDB Enterprise).
    pub token: Option<Credential>,
}

impl QuestdbAuth {
    /// A user name and password given as values.
    pub fn basic(username: &str, password: &str) -> Self {
        QuestdbAuth {
            username: Some(Credential::value(username)),
            password: Some(Credential::value(password)),
            token: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.username.is_none() && self.password.is_none() && self.token.is_none()
    }

    /// A user name and a password together, or a token alone; no control characters,
    /// which questdb-rs refuses and a header cannot carry.
    pub fn problems(&self) -> Vec<SecurityProblem> {
        let mut out = Vec::new();
        match (&self.username, &self.password, &self.token) {
            (Some(_), None, _) => out.push(SecurityProblem {
                setting: "questdb.password",
                reason: "required with questdb.username".into(),
            }),
            (None, Some(_), _) => out.push(SecurityProblem {
                setting: "questdb.username",
                reason: "required with questdb.password".into(),
            }),
            (Some(_), Some(_), Some(_)) => out.push(SecurityProblem {
                setting: "questdb.token",
                reason: "set a token or a user name and password, not both".into(),
            }),
            _ => {}
        }
        for (setting, c) in [
            ("questdb.username", &self.username),
            ("questdb.password", &self.password),
            ("questdb.token", &self.token),
        ] {
            if c.as_ref().is_some_and(|c| has_control(c.secret.expose())) {
                out.push(SecurityProblem {
                    setting,
                    reason: "contains a control character (a newline?), which QuestDB's clients cannot send".into(),
                });
            }
        }
        out
    }

    /// The `Authorization` header value, if any.
    pub fn header(&self) -> Option<Secret> {
        match (&self.username, &self.password, &self.token) {
            (Some(u), Some(p), _) => Some(Secret::new(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    u.secret.expose(),
                    p.secret.expose()
                ))
            ))),
            (_, _, Some(t)) => Some(Secret::new(format!("Bearer {}", t.secret.expose()))),
            _ => None,
        }
    }

    /// `builder` with these credentials.
    pub fn apply(&self, mut builder: SenderBuilder) -> questdb::Result<SenderBuilder> {
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            builder = builder
                .username(u.secret.expose())?
                .password(p.secret.expose())?;
        } else if let Some(t) = &self.token {
            builder = builder.token(t.secret.expose())?;
        }
        Ok(builder)
    }

    /// The files the credentials were read from, by setting key.
    pub fn files(&self) -> Vec<(&'static str, PathBuf)> {
        [
            ("questdb.username_file", &self.username),
            ("questdb.password_file", &self.password),
            ("questdb.token_file", &self.token),
        ]
        .into_iter()
        .filter_map(|(k, c)| Some((k, c.as_ref()?.file.clone()?)))
        .collect()
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_the_configuration_string_are_found_by_key() {
        assert_eq!(
            secret_conf_keys("http::addr=q:9000;username=u;password=a;;b;"),
            vec!["username", "password"]
        );
        assert_eq!(
            secret_conf_keys("https::addr=q:9000;tls_roots=/ca.pem;"),
            Vec::<&str>::new()
        );
        assert_eq!(secret_conf_keys("not a conf"), Vec::<&str>::new());
    }

    #[test]
    fn basic_auth_encodes_any_character_and_never_shows_it() {
        let auth = QuestdbAuth::basic("admin", "p:a,s;s=w\"o'rd\\");
        let header = auth.header().unwrap();
        let encoded = header.expose().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(decoded, b"admin:p:a,s;s=w\"o'rd\\");
        assert!(!format!("{auth:?} {header:?}").contains("p:a,s"));
        assert_eq!(auth.problems(), vec![]);
    }

    #[test]
    fn a_token_is_a_bearer_header() {
        let auth = QuestdbAuth {
            token: Some(Credential::value("tok")),
            ..QuestdbAuth::default()
        };
        assert_eq!(auth.header().unwrap().expose(), "Bearer tok");
    }

    #[test]
    fn a_user_needs_a_password_and_control_characters_are_refused() {
        let auth = QuestdbAuth {
            username: Some(Credential::value("admin")),
            ..QuestdbAuth::default()
        };
        assert_eq!(auth.problems()[0].setting, "questdb.password");
        let auth = QuestdbAuth::basic("admin", "line\nbreak");
        assert_eq!(auth.problems()[0].setting, "questdb.password");
        assert!(QuestdbAuth::default().header().is_none());
    }

    #[test]
    fn questdb_rs_takes_the_credentials() {
        let builder = SenderBuilder::from_conf("http::addr=127.0.0.1:9000;").unwrap();
        assert!(QuestdbAuth::basic("admin", "p;w").apply(builder).is_ok());
    }
}
