//! How the operator's own lag reader connects to a pipeline's brokers. It applies only
//! the connection settings of `source.clientOptions` (an allowlist: nothing that names
//! files, runs commands or changes security), TLS from `source.tls`, and the pipeline's
//! credentials only when `source.shareCredentialsWithOperator` says so. Pure: the
//! Secrets' and ConfigMaps' contents come in as values.

use crate::build::security_protocol;
use crate::crd::{IngestionPipeline, SaslMechanism};

/// The `clientOptions` keys the lag reader applies: timeouts, backoffs, addressing.
pub const ALLOWED_OPTIONS: &[&str] = &[
    "client.id",
    "client.rack",
    "broker.address.family",
    "socket.timeout.ms",
    "socket.connection.setup.timeout.ms",
    "socket.keepalive.enable",
    "metadata.max.age.ms",
    "topic.metadata.refresh.interval.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "request.timeout.ms",
    "api.version.request",
    "api.version.fallback.ms",
    "broker.version.fallback",
];

/// What the reader needs from Secrets and ConfigMaps, when it may have them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Material {
    /// The CA bundle (PEM).
    pub ca_pem: Option<String>,
    /// The client certificate and key (PEM).
    pub client_pem: Option<(String, String)>,
    /// SASL user name and password.
    pub sasl: Option<(String, String)>,
}

/// librdkafka properties of the lag reader (besides the brokers and the group).
pub fn reader_options(p: &IngestionPipeline, material: &Material) -> Vec<(String, String)> {
    let src = &p.spec.source;
    let mut options: Vec<(String, String)> = src
        .client_options
        .iter()
        .filter(|(k, _)| ALLOWED_OPTIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let protocol = security_protocol(p);
    options.push(("security.protocol".into(), protocol.into()));
    if protocol.ends_with("SSL") {
        match &material.ca_pem {
            Some(pem) => options.push(("ssl.ca.pem".into(), pem.clone())),
            None => options.push(("ssl.ca.location".into(), "probe".into())),
        }
        let verify = src.tls.as_ref().is_none_or(|t| t.verify_hostname);
        options.push((
            "ssl.endpoint.identification.algorithm".into(),
            if verify { "https" } else { "none" }.into(),
        ));
        if let Some((cert, key)) = &material.client_pem {
            options.push(("ssl.certificate.pem".into(), cert.clone()));
            options.push(("ssl.key.pem".into(), key.clone()));
        }
    }
    if let Some(creds) = &src.credentials {
        options.push(("sasl.mechanism".into(), creds.mechanism.as_str().into()));
        if let (Some((user, password)), false) = (
            &material.sasl,
            creds.mechanism == SaslMechanism::OAuthBearer,
        ) {
            options.push(("sasl.username".into(), user.clone()));
            options.push(("sasl.password".into(), password.clone()));
        }
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::tests::example;

    #[test]
    fn only_connection_options_reach_the_operators_own_client() {
        let mut p = example();
        p.spec.source.client_options = [
            ("socket.timeout.ms".to_string(), "5000".to_string()),
            ("ssl.ca.location".to_string(), "/etc/passwd".to_string()),
            (
                "plugin.library.paths".to_string(),
                "/tmp/evil.so".to_string(),
            ),
            (
                "sasl.kerberos.kinit.cmd".to_string(),
                "rm -rf /".to_string(),
            ),
        ]
        .into();
        let options = reader_options(&p, &Material::default());
        assert!(options.contains(&("socket.timeout.ms".into(), "5000".into())));
        for (k, v) in &options {
            assert!(
                !v.contains("/etc/passwd") && !v.contains("evil") && !v.contains("rm -rf"),
                "{k}={v}"
            );
        }
    }

    #[test]
    fn credentials_are_used_only_when_given() {
        let mut p = example();
        p.spec.source.credentials = Some(
            serde_json::from_value(serde_json::json!({
                "secretRef": {"name": "kafka-user"}, "mechanism": "SCRAM-SHA-512"
            }))
            .expect("credentials"),
        );
        let without = reader_options(&p, &Material::default());
        assert!(without.iter().all(|(k, _)| k != "sasl.password"));
        assert!(without.contains(&("security.protocol".into(), "SASL_SSL".into())));
        assert!(without.contains(&("ssl.ca.location".into(), "probe".into())));
        let with = reader_options(
            &p,
            &Material {
                sasl: Some(("u".into(), "p,;=".into())),
                ..Material::default()
            },
        );
        assert!(with.contains(&("sasl.password".into(), "p,;=".into())));
    }
}
