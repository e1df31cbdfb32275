//! The Kafka security settings as command-line flags with the consumer's environment
//! variables (clap `env`), for spate's tools (the loadgen); they resolve into the same
//! [`KafkaSecurity`] the consumer uses.

use std::path::PathBuf;

use clap::ArgAction;

use super::kafka::{KafkaSecurity, SaslMechanism, SecurityProtocol};
use super::secret::Credential;

/// Kafka security flags; each also read from the consumer's variable of the same name.
#[derive(Debug, Clone, clap::Args)]
pub struct KafkaSecurityArgs {
    /// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    #[arg(
        long,
        env = "SPATE_KAFKA_SECURITY_PROTOCOL",
        default_value = "PLAINTEXT"
    )]
    pub security_protocol: String,
    /// PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER.
    #[arg(long, env = "SPATE_KAFKA_SASL_MECHANISM")]
    pub sasl_mechanism: Option<String>,
    /// SASL user name.
    #[arg(long, env = "SPATE_KAFKA_SASL_USERNAME", hide_env_values = true)]
    pub sasl_username: Option<String>,
    /// File holding the SASL user name (its exact bytes).
    #[arg(long, env = "SPATE_KAFKA_SASL_USERNAME_FILE")]
    pub sasl_username_file: Option<String>,
    /// SASL password (prefer the file: a flag shows in the process list).
    #[arg(long, env = "SPATE_KAFKA_SASL_PASSWORD", hide_env_values = true)]
    pub sasl_password: Option<String>,
    /// File holding the SASL password (its exact bytes).
    #[arg(long, env = "SPATE_KAFKA_SASL_PASSWORD_FILE")]
    pub sasl_password_file: Option<String>,
    /// OAUTHBEARER token.
    #[arg(long, env = "SPATE_KAFKA_OAUTHBEARER_TOKEN", hide_env_values = true)]
    pub oauthbearer_token: Option<String>,
    /// File holding the OAUTHBEARER token, read again at every refresh.
    #[arg(long, env = "SPATE_KAFKA_OAUTHBEARER_TOKEN_FILE")]
    pub oauthbearer_token_file: Option<String>,
    /// PEM file of the CA certificates to trust [default: the system's].
    #[arg(long, env = "SPATE_KAFKA_SSL_CA_FILE")]
    pub ssl_ca_file: Option<PathBuf>,
    /// PEM file of the client certificate (mutual TLS).
    #[arg(long, env = "SPATE_KAFKA_SSL_CERT_FILE")]
    pub ssl_cert_file: Option<PathBuf>,
    /// PEM file of the client certificate's key.
    #[arg(long, env = "SPATE_KAFKA_SSL_KEY_FILE")]
    pub ssl_key_file: Option<PathBuf>,
    /// Check that the broker's certificate names its host.
    #[arg(long, env = "SPATE_KAFKA_SSL_VERIFY_HOSTNAME", default_value_t = true, action = ArgAction::Set)]
    pub ssl_verify_hostname: bool,
    /// Accept PLAIN over SASL_PLAINTEXT, which sends the password in cleartext.
    #[arg(long, env = "SPATE_KAFKA_ALLOW_PLAINTEXT_PASSWORD", default_value_t = false, action = ArgAction::Set)]
    pub allow_plaintext_password: bool,
}

impl KafkaSecurityArgs {
    /// The settings, or every problem (`setting: reason`, never a secret).
    pub fn resolve(&self) -> Result<KafkaSecurity, Vec<String>> {
        let mut errors = Vec::new();
        let protocol = self
            .security_protocol
            .parse::<SecurityProtocol>()
            .map_err(|e| errors.push(format!("kafka.security_protocol: {e}")))
            .unwrap_or_default();
        let mechanism = self.sasl_mechanism.as_deref().and_then(|m| {
            m.parse::<SaslMechanism>()
                .map_err(|e| errors.push(format!("kafka.sasl_mechanism: {e}")))
                .ok()
        });
        let mut credential = |key: &str, value: &Option<String>, file: &Option<String>| {
            Credential::value_or_file(value.clone(), file.as_deref())
                .map_err(|e| errors.push(format!("{key}: {e}")))
                .ok()
                .flatten()
        };
        let username = credential(
            "kafka.sasl_username",
            &self.sasl_username,
            &self.sasl_username_file,
        );
        let password = credential(
            "kafka.sasl_password",
            &self.sasl_password,
            &self.sasl_password_file,
        );
        let oauth_token = credential(
            "kafka.oauthbearer_token",
            &self.oauthbearer_token,
            &self.oauthbearer_token_file,
        );
        let security = KafkaSecurity {
            protocol,
            mechanism,
            username,
            password,
            oauth_token,
            ssl_ca_file: self.ssl_ca_file.clone(),
            ssl_cert_file: self.ssl_cert_file.clone(),
            ssl_key_file: self.ssl_key_file.clone(),
            verify_hostname: self.ssl_verify_hostname,
            allow_plaintext_password: self.allow_plaintext_password,
        };
        errors.extend(
            security
                .problems()
                .into_iter()
                .map(|p| format!("{}: {}", p.setting, p.reason)),
        );
        if errors.is_empty() {
            Ok(security)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        security: KafkaSecurityArgs,
    }

    #[test]
    fn flags_resolve_to_the_consumer_s_settings() {
        let cli = Cli::try_parse_from([
            "t",
            "--security-protocol",
            "sasl_ssl",
            "--sasl-mechanism",
            "SCRAM-SHA-512",
            "--sasl-username",
            "u",
            "--sasl-password",
            "p,w;d",
            "--ssl-verify-hostname",
            "false",
        ])
        .unwrap();
        let s = cli.security.resolve().unwrap();
        assert_eq!(s.protocol, SecurityProtocol::SaslSsl);
        assert_eq!(s.password.unwrap().secret.expose(), "p,w;d");
        assert!(!s.verify_hostname);
    }

    #[test]
    fn problems_name_settings_and_never_the_secret() {
        let cli = Cli::try_parse_from([
            "t",
            "--security-protocol",
            "SASL_PLAINTEXT",
            "--sasl-mechanism",
            "PLAIN",
            "--sasl-username",
            "u",
            "--sasl-password",
            "hunter2",
        ])
        .unwrap();
        let errors = cli.security.resolve().unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("kafka.sasl_mechanism: PLAIN over SASL_PLAINTEXT"));
        assert!(!errors[0].contains("hunter2"));
    }
}
