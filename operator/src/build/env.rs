//! The consumer's configuration (its environment variables and the files it reads) for a
//! pipeline.
//!
//! Plain settings go to the ConfigMap (`envFrom`). Secret values never pass through a
//! string the operator builds: each credential is a file the kubelet mounts from the
//! user's Secret into the pod, and the consumer is told the file's path
//! (`SPATE_KAFKA_SASL_PASSWORD_FILE=…`), so any character works, a rotated Secret reaches
//! the pod, and nothing secret lands in the ConfigMap, the Deployment or a log.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::EnvVar;

use super::names::METRICS_PORT;
use crate::crd::{IngestionPipeline, SaslMechanism, SecurityProtocol};
use crate::validate::ValidPipeline;

/// Where the pod's credential files are mounted.
pub const CREDENTIALS_DIR: &str = "/var/run/secrets/spate";

/// The audience of the tokens the control endpoint accepts.
pub const CONTROL_AUDIENCE: &str = "spate.dev/control";

/// What the consumers trust on their control endpoint: ServiceAccount tokens of this
/// cluster's issuer (its public keys, a JWKS document) for [`CONTROL_AUDIENCE`], from
/// the operator's ServiceAccount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlTrust {
    /// The service-account issuer (`iss` of its tokens).
    pub issuer: String,
    /// The issuer's JWKS document.
    pub jwks: String,
    /// `system:serviceaccount:<namespace>:<name>` of the operator.
    pub subject: String,
}

/// Where a mounted file comes from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FileSource {
    /// A key of a Secret in the pipeline's namespace.
    Secret { name: String, key: String },
    /// A key of a ConfigMap in the pipeline's namespace.
    ConfigMap { name: String, key: String },
}

/// A file the kubelet mounts into the consumer's container.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MountedFile {
    /// Its path below [`CREDENTIALS_DIR`].
    pub path: String,
    /// Where its content comes from.
    pub source: FileSource,
}

impl MountedFile {
    fn secret(path: &str, name: &str, key: &str) -> Self {
        Self {
            path: path.into(),
            source: FileSource::Secret {
                name: name.into(),
                key: key.into(),
            },
        }
    }

    /// Its absolute path in the container.
    pub fn absolute(&self) -> String {
        format!("{CREDENTIALS_DIR}/{}", self.path)
    }
}

/// The consumer's environment for one pipeline.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ConsumerEnv {
    /// Plain settings: the ConfigMap's data.
    pub config: BTreeMap<String, String>,
    /// Settings of the container's own `env` (none today: everything is in the
    /// ConfigMap or a mounted file).
    pub env: Vec<EnvVar>,
    /// Credential files mounted from Secrets (and a CA bundle, possibly from a ConfigMap).
    pub files: Vec<MountedFile>,
}

/// The security protocol a pipeline's consumers speak to the brokers.
pub fn security_protocol(pipeline: &IngestionPipeline) -> &'static str {
    let source = &pipeline.spec.source;
    match (&source.credentials, &source.tls) {
        (Some(c), _) => match c.security_protocol {
            SecurityProtocol::SaslSsl => "SASL_SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
        },
        (None, Some(_)) => "SSL",
        (None, None) => "PLAINTEXT",
    }
}

/// The environment variable of the consumer's setting `key`, from the consumer's own
/// settings table: the operator writes no variable the consumer does not define.
fn var(key: &str) -> &'static str {
    spate_consumer::config::Setting::find(key)
        .unwrap_or_else(|| panic!("the consumer has no setting {key}"))
        .env
}

