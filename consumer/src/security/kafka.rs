//! Pure. How every Kafka client of spate (the consumer, the dead-letter producer and its
//! admin client, the loadgen, the tests' helpers) connects: security protocol, SASL
//! mechanism and credentials, TLS files, and the librdkafka properties they become.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use rdkafka::ClientConfig;

use super::oauth::TokenSource;
use super::secret::{Credential, Secret};

/// `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    #[default]
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub const ALL: [SecurityProtocol; 4] = [
        SecurityProtocol::Plaintext,
        SecurityProtocol::Ssl,
        SecurityProtocol::SaslPlaintext,
        SecurityProtocol::SaslSsl,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether the connection authenticates with SASL.
    pub fn sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }

    /// Whether the connection is encrypted.
    pub fn tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
    OAuthBearer,
}

impl SaslMechanism {
    pub const ALL: [SaslMechanism; 4] = [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
        SaslMechanism::OAuthBearer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// Whether the mechanism authenticates with a user name and password.
    pub fn uses_password(self) -> bool {
        !matches!(self, SaslMechanism::OAuthBearer)
    }
}

/// A name that is none of the choices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be one of {choices}")]
pub struct UnknownName {
    pub choices: String,
}

fn parse_name<T: Copy>(
    s: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
) -> Result<T, UnknownName> {
    all.iter()
        .copied()
        .find(|v| name(*v).eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| UnknownName {
            choices: all.iter().map(|v| name(*v)).collect::<Vec<_>>().join(", "),
        })
}

impl FromStr for SecurityProtocol {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name(s, &Self::ALL, Self::as_str)
    }
}

impl FromStr for SaslMechanism {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_name(s, &Self::ALL, Self::as_str)
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// librdkafka properties that carry secrets: refused in the free-form options, each has
/// a setting of its own (a value or a file).
pub const SECRET_OPTIONS: &[&str] = &[
    "sasl.username",
    "sasl.password",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl.keystore.password",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.config",
];

/// Whether the librdkafka property `key` carries a secret.
pub fn is_secret_option(key: &str) -> bool {
    SECRET_OPTIONS.contains(&key.trim())
}

/// How a Kafka client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSecurity {
    pub protocol: SecurityProtocol,
    pub mechanism: Option<SaslMechanism>,
    pub username: Option<Credential>,
    pub password: Option<Credential>,
    pub oauth_token: Option<Credential>,
    /// PEM file of the CA certificates to trust; `None` trusts the system's.
    pub ssl_ca_file: Option<PathBuf>,
    /// PEM files of the client certificate and its key (mutual TLS).
    pub ssl_cert_file: Option<PathBuf>,
    pub ssl_key_file: Option<PathBuf>,
    /// Check that the broker's certificate names the host connected to.
    pub verify_hostname: bool,
    /// Accept PLAIN over SASL_PLAINTEXT, which sends the password in cleartext.
    pub allow_plaintext_password: bool,
}

impl Default for KafkaSecurity {
    fn default() -> Self {
        KafkaSecurity {
            protocol: SecurityProtocol::Plaintext,
            mechanism: None,
            username: None,
            password: None,
            oauth_token: None,
            ssl_ca_file: None,
            ssl_cert_file: None,
            ssl_key_file: None,
            verify_hostname: true,
            allow_plaintext_password: false,
        }
    }
}

/// A security setting that does not fit the others: the setting's key and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityProblem {
    pub setting: &'static str,
    pub reason: String,
}

