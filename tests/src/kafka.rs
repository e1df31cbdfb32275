//! Kafka helpers: client configuration for each listener of the local broker (through
//! spate's own security builder), topic creation and SCRAM users.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use spate_consumer::security::{
    Credential, KafkaSecurity, SaslMechanism, SecureContext, SecurityProtocol,
};

use crate::{Error, TestEnv, eventually};

/// A client configuration with the local broker as bootstrap server; add the producer or
/// consumer settings a test needs.
pub fn kafka_config() -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &TestEnv::get().kafka_brokers);
    config
}

/// Creates `topic` with `partitions` partitions (one replica) and waits until every
/// partition has a leader, so producers and consumers can use it at once.
pub async fn create_topic(topic: &str, partitions: i32) -> Result<(), Error> {
    let failed = |reason: String| Error::CreateTopic {
        topic: topic.to_owned(),
        reason,
    };
    let admin: AdminClient<DefaultClientContext> =
        kafka_config().create().map_err(|e| failed(e.to_string()))?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .map_err(|e| failed(e.to_string()))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(failed(code.to_string())),
        }
    }
    let want = usize::try_from(partitions).unwrap_or_default();
    eventually(
        &format!("leaders of topic {topic}"),
        Duration::from_secs(30),
        || async {
            let metadata = admin
                .inner()
                .fetch_metadata(Some(topic), Duration::from_secs(5))
                .map_err(|e| e.to_string())?;
            let led = metadata
                .topics()
                .iter()
                .filter(|t| t.name() == topic && t.error().is_none())
                .flat_map(|t| t.partitions())
                .filter(|p| p.error().is_none() && p.leader() >= 0)
                .count();
            if led == want {
                Ok(())
            } else {
                Err(format!("{led} of {want} partitions have a leader"))
            }
        },
    )
    .await
}

/// A listener of the local broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// No TLS, no authentication (`KAFKA_BROKERS`).
    Plaintext,
    /// TLS and SASL with the environment's user for the mechanism: the SCRAM user, the
    /// PLAIN user, or the OAUTHBEARER token file (`KAFKA_SASL_SSL_BROKERS`).
    SaslSsl(SaslMechanism),
    /// TLS with the environment's client certificate (`KAFKA_SSL_BROKERS`).
    Ssl,
}

/// The bootstrap servers of `listener` and the settings that connect to it as the
/// environment's user, the way spate's own clients are configured.
pub fn listener_security(listener: Listener) -> (String, KafkaSecurity) {
    let env = TestEnv::get();
    let var = |k: &str| env.kafka_var(k).to_owned();
    let tls = |protocol| KafkaSecurity {
        protocol,
        ssl_ca_file: Some(var("KAFKA_CA_FILE").into()),
        ..KafkaSecurity::default()
    };
    match listener {
        Listener::Plaintext => (env.kafka_brokers.clone(), KafkaSecurity::default()),
        Listener::Ssl => (
            var("KAFKA_SSL_BROKERS"),
            KafkaSecurity {
                ssl_cert_file: Some(var("KAFKA_CLIENT_CERT_FILE").into()),
                ssl_key_file: Some(var("KAFKA_CLIENT_KEY_FILE").into()),
                ..tls(SecurityProtocol::Ssl)
            },
        ),
        Listener::SaslSsl(mechanism) => {
            let mut security = KafkaSecurity {
                mechanism: Some(mechanism),
                ..tls(SecurityProtocol::SaslSsl)
            };
            match mechanism {
                SaslMechanism::OAuthBearer => {
                    security.oauth_token = Some(
                        Credential::from_file(var("KAFKA_OAUTH_TOKEN_FILE")).expect("token file"),
                    );
                }
                SaslMechanism::Plain => {
                    security.username = Some(Credential::value(var("KAFKA_PLAIN_USER")));
                    security.password = Some(Credential::value(var("KAFKA_PLAIN_PASSWORD")));
                }
                SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
                    security.username = Some(Credential::value(var("KAFKA_SCRAM_USER")));
                    security.password = Some(Credential::value(var("KAFKA_SCRAM_PASSWORD")));
                }
            }
            (var("KAFKA_SASL_SSL_BROKERS"), security)
        }
    }
}

/// A client configuration that reaches the local broker through `listener`, built by
/// spate's own builder; add the producer or consumer settings a test needs.
pub fn kafka_config_for(listener: Listener) -> (ClientConfig, SecureContext) {
    let (brokers, security) = listener_security(listener);
    (
        security.client_config(&brokers),
        SecureContext::new(&security, None),
    )
}

/// Creates (or updates) the SCRAM user `user` with `password`, any characters, for each
/// of `mechanisms`, through Kafka's Admin API (`tests/env/kafka/ScramUser.java` over the
/// PLAINTEXT listener; the password goes through standard input, never the command
/// line).
pub fn create_scram_user(
    user: &str,
    password: &str,
    mechanisms: &[SaslMechanism],
) -> Result<(), Error> {
    let env = TestEnv::get();
    let failed = |reason: String| Error::CreateScramUser {
        user: user.to_owned(),
        reason,
    };
    let names: Vec<&str> = mechanisms.iter().map(|m| m.as_str()).collect();
    let log_dir = env.log_dir.join("kafka-users");
    std::fs::create_dir_all(&log_dir).map_err(|e| failed(e.to_string()))?;
    let log = std::fs::File::create(log_dir.join(format!("{}.log", crate::unique_name("scram"))))
        .map_err(|e| failed(e.to_string()))?;
    let mut child = Command::new("java")
        .arg("-cp")
        .arg(format!("{}/*", env.kafka_var("KAFKA_LIBS")))
        .arg(crate::repo_root().join("tests/env/kafka/ScramUser.java"))
        .args([env.kafka_brokers.as_str(), user, &names.join(",")])
        .stdin(Stdio::piped())
        .stdout(log.try_clone().map_err(|e| failed(e.to_string()))?)
        .stderr(log)
        .spawn()
        .map_err(|e| failed(format!("run java: {e}")))?;
    child
        .stdin
        .take()
        .ok_or_else(|| failed("no stdin".into()))?
        .write_all(password.as_bytes())
        .map_err(|e| failed(e.to_string()))?;
    let status = child.wait().map_err(|e| failed(e.to_string()))?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(format!(
            "ScramUser.java exited with {status}; log in {}",
            log_dir.display()
        )))
    }
}
