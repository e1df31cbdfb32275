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

    /// Extra librdkafka properties of the consumer pods (for example `fetch.max.bytes`).
    /// Never put secrets here: use `credentials` and `tls`. The operator's own lag reader
    /// applies only the connection settings of these (see the operator's README).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 128))]
    #[x_kube(validation = kube::core::Rule::new("self.all(k, !(k in ['sasl.password', 'sasl.username', 'ssl.key.password', 'ssl.key.pem', 'sasl.oauthbearer.client.secret', 'sasl.oauthbearer.config', 'security.protocol', 'sasl.mechanism', 'sasl.mechanisms']))").message("secrets and security settings cannot be given in clientOptions; use source.credentials and source.tls"))]
    pub client_options: BTreeMap<String, String>,

    /// SASL credentials of the Kafka cluster, read from a Secret. The consumer pods get
    /// them as files mounted by the kubelet; the operator never reads them (see
    /// `autoscaling.readLagWithCredentials`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<KafkaCredentials>,

    /// TLS to the brokers: the CA their certificates chain to, a client certificate for
    /// mutual TLS, hostname verification. With `credentials`, SASL_SSL needs no `tls`
    /// when the brokers' CA is in the image's system bundle. Without `credentials`, `tls`
    /// means the SSL protocol; without either, PLAINTEXT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<KafkaTls>,

    /// Let the operator read the Secrets named by `credentials` and `tls` for its own
    /// lag reader. Off by default: the operator then reads the group's lag without
    /// credentials (a CA from a ConfigMap is still used), which works only with brokers
    /// that allow it. Turning it on needs a Role that lets the operator get those
    /// Secrets (manifests/optional/operator-reads-kafka-secrets.yaml).
    #[serde(default)]
    pub share_credentials_with_operator: bool,
}

/// Kafka SASL credentials, by Secret reference.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!(self.mechanism == 'PLAIN' && self.securityProtocol == 'SASL_PLAINTEXT') || self.allowPlaintextPassword").message("PLAIN over SASL_PLAINTEXT sends the password in cleartext: use securityProtocol SASL_SSL, or set credentials.allowPlaintextPassword"))]
pub struct KafkaCredentials {
    /// The Secret (in the pipeline's namespace) holding the user name and password, or the
    /// OAUTHBEARER token under `tokenKey`.
    pub secret_ref: SecretKeyRef,

    /// The SASL mechanism.
    #[serde(default)]
    pub mechanism: SaslMechanism,

    /// The security protocol used with the brokers.
    #[serde(default)]
    pub security_protocol: SecurityProtocol,

    /// With OAUTHBEARER: the key of the Secret holding the token (a JWT from the
    /// identity provider; the consumer re-reads it whenever librdkafka refreshes it).
    #[serde(default = "default_token_key")]
    pub token_key: String,

    /// Allow PLAIN over SASL_PLAINTEXT, which sends the password over the network in
    /// cleartext. Refused unless set.
    #[serde(default)]
    pub allow_plaintext_password: bool,
}

fn default_token_key() -> String {
    "token".into()
}

/// TLS to the Kafka brokers.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KafkaTls {
    /// The CA bundle (PEM) the brokers' certificates must chain to, from a Secret or a
    /// ConfigMap; the image's system bundle when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaRef>,

    /// A client certificate and its key (PEM) for mutual TLS, from a Secret (a
    /// `kubernetes.io/tls` Secret by default: `tls.crt`, `tls.key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<ClientCertificateRef>,

    /// Check that a broker's certificate names the host it was reached at.
    #[serde(default = "default_true")]
    pub verify_hostname: bool,
}

fn default_true() -> bool {
    true
}

/// Where a CA bundle is: exactly one of a Secret or a ConfigMap, and its key.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.secretName) != has(self.configMapName)").message("tls.ca names exactly one of secretName and configMapName"))]
pub struct CaRef {
    /// A Secret in the pipeline's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// A ConfigMap in the pipeline's namespace (a CA bundle is not secret; the operator
    /// may read it for its own lag reader).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_name: Option<String>,
    /// The key holding the PEM bundle.
    #[serde(default = "default_ca_key")]
    pub key: String,
}

fn default_ca_key() -> String {
    "ca.crt".into()
}

/// A client certificate and key in a Secret.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientCertificateRef {
    /// The Secret in the pipeline's namespace.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// The key holding the certificate (PEM).
    #[serde(default = "default_cert_key")]
    pub certificate_key: String,
    /// The key holding the private key (PEM).
    #[serde(default = "default_key_key")]
    pub key_key: String,
}

fn default_cert_key() -> String {
    "tls.crt".into()
}

fn default_key_key() -> String {
    "tls.key".into()
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
    /// OAUTHBEARER with a token from the Secret.
    #[serde(rename = "OAUTHBEARER")]
    OAuthBearer,
}

impl SaslMechanism {
    /// The librdkafka `sasl.mechanism` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
            Self::OAuthBearer => "OAUTHBEARER",
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

#[cfg(test)]
mod contract_tests {
    use super::InputFormat;
    use spate_consumer::codec::format::InputFormat as ConsumerFormat;

    /// The CRD offers exactly the consumer's formats, under the consumer's names.
    #[test]
    fn the_formats_of_the_crd_are_the_consumers() {
        let ours = [
            InputFormat::Auto,
            InputFormat::Normalized,
            InputFormat::CoinbaseMatch,
            InputFormat::CoinbaseMarketTrades,
        ];
        let mut names: Vec<&str> = ours.iter().map(|f| f.as_str()).collect();
        for name in &names {
            let parsed: ConsumerFormat = name
                .parse()
                .unwrap_or_else(|e| panic!("the consumer refuses format {name}: {e}"));
            assert_eq!(parsed.as_str(), *name);
        }
        let mut theirs: Vec<&str> = ConsumerFormat::ALL.iter().map(|f| f.as_str()).collect();
        names.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(
            names, theirs,
            "the consumer reads formats the CRD does not offer"
        );
    }
}
