//! The security settings: Kafka's protocol, SASL credentials and TLS files, QuestDB's
//! credentials. Each secret is a value or a file, never both, and never quoted in an
//! error.

use std::path::PathBuf;

use super::{Resolver, boolean, default};
use crate::config::{Setting, setting};
use crate::security::kafka::{SaslMechanism, SecurityProtocol};
use crate::security::{Credential, CredentialError, KafkaSecurity, QuestdbAuth};

impl<E: Fn(&str) -> Option<String>> Resolver<'_, E> {
    /// The credential of `value_key` or of `file_key` (its exact bytes), not both.
    fn credential(&mut self, value_key: &str, file_key: &str) -> Option<Credential> {
        let value = self.sources.raw(setting(value_key));
        let file = self.sources.raw(setting(file_key));
        let path = file.as_ref().map(|(_, p)| p.trim().to_owned());
        match Credential::value_or_file(value.map(|(_, v)| v), path.as_deref()) {
            Ok(c) => c,
            Err(CredentialError::ValueAndFile) => {
                self.fail(
                    value_key,
                    format!("set either {value_key} or {file_key}, not both"),
                );
                None
            }
            Err(e) => {
                let key = if file.is_some() { file_key } else { value_key };
                self.fail(key, e.to_string());
                None
            }
        }
    }

    /// A problem of the credential `key`, reported on `<key>_file` when that is where
    /// the credential came from (so the error names the variable that was set).
    fn fail_credential(&mut self, key: &str, reason: String) {
        let file_key = format!("{key}_file");
        let from_file = self.sources.raw(setting(key)).is_none()
            && Setting::find(&file_key).is_some()
            && self.sources.raw(setting(&file_key)).is_some();
        self.fail(if from_file { &file_key } else { key }, reason);
    }

    /// A path to a file that can be read now.
    fn readable_file(&mut self, key: &str) -> Option<PathBuf> {
        self.opt(key, |s| {
            std::fs::File::open(s)
                .map(|_| PathBuf::from(s))
                .map_err(|e| format!("cannot read {s}: {}", e.kind()))
        })
    }
}

/// `name` parsed as a `T`, the error listing the choices.
fn named<T: std::str::FromStr<Err = crate::security::kafka::UnknownName>>(
    s: &str,
) -> Result<T, String> {
    s.parse()
        .map_err(|e: crate::security::kafka::UnknownName| e.to_string())
}

/// The value `key` has among the free-form options, if any.
fn option<'o>(options: &'o [(String, String)], keys: &[&str]) -> Option<&'o str> {
    options
        .iter()
        .rev()
        .find(|(k, _)| keys.contains(&k.as_str()))
        .map(|(_, v)| v.as_str())
}

/// Kafka's security settings; `security.protocol` and `sasl.mechanism` given among the
/// free-form options count as set there (and must agree with the settings).
pub(super) fn kafka_security<E: Fn(&str) -> Option<String>>(
    r: &mut Resolver<'_, E>,
    options: &[(String, String)],
) -> KafkaSecurity {
    let mut protocol = r.opt("kafka.security_protocol", named::<SecurityProtocol>);
    let mut mechanism = r.opt("kafka.sasl_mechanism", named::<SaslMechanism>);
    for (key, names, value) in [
        (
            "kafka.security_protocol",
            &["security.protocol"][..],
            protocol.map(|p| p.as_str()),
        ),
        (
            "kafka.sasl_mechanism",
            &["sasl.mechanism", "sasl.mechanisms"][..],
            mechanism.map(|m| m.as_str()),
        ),
    ] {
        let Some(given) = option(options, names) else {
            continue;
        };
        match value {
            Some(v) if !v.eq_ignore_ascii_case(given) => r.fail(
                key,
                format!("{v} differs from {}={given} in kafka.options", names[0]),
            ),
            Some(_) => {}
            None if key == "kafka.security_protocol" => match named::<SecurityProtocol>(given) {
                Ok(p) => protocol = Some(p),
                Err(e) => r.fail("kafka.options", format!("security.protocol {e}")),
            },
            None => match named::<SaslMechanism>(given) {
                Ok(m) => mechanism = Some(m),
                Err(e) => r.fail("kafka.options", format!("sasl.mechanism {e}")),
            },
        }
    }
    let security = KafkaSecurity {
        protocol: protocol
            .unwrap_or_else(|| default("kafka.security_protocol", named::<SecurityProtocol>)),
        mechanism,
        username: r.credential("kafka.sasl_username", "kafka.sasl_username_file"),
        password: r.credential("kafka.sasl_password", "kafka.sasl_password_file"),
        oauth_token: r.credential("kafka.oauthbearer_token", "kafka.oauthbearer_token_file"),
        ssl_ca_file: r.readable_file("kafka.ssl_ca_file"),
        ssl_cert_file: r.readable_file("kafka.ssl_cert_file"),
        ssl_key_file: r.readable_file("kafka.ssl_key_file"),
        verify_hostname: r.get("kafka.ssl_verify_hostname", boolean),
        allow_plaintext_password: r.get("kafka.allow_plaintext_password", boolean),
    };
    for p in security.problems() {
        r.fail_credential(p.setting, p.reason);
    }
    security
}

/// QuestDB's credentials.
pub(super) fn questdb_auth<E: Fn(&str) -> Option<String>>(r: &mut Resolver<'_, E>) -> QuestdbAuth {
    let auth = QuestdbAuth {
        username: r.credential("questdb.username", "questdb.username_file"),
        password: r.credential("questdb.password", "questdb.password_file"),
        token: r.credential("questdb.token", "questdb.token_file"),
    };
    for p in auth.problems() {
        r.fail_credential(p.setting, p.reason);
    }
    auth
}