impl KafkaSecurity {
    /// Every setting that does not fit the protocol and mechanism, by setting key
    /// (`kafka.sasl_mechanism`, ...). Never mentions a secret's value.
    pub fn problems(&self) -> Vec<SecurityProblem> {
        let mut out = Vec::new();
        let mut problem =
            |setting: &'static str, reason: String| out.push(SecurityProblem { setting, reason });
        let protocol = self.protocol;
        match (protocol.sasl(), self.mechanism) {
            (true, None) => problem(
                "kafka.sasl_mechanism",
                format!("required with security protocol {protocol}"),
            ),
            (false, Some(m)) => problem(
                "kafka.sasl_mechanism",
                format!("{m} is only used with SASL_SSL or SASL_PLAINTEXT, not {protocol}"),
            ),
            _ => {}
        }
        let mechanism = self.mechanism.filter(|_| protocol.sasl());
        let uses_password = mechanism.is_some_and(SaslMechanism::uses_password);
        let uses_token = mechanism == Some(SaslMechanism::OAuthBearer);
        for (setting, given, used) in [
            (
                "kafka.sasl_username",
                self.username.is_some(),
                uses_password,
            ),
            (
                "kafka.sasl_password",
                self.password.is_some(),
                uses_password,
            ),
            (
                "kafka.oauthbearer_token",
                self.oauth_token.is_some(),
                uses_token,
            ),
        ] {
            match (given, used, mechanism) {
                (false, true, Some(m)) => {
                    problem(setting, format!("required with SASL mechanism {m}"))
                }
                (true, false, Some(m)) => {
                    problem(setting, format!("not used with SASL mechanism {m}"))
                }
                (true, false, None) => problem(
                    setting,
                    format!("only used with SASL_SSL or SASL_PLAINTEXT, not {protocol}"),
                ),
                _ => {}
            }
        }
        if mechanism == Some(SaslMechanism::Plain)
            && protocol == SecurityProtocol::SaslPlaintext
            && !self.allow_plaintext_password
        {
            problem(
                "kafka.sasl_mechanism",
                "PLAIN over SASL_PLAINTEXT sends the password in cleartext; use SASL_SSL, or set \
                 kafka.allow_plaintext_password=true (SPATE_KAFKA_ALLOW_PLAINTEXT_PASSWORD) to accept that"
                    .into(),
            );
        }
        if !protocol.tls() {
            for (setting, given) in [
                ("kafka.ssl_ca_file", self.ssl_ca_file.is_some()),
                ("kafka.ssl_cert_file", self.ssl_cert_file.is_some()),
                ("kafka.ssl_key_file", self.ssl_key_file.is_some()),
            ] {
                if given {
                    problem(
                        setting,
                        format!("only used with SSL or SASL_SSL, not {protocol}"),
                    );
                }
            }
        }
        match (&self.ssl_cert_file, &self.ssl_key_file) {
            (Some(_), None) => problem(
                "kafka.ssl_key_file",
                "required with kafka.ssl_cert_file".into(),
            ),
            (None, Some(_)) => problem(
                "kafka.ssl_cert_file",
                "required with kafka.ssl_key_file".into(),
            ),
            _ => {}
        }
        out
    }

    /// The librdkafka properties without secrets (those are set by [`Self::apply`]).
    pub fn properties(&self) -> Vec<(&'static str, String)> {
        let mut props = vec![("security.protocol", self.protocol.as_str().to_owned())];
        if self.protocol.sasl()
            && let Some(m) = self.mechanism
        {
            props.push(("sasl.mechanism", m.as_str().to_owned()));
        }
        if self.protocol.tls() {
            // The vendored OpenSSL's default directory is not the system's: without a
            // CA file, librdkafka looks for the system's CA bundle ("probe").
            let ca = self
                .ssl_ca_file
                .as_ref()
                .map_or_else(|| "probe".to_owned(), |p| p.display().to_string());
            props.push(("ssl.ca.location", ca));
            if let Some(cert) = &self.ssl_cert_file {
                props.push(("ssl.certificate.location", cert.display().to_string()));
            }
            if let Some(key) = &self.ssl_key_file {
                props.push(("ssl.key.location", key.display().to_string()));
            }
            let algorithm = if self.verify_hostname {
                "https"
            } else {
                "none"
            };
            props.push((
                "ssl.endpoint.identification.algorithm",
                algorithm.to_owned(),
            ));
        }
        props
    }

    /// The SASL user name and password, when the mechanism uses them.
    fn secret_properties(&self) -> Vec<(&'static str, &Secret)> {
        let mut props = Vec::new();
        if self.protocol.sasl() && self.mechanism.is_some_and(SaslMechanism::uses_password) {
            if let Some(u) = &self.username {
                props.push(("sasl.username", &u.secret));
            }
            if let Some(p) = &self.password {
                props.push(("sasl.password", &p.secret));
            }
        }
        props
    }