/// Builds the consumer's environment for a pipeline; `control` is what its control
/// endpoint trusts (closed when `None`).
pub fn consumer_env(valid: &ValidPipeline, control: Option<&ControlTrust>) -> ConsumerEnv {
    let pipeline = valid.pipeline();
    let spec = &pipeline.spec;
    let mut config = BTreeMap::new();
    let mut files = Vec::new();
    let mut put = |k: &str, v: String| {
        config.insert(k.to_string(), v);
    };

    put(var("kafka.brokers"), spec.source.bootstrap_servers.clone());
    put(var("kafka.topics"), spec.source.topics.join(","));
    put(var("kafka.group_id"), valid.group_id().into());
    if let Some(dlq) = &spec.source.dead_letter_topic {
        put(var("kafka.dead_letter_topic"), dlq.clone());
    }
    if let Some(protocol) = spec.source.group_protocol {
        put(var("kafka.group_protocol"), protocol.as_str().into());
    }
    if !spec.source.client_options.is_empty() {
        let options: Vec<String> = spec
            .source
            .client_options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        put(var("kafka.options"), options.join(","));
    }

    // Kafka security: the protocol and mechanism in the ConfigMap, the secrets as files.
    put(
        var("kafka.security_protocol"),
        security_protocol(pipeline).into(),
    );
    if let Some(creds) = &spec.source.credentials {
        let secret = &creds.secret_ref.name;
        put(var("kafka.sasl_mechanism"), creds.mechanism.as_str().into());
        let mut mount = |setting: &str, path: &str, key: &str| {
            let file = MountedFile::secret(path, secret, key);
            put(setting, file.absolute());
            files.push(file);
        };
        if creds.mechanism == SaslMechanism::OAuthBearer {
            mount(
                var("kafka.oauthbearer_token_file"),
                "kafka/token",
                &creds.token_key,
            );
        } else {
            mount(
                var("kafka.sasl_username_file"),
                "kafka/username",
                &creds.secret_ref.username_key,
            );
            mount(
                var("kafka.sasl_password_file"),
                "kafka/password",
                &creds.secret_ref.password_key,
            );
        }
        if creds.allow_plaintext_password {
            put(var("kafka.allow_plaintext_password"), "true".into());
        }
    }
    if let Some(tls) = &spec.source.tls {
        let ca_source =
            tls.ca
                .as_ref()
                .and_then(|ca| match (&ca.secret_name, &ca.config_map_name) {
                    (Some(name), _) => Some(FileSource::Secret {
                        name: name.clone(),
                        key: ca.key.clone(),
                    }),
                    (None, Some(name)) => Some(FileSource::ConfigMap {
                        name: name.clone(),
                        key: ca.key.clone(),
                    }),
                    (None, None) => None,
                });
        if let Some(source) = ca_source {
            let file = MountedFile {
                path: "kafka-tls/ca.crt".into(),
                source,
            };
            put(var("kafka.ssl_ca_file"), file.absolute());
            files.push(file);
        }
        if let Some(client) = &tls.client_certificate {
            for (setting, path, key) in [
                (
                    var("kafka.ssl_cert_file"),
                    "kafka-tls/tls.crt",
                    &client.certificate_key,
                ),
                (
                    var("kafka.ssl_key_file"),
                    "kafka-tls/tls.key",
                    &client.key_key,
                ),
            ] {
                let file = MountedFile::secret(path, &client.secret_name, key);
                put(setting, file.absolute());
                files.push(file);
            }
        }
        put(
            var("kafka.ssl_verify_hostname"),
            tls.verify_hostname.to_string(),
        );
    }

    // QuestDB: the configuration without credentials, the credentials as files.
    put(var("questdb.client_conf"), valid.questdb_conf().into());
    if let Some(creds) = &spec.sink.credentials {
        let secret = &creds.secret_ref.name;
        let mut mount = |setting: &str, path: &str, key: &str| {
            let file = MountedFile::secret(path, secret, key);
            put(setting, file.absolute());
            files.push(file);
        };
        if creds.token {
            mount(
                var("questdb.token_file"),
                "questdb/token",
                &creds.secret_ref.password_key,
            );
        } else {
            mount(
                var("questdb.username_file"),
                "questdb/username",
                &creds.secret_ref.username_key,
            );
            mount(
                var("questdb.password_file"),
                "questdb/password",
                &creds.secret_ref.password_key,
            );
        }
    }
    if let Some(url) = &spec.sink.http_url {
        put(var("questdb.http_url"), url.clone());
    }
    if spec.sink.allow_lossy_tcp {
        put(var("questdb.allow_lossy_tcp"), "true".into());
    }
    put(var("questdb.table"), spec.sink.table.clone());

    put(var("workers.initial"), valid.initial_workers().to_string());
    put(var("workers.max"), valid.workers().max.to_string());
    put(var("input_format"), spec.format.as_str().into());

    let tuning = &spec.tuning;
    for (key, value) in [
        (var("batch.initial"), tuning.batch_initial),
        (var("batch.min"), tuning.batch_min),
        (var("batch.max"), tuning.batch_max),
        (var("batch.linger_ms"), tuning.linger_ms),
    ] {
        if let Some(v) = value {
            put(key, v.to_string());
        }
    }
    put(
        var("shutdown_grace_secs"),
        tuning.shutdown_grace_seconds.to_string(),
    );
    put(var("log_format"), tuning.log_format.clone());
    put(var("server.listen"), format!("0.0.0.0:{METRICS_PORT}"));
    // Exported by the consumer as gauges, so the alert rules judge each pipeline by its own.
    let targets = &spec.autoscaling.targets;
    put(var("targets.latency_ms"), targets.latency_ms.to_string());
    put(var("targets.lag_seconds"), targets.lag_seconds.to_string());

    // The control endpoint: the operator's ServiceAccount tokens, checked offline.
    if let Some(trust) = control {
        put(var("server.control_jwks"), trust.jwks.clone());
        put(var("server.control_issuer"), trust.issuer.clone());
        put(var("server.control_audience"), CONTROL_AUDIENCE.into());
        put(var("server.control_subjects"), trust.subject.clone());
    }
    files.sort();
    ConsumerEnv {
        config,
        env: Vec::new(),
        files,
    }
}
