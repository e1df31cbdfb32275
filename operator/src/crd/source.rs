//! Where a pipeline reads from (Kafka) and writes to (QuestDB); secrets only by reference.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The Kafka side of a pipeline.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SourceSpec {
    /// Kafka bootstrap servers, comma-separated `host:port` pairs.
    #[schemars(length(min = 1))]
    pub bootstrap_servers: String,

    /// The topics to consume; at least one.
    #[schemars(length(min = 1, max = 64), inner(length(max = 249)))]
    #[x_kube(validation = kube::core::Rule::new("self.all(t, t.size() > 0 && t.size() <= 249)").message("every topic name must have 1 to 249 characters"))]
    pub topics: Vec<String>,

    /// The consumer group id; `spate.<namespace>.<name>` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,

    /// The consumer group protocol: consumer (KIP-848, the consumer's default) or classic
    /// (cooperative-sticky).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_protocol: Option<GroupProtocol>,

    /// The topic rejected records go to; `<first topic>.dlq` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_topic: Option<String>,

    /// Extra librdkafka properties (for example `fetch.max.bytes`). Never put secrets
    /// here: use `credentials`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 128))]
    #[x_kube(validation = kube::core::Rule::new("self.all(k, !(k in ['sasl.password', 'sasl.username', 'ssl.key.password', 'sasl.oauthbearer.client.secret']))").message("secrets cannot be given in clientOptions; use source.credentials"))]
    pub client_options: BTreeMap<String, String>,

    /// SASL credentials of the Kafka cluster, read from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<KafkaCredentials>,
}

/// Kafka SASL credentials, by Secret reference.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KafkaCredentials {
    /// The Secret (in the pipeline's namespace) holding the user name and password.
    pub secret_ref: SecretKeyRef,

    /// The SASL mechanism.
    #[serde(default)]
    pub mechanism: SaslMechanism,

    /// The security protocol used with the brokers.
    #[serde(default)]
    pub security_protocol: SecurityProtocol,
}

/// A Secret in the pipeline's namespace and the keys of its entries.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,

    /// The key holding the user name.
    #[serde(default = "default_username_key")]
    pub username_key: String,

    /// The key holding the password (or the token, for QuestDB token authentication).
    #[serde(default = "default_password_key")]
    pub password_key: String,
}

fn default_username_key() -> String {
    "username".into()
}

fn default_password_key() -> String {
    "password".into()
}

/// SASL mechanisms the consumer supports.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SaslMechanism {
    /// SASL/PLAIN.
    #[serde(rename = "PLAIN")]
    Plain,
    /// SCRAM with SHA-256.
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    /// SCRAM with SHA-512.
    #[default]
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// The librdkafka `sasl.mechanism` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// Security protocols usable with SASL.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    /// SASL over plaintext.
    #[serde(rename = "SASL_PLAINTEXT")]
    SaslPlaintext,
    /// SASL over TLS.
    #[default]
    #[serde(rename = "SASL_SSL")]
    SaslSsl,
}

impl SecurityProtocol {
    /// The librdkafka `security.protocol` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }
}

/// The consumer group protocol.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum GroupProtocol {
    /// The KIP-848 consumer protocol (Kafka 4).
    Consumer,
    /// The classic protocol with cooperative-sticky assignment.
    Classic,
}

impl GroupProtocol {
    /// The consumer's `SPATE_GROUP_PROTOCOL` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consumer => "consumer",
            Self::Classic => "classic",
        }
    }
}

/// The message formats the consumer decodes.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum InputFormat {
    /// Detect the format of every message.
    #[default]
    Auto,
    /// spate's normalized trade JSON.
    Normalized,
    /// Coinbase Exchange `match` messages.
    CoinbaseMatch,
    /// Coinbase Advanced Trade `market_trades` messages.
    CoinbaseMarketTrades,
}

impl InputFormat {
    /// The consumer's `SPATE_INPUT_FORMAT` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Normalized => "normalized",
            Self::CoinbaseMatch => "coinbase-match",
            Self::CoinbaseMarketTrades => "coinbase-market-trades",
        }
    }
}

/// The QuestDB side of a pipeline.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.address) != has(self.clientConf)").message("set exactly one of sink.address and sink.clientConf"))]
pub struct SinkSpec {
    /// QuestDB's ILP/HTTP `host:port` (the client configuration becomes `http::addr=<address>;`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 261))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[^:;/ ]+:[0-9]{1,5}$')").message("sink.address must be host:port"))]
    pub address: Option<String>,

    /// A full questdb client configuration string, for example
    /// `https::addr=questdb:9000;tls_verify=on;`, without credentials (use `credentials`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^(http|https|tcp|tcps)::') && !self.contains('password=') && !self.contains('token=')").message("sink.clientConf must start with http::, https::, tcp:: or tcps:: and hold no password or token"))]
    pub client_conf: Option<String>,

    /// QuestDB's HTTP base URL for the table DDL; derived from the client configuration
    /// when absent (required with tcp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_url: Option<String>,

    /// Allow ILP over TCP, which acknowledges nothing and can lose rows on failure.
    #[serde(default)]
    pub allow_lossy_tcp: bool,

    /// The table the trades go to.
    #[serde(default = "default_table")]
    #[schemars(length(min = 1, max = 127))]
    pub table: String,

    /// QuestDB credentials, read from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<QuestdbCredentials>,
}

fn default_table() -> String {
    "trades".into()
}

/// QuestDB credentials, by Secret reference.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct QuestdbCredentials {
    /// The Secret (in the pipeline's namespace) holding the credentials.
    pub secret_ref: SecretKeyRef,

    /// Use bearer-token authentication with the entry under `secretRef.passwordKey`
    /// instead of basic authentication.
    #[serde(default)]
    pub token: bool,
}