    /// Sets every security property on `config`, secrets included.
    pub fn apply(&self, config: &mut ClientConfig) {
        for (k, v) in self.properties() {
            config.set(k, v);
        }
        self.apply_secrets(config);
    }

    /// Sets only the secrets (the rest came with [`Self::properties`]).
    pub fn apply_secrets(&self, config: &mut ClientConfig) {
        for (k, v) in self.secret_properties() {
            config.set(k, v.expose());
        }
    }

    /// A configuration for `brokers` connecting with these settings: where every spate
    /// client's configuration starts (the dead-letter producer and its admin client, the
    /// loadgen, the tests' clients; the consumer adds its own properties first).
    pub fn client_config(&self, brokers: &str) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", brokers);
        self.apply(&mut config);
        config
    }

    /// Where an OAUTHBEARER client takes its token from, when it is one.
    pub fn token_source(&self) -> Option<TokenSource> {
        if !self.protocol.sasl() || self.mechanism != Some(SaslMechanism::OAuthBearer) {
            return None;
        }
        self.oauth_token.clone().map(TokenSource::new)
    }

    /// The files this configuration was read from, by setting key: a change in one of
    /// them means the process must restart to use it.
    pub fn files(&self) -> Vec<(&'static str, PathBuf)> {
        let credentials = [
            ("kafka.sasl_username_file", &self.username),
            ("kafka.sasl_password_file", &self.password),
            ("kafka.oauthbearer_token_file", &self.oauth_token),
        ];
        let tls = [
            ("kafka.ssl_ca_file", &self.ssl_ca_file),
            ("kafka.ssl_cert_file", &self.ssl_cert_file),
            ("kafka.ssl_key_file", &self.ssl_key_file),
        ];
        credentials
            .into_iter()
            .filter_map(|(k, c)| Some((k, c.as_ref()?.file.clone()?)))
            .chain(tls.into_iter().filter_map(|(k, p)| Some((k, p.clone()?))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scram() -> KafkaSecurity {
        KafkaSecurity {
            protocol: SecurityProtocol::SaslSsl,
            mechanism: Some(SaslMechanism::ScramSha512),
            username: Some(Credential::value("alice")),
            password: Some(Credential::value("pa,ss;w=rd")),
            ..KafkaSecurity::default()
        }
    }

    fn get<'a>(props: &'a [(&'static str, String)], key: &str) -> Option<&'a str> {
        props
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn plaintext_is_the_default_and_sets_only_the_protocol() {
        let s = KafkaSecurity::default();
        assert_eq!(s.problems(), vec![]);
        assert_eq!(
            s.properties(),
            vec![("security.protocol", "PLAINTEXT".to_owned())]
        );
    }

    #[test]
    fn names_are_read_without_case_and_unknown_ones_list_the_choices() {
        assert_eq!("sasl_ssl".parse(), Ok(SecurityProtocol::SaslSsl));
        assert_eq!("scram-sha-512".parse(), Ok(SaslMechanism::ScramSha512));
        let e = "GSSAPI".parse::<SaslMechanism>().unwrap_err();
        assert_eq!(
            e.choices,
            "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER"
        );
    }

    #[test]
    fn sasl_ssl_with_scram_verifies_the_host_and_probes_the_system_cas() {
        let props = scram().properties();
        assert_eq!(get(&props, "security.protocol"), Some("SASL_SSL"));
        assert_eq!(get(&props, "sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(get(&props, "ssl.ca.location"), Some("probe"));
        assert_eq!(
            get(&props, "ssl.endpoint.identification.algorithm"),
            Some("https")
        );
        assert_eq!(
            get(&props, "sasl.password"),
            None,
            "secrets are set by apply only"
        );
        assert_eq!(scram().problems(), vec![]);
    }

    #[test]
    fn apply_sets_the_secret_exactly_as_given() {
        let mut config = ClientConfig::new();
        scram().apply(&mut config);
        assert_eq!(config.get("sasl.password"), Some("pa,ss;w=rd"));
        assert_eq!(config.get("sasl.username"), Some("alice"));
    }

    #[test]
    fn mutual_tls_names_the_files_and_hostname_checks_can_be_turned_off() {
        let s = KafkaSecurity {
            protocol: SecurityProtocol::Ssl,
            ssl_ca_file: Some("/tls/ca.crt".into()),
            ssl_cert_file: Some("/tls/client.crt".into()),
            ssl_key_file: Some("/tls/client.key".into()),
            verify_hostname: false,
            ..KafkaSecurity::default()
        };
        let props = s.properties();
        assert_eq!(get(&props, "ssl.ca.location"), Some("/tls/ca.crt"));
        assert_eq!(
            get(&props, "ssl.certificate.location"),
            Some("/tls/client.crt")
        );
        assert_eq!(get(&props, "ssl.key.location"), Some("/tls/client.key"));
        assert_eq!(
            get(&props, "ssl.endpoint.identification.algorithm"),
            Some("none")
        );
        assert_eq!(get(&props, "sasl.mechanism"), None);
        assert_eq!(s.problems(), vec![]);
    }

    #[test]
    fn plain_over_sasl_plaintext_is_refused_unless_allowed() {
        let mut s = KafkaSecurity {
            protocol: SecurityProtocol::SaslPlaintext,
            mechanism: Some(SaslMechanism::Plain),
            ..scram()
        };
        let problems = s.problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].setting, "kafka.sasl_mechanism");
        assert!(
            problems[0].reason.contains("cleartext"),
            "{}",
            problems[0].reason
        );
        s.allow_plaintext_password = true;
        assert_eq!(s.problems(), vec![]);
        s.mechanism = Some(SaslMechanism::ScramSha256);
        s.allow_plaintext_password = false;
        assert_eq!(s.problems(), vec![], "SCRAM never sends the password");
    }

    #[test]
    fn a_mechanism_needs_its_credentials_and_no_others() {
        let s = KafkaSecurity {
            password: None,
            oauth_token: Some(Credential::value("t")),
            ..scram()
        };
        let problems: Vec<_> = s.problems().into_iter().map(|p| p.setting).collect();
        assert_eq!(
            problems,
            vec!["kafka.sasl_password", "kafka.oauthbearer_token"]
        );
        let s = KafkaSecurity {
            protocol: SecurityProtocol::SaslSsl,
            ..KafkaSecurity::default()
        };
        assert_eq!(s.problems()[0].setting, "kafka.sasl_mechanism");
    }

    #[test]
    fn sasl_and_tls_settings_without_their_protocol_are_refused() {
        let s = KafkaSecurity {
            protocol: SecurityProtocol::Plaintext,
            ssl_ca_file: Some("/ca".into()),
            ..scram()
        };
        let problems: Vec<_> = s.problems().into_iter().map(|p| p.setting).collect();
        assert_eq!(
            problems,
            vec![
                "kafka.sasl_mechanism",
                "kafka.sasl_username",
                "kafka.sasl_password",
                "kafka.ssl_ca_file"
            ]
        );
    }

    #[test]
    fn a_client_certificate_needs_its_key() {
        let s = KafkaSecurity {
            protocol: SecurityProtocol::Ssl,
            ssl_cert_file: Some("/c".into()),
            ..KafkaSecurity::default()
        };
        assert_eq!(s.problems()[0].setting, "kafka.ssl_key_file");
    }

    #[test]
    fn secret_options_are_known_by_name() {
        assert!(is_secret_option("sasl.password"));
        assert!(is_secret_option(" sasl.oauthbearer.config "));
        assert!(!is_secret_option("security.protocol"));
    }

    #[test]
    fn the_watched_files_are_the_credential_and_tls_files() {
        let s = KafkaSecurity {
            protocol: SecurityProtocol::SaslSsl,
            password: Some(Credential {
                secret: Secret::new("p"),
                file: Some("/s/password".into()),
            }),
            ssl_ca_file: Some("/s/ca.crt".into()),
            ..scram()
        };
        assert_eq!(
            s.files(),
            vec![
                ("kafka.sasl_password_file", PathBuf::from("/s/password")),
                ("kafka.ssl_ca_file", PathBuf::from("/s/ca.crt")),
            ]
        );
    }
}
