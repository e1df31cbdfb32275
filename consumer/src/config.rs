//! The consumer's one validated configuration: flags > environment > optional TOML
//! file (`--config` / `SPATE_CONFIG`) > defaults, with every invalid value reported by
//! name and reason, all at once, before anything connects.

mod sources;

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::codec::encode::check_table_name;
use crate::codec::format::InputFormat;
use crate::control_auth::ControlAuth;
use crate::security::{KafkaSecurity, QuestdbAuth};
pub use sources::Origin;
use sources::{Setting, Sources};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub kafka: KafkaConfig,
    pub questdb: QuestdbConfig,
    pub batch: BatchConfig,
    pub workers: WorkersConfig,
    pub backpressure: BackpressureConfig,
    pub input_format: InputFormat,
    pub validation: ValidationConfig,
    pub server: ServerConfig,
    pub targets: TargetsConfig,
    pub shutdown_grace: Duration,
    pub commit_interval: Duration,
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    pub brokers: String,
    pub group_id: String,
    pub topics: Vec<String>,
    /// Extra librdkafka properties, applied after spate's own.
    pub options: Vec<(String, String)>,
    pub dead_letter_topic: String,
    pub group_protocol: GroupProtocol,
    /// Protocol, SASL and TLS settings, shared by every Kafka client of the process.
    pub security: KafkaSecurity,
}

/// Kafka consumer group protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupProtocol {
    /// KIP-848 (`group.protocol=consumer`, Kafka 4): incremental, broker-driven.
    Consumer,
    /// The classic protocol with the cooperative-sticky assignor.
    Classic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// ILP over HTTP(S): acknowledged, errors reported.
    Http,
    /// ILP over TCP(S): nothing is acknowledged, rows can be lost; only with
    /// `questdb.allow_lossy_tcp`.
    Tcp,
}

/// `questdb.ilp_writer`: spate's own ILP writer (the default) or questdb-rs's for every
/// configuration. TLS, TCP and options spate's writer does not know always use
/// questdb-rs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IlpWriter {
    Spate,
    QuestdbRs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuestdbConfig {
    /// questdb-rs client configuration string, e.g. `http::addr=127.0.0.1:9000;`.
    pub client_conf: String,
    pub transport: Transport,
    pub allow_lossy_tcp: bool,
    /// Which ILP writer carries plain `http::` configurations.
    pub ilp_writer: IlpWriter,
    /// Base URL of QuestDB's HTTP server (for DDL via `/exec`), e.g. `http://127.0.0.1:9000`.
    pub http_url: String,
    pub table: String,
    /// Accept columns and upsert keys beyond spate's in an existing table.
    pub table_allow_extra: bool,
    /// A flush failing (5xx, outage) this long makes the consumer unready.
    pub stall_after: Duration,
    /// Retry interval while a schema problem holds the partitions.
    pub hold_retry: Duration,
    /// Credentials, merged into every QuestDB client.
    pub auth: QuestdbAuth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    pub initial: usize,
    pub min: usize,
    pub max: usize,
    pub linger: Duration,
    /// Most payload bytes in one batch; `None` derives it from the byte watermark.
    pub max_bytes: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkersConfig {
    pub initial: usize,
    pub max: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackpressureConfig {
    /// In-flight records above which partitions are paused.
    pub high_watermark: usize,
    /// In-flight records below which paused partitions resume.
    pub low_watermark: usize,
    /// Bound of each partition's queue, in records.
    pub queue_capacity: usize,
    /// In-flight payload bytes above which partitions are paused; `None` derives it
    /// from the memory limit (see [`crate::runtime::memory`]).
    pub high_watermark_bytes: Option<usize>,
    /// In-flight payload bytes below which paused partitions resume.
    pub low_watermark_bytes: Option<usize>,
    /// Bound of each partition's in-flight payload bytes.
    pub queue_capacity_bytes: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationConfig {
    pub max_past: Duration,
    pub max_future: Duration,
    pub max_message_bytes: usize,
}

/// The pipeline's service targets, exported as gauges so that alert rules compare each
/// pipeline with its own (`spate_target_latency_seconds`, `spate_target_lag_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetsConfig {
    /// The p99 end-to-end latency to stay under.
    pub latency: Duration,
    /// The lag, in seconds of arrivals, to stay under.
    pub lag: Duration,
}

#[derive(Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Who may use the control endpoint; closed (403) when nothing is configured.
    pub control: ControlAuth,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field(
                "control",
                &match &self.control {
                    ControlAuth::Closed => "closed",
                    ControlAuth::Static(_) => "static token <redacted>",
                    ControlAuth::Tokens(_) => "ServiceAccount tokens",
                },
            )
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// One invalid setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The dotted setting name, e.g. `batch.min`.
    pub setting: String,
    pub origin: Origin,
    pub reason: String,
}

impl ConfigError {
    fn new(setting: impl Into<String>, origin: Origin, reason: String) -> Self {
        ConfigError {
            setting: setting.into(),
            origin,
            reason,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.setting, self.origin, self.reason)
    }
}

/// Every problem found while loading, or clap's help/version/usage output.
#[derive(Debug)]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
    cli: Option<clap::Error>,
}

impl ConfigErrors {
    /// True when the "error" is `--help` or `--version` output: print it, exit 0.
    pub fn is_informational(&self) -> bool {
        self.cli.as_ref().is_some_and(|e| {
            matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            )
        })
    }

    /// The process exit code matching this outcome (0 for help/version, 2 otherwise).
    pub fn exit_code(&self) -> i32 {
        if self.is_informational() { 0 } else { 2 }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(cli) = &self.cli {
            return write!(f, "{}", cli.render());
        }
        writeln!(
            f,
            "invalid configuration ({} problem(s)):",
            self.errors.len()
        )?;
        for e in &self.errors {
            writeln!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

macro_rules! setting {
    ($key:literal, [$($env:literal),*], $help:literal) => {
        Setting { key: $key, env: &[$($env),*], help: $help, redact: false }
    };
}

/// A setting whose value may hold a secret: errors never quote it.
macro_rules! secret {
    ($key:literal, [$($env:literal),*], $help:literal) => {
        Setting { key: $key, env: &[$($env),*], help: $help, redact: true }
    };
}

const SETTINGS: &[Setting] = &[
    setting!(
        "kafka.brokers",
        ["KAFKA_BROKERS"],
        "Kafka bootstrap servers (required)"
    ),
    setting!(
        "kafka.group_id",
        ["KAFKA_GROUP_ID"],
        "Consumer group id [default: spate]"
    ),
    setting!(
        "kafka.topics",
        ["KAFKA_TOPICS"],
        "Comma-separated topics (required)"
    ),
    secret!(
        "kafka.options",
        ["SPATE_KAFKA_OPTIONS"],
        "Extra librdkafka properties k=v (repeatable); no secrets (they have settings of their own)"
    ),
    setting!(
        "kafka.dead_letter_topic",
        ["SPATE_DLQ_TOPIC"],
        "Dead-letter topic [default: <first topic>.dlq]"
    ),
    setting!(
        "kafka.group_protocol",
        ["SPATE_GROUP_PROTOCOL"],
        "consumer (KIP-848) or classic [default: consumer]"
    ),
    setting!(
        "kafka.security_protocol",
        ["SPATE_KAFKA_SECURITY_PROTOCOL"],
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL [default: PLAINTEXT]"
    ),
    setting!(
        "kafka.sasl_mechanism",
        ["SPATE_KAFKA_SASL_MECHANISM"],
        "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
    ),
    secret!(
        "kafka.sasl_username",
        ["SPATE_KAFKA_SASL_USERNAME"],
        "SASL user name"
    ),
    setting!(
        "kafka.sasl_username_file",
        ["SPATE_KAFKA_SASL_USERNAME_FILE"],
        "File holding the SASL user name (its exact bytes)"
    ),
    secret!(
        "kafka.sasl_password",
        ["SPATE_KAFKA_SASL_PASSWORD"],
        "SASL password (prefer the file)"
    ),
    setting!(
        "kafka.sasl_password_file",
        ["SPATE_KAFKA_SASL_PASSWORD_FILE"],
        "File holding the SASL password (its exact bytes)"
    ),
    secret!(
        "kafka.oauthbearer_token",
        ["SPATE_KAFKA_OAUTHBEARER_TOKEN"],
        "OAUTHBEARER token (prefer the file)"
    ),
    setting!(
        "kafka.oauthbearer_token_file",
        ["SPATE_KAFKA_OAUTHBEARER_TOKEN_FILE"],
        "File holding the OAUTHBEARER token, read again at every refresh"
    ),
    setting!(
        "kafka.ssl_ca_file",
        ["SPATE_KAFKA_SSL_CA_FILE"],
        "PEM file of the CA certificates to trust [default: the system's]"
    ),
    setting!(
        "kafka.ssl_cert_file",
        ["SPATE_KAFKA_SSL_CERT_FILE"],
        "PEM file of the client certificate (mutual TLS)"
    ),
    setting!(
        "kafka.ssl_key_file",
        ["SPATE_KAFKA_SSL_KEY_FILE"],
        "PEM file of the client certificate's key"
    ),
    setting!(
        "kafka.ssl_verify_hostname",
        ["SPATE_KAFKA_SSL_VERIFY_HOSTNAME"],
        "Check that the broker's certificate names its host [default: true]"
    ),
    setting!(
        "kafka.allow_plaintext_password",
        ["SPATE_KAFKA_ALLOW_PLAINTEXT_PASSWORD"],
        "Accept PLAIN over SASL_PLAINTEXT, which sends the password in cleartext [default: false]"
    ),
    secret!(
        "questdb.client_conf",
        ["QDB_CLIENT_CONF"],
        "questdb-rs client configuration string; no credentials (see questdb.username and questdb.token)"
    ),
    secret!(
        "questdb.username",
        ["SPATE_QDB_USERNAME"],
        "QuestDB user (HTTP basic authentication)"
    ),
    setting!(
        "questdb.username_file",
        ["SPATE_QDB_USERNAME_FILE"],
        "File holding the QuestDB user"
    ),
    secret!(
        "questdb.password",
        ["SPATE_QDB_PASSWORD"],
        "QuestDB password (prefer the file)"
    ),
    setting!(
        "questdb.password_file",
        ["SPATE_QDB_PASSWORD_FILE"],
        "File holding the QuestDB password"
    ),
    secret!(
        "questdb.token",
        ["SPATE_QDB_TOKEN"],
        "QuestDB bearer token (Enterprise; prefer the file)"
    ),
    setting!(
        "questdb.token_file",
        ["SPATE_QDB_TOKEN_FILE"],
        "File holding the QuestDB token"
    ),
    setting!(
        "questdb.host",
        ["QUESTDB_HOST"],
        "QuestDB host when no client_conf [default: 127.0.0.1]"
    ),
    setting!(
        "questdb.ilp_port",
        ["QUESTDB_ILP_PORT"],
        "QuestDB HTTP/ILP port when no client_conf [default: 9000]"
    ),
    setting!(
        "questdb.allow_lossy_tcp",
        ["SPATE_ALLOW_LOSSY_TCP"],
        "Allow ILP over TCP, which acknowledges nothing and CAN LOSE ROWS [default: false]"
    ),
    setting!(
        "questdb.ilp_writer",
        ["SPATE_ILP_WRITER"],
        "ILP writer for plain http:: configurations: spate or questdb-rs [default: spate]"
    ),
    setting!(
        "questdb.http_url",
        ["QUESTDB_HTTP_URL"],
        "QuestDB HTTP URL for DDL [default: from client_conf]"
    ),
    setting!(
        "questdb.table",
        ["SPATE_TABLE"],
        "Target table [default: trades]"
    ),
    setting!(
        "questdb.table_allow_extra",
        ["SPATE_TABLE_ALLOW_EXTRA"],
        "Accept extra columns and upsert keys in an existing table [default: false]"
    ),
    setting!(
        "questdb.stall_secs",
        ["SPATE_QUESTDB_STALL_SECS"],
        "Unready when a flush keeps failing this long, s [default: 120]"
    ),
    setting!(
        "questdb.hold_retry_secs",
        ["SPATE_HOLD_RETRY_SECS"],
        "Retry interval while a schema problem holds the partitions, s [default: 30]"
    ),
    setting!(
        "batch.initial",
        ["BATCH_SIZE"],
        "Initial batch size in rows [default: 1000]"
    ),
    setting!(
        "batch.min",
        ["SPATE_BATCH_MIN"],
        "Smallest batch size [default: 100]"
    ),
    setting!(
        "batch.max",
        ["SPATE_BATCH_MAX"],
        "Largest batch size [default: 50000]"
    ),
    setting!(
        "batch.linger_ms",
        ["SPATE_LINGER_MS"],
        "Longest wait before flushing a partial batch, ms [default: 20]"
    ),
    setting!(
        "batch.max_bytes",
        ["SPATE_BATCH_MAX_BYTES"],
        "Most payload bytes in one batch [default: from the byte watermark]"
    ),
    setting!(
        "workers.initial",
        ["NUM_WORKERS"],
        "Workers at start [default: 2]"
    ),
    setting!(
        "workers.max",
        ["SPATE_MAX_WORKERS"],
        "Most workers the control endpoint may set [default: 16]"
    ),
    setting!(
        "backpressure.high_watermark",
        ["SPATE_HIGH_WATERMARK"],
        "Pause above this many in-flight records [default: 200000]"
    ),
    setting!(
        "backpressure.low_watermark",
        ["SPATE_LOW_WATERMARK"],
        "Resume below this many in-flight records [default: 50000]"
    ),
    setting!(
        "backpressure.queue_capacity",
        ["SPATE_QUEUE_CAPACITY"],
        "Per-partition queue bound, records [default: 20000]"
    ),
    setting!(
        "backpressure.high_watermark_bytes",
        ["SPATE_HIGH_WATERMARK_BYTES"],
        "Pause above this many in-flight payload bytes [default: a quarter of the memory limit, else 256 MiB]"
    ),
    setting!(
        "backpressure.low_watermark_bytes",
        ["SPATE_LOW_WATERMARK_BYTES"],
        "Resume below this many in-flight payload bytes [default: half the high one]"
    ),
    setting!(
        "backpressure.queue_capacity_bytes",
        ["SPATE_QUEUE_CAPACITY_BYTES"],
        "Per-partition in-flight payload bytes bound [default: half the high one]"
    ),
    setting!(
        "input_format",
        ["SPATE_INPUT_FORMAT"],
        "auto, normalized, coinbase-match or coinbase-market-trades [default: auto]"
    ),
    setting!(
        "validation.max_past_secs",
        ["SPATE_MAX_PAST_SECS"],
        "Oldest accepted trade age, s [default: 2592000]"
    ),
    setting!(
        "validation.max_future_secs",
        ["SPATE_MAX_FUTURE_SECS"],
        "Furthest accepted future skew, s [default: 300]"
    ),
    setting!(
        "validation.max_message_bytes",
        ["SPATE_MAX_MESSAGE_BYTES"],
        "Largest accepted payload [default: 1048576]"
    ),
    setting!(
        "server.listen",
        ["SPATE_LISTEN"],
        "Metrics/health/control address [default: 0.0.0.0:9464]"
    ),
    setting!(
        "server.control_token",
        ["SPATE_CONTROL_TOKEN"],
        "Bearer token of the control endpoint"
    ),
    setting!(
        "server.control_token_file",
        ["SPATE_CONTROL_TOKEN_FILE"],
        "File holding the control token"
    ),
    setting!(
        "server.control_jwks",
        ["SPATE_CONTROL_JWKS"],
        "The service-account issuer's public keys (JWKS JSON): accept ServiceAccount tokens on the control endpoint"
    ),
    setting!(
        "server.control_issuer",
        ["SPATE_CONTROL_ISSUER"],
        "The issuer those tokens must name (with control_jwks)"
    ),
    setting!(
        "server.control_audience",
        ["SPATE_CONTROL_AUDIENCE"],
        "The audience those tokens must be for [default: spate.dev/control]"
    ),
    setting!(
        "server.control_subjects",
        ["SPATE_CONTROL_SUBJECTS"],
        "Comma-separated subjects allowed, e.g. system:serviceaccount:spate-system:spate-operator (with control_jwks)"
    ),
    setting!(
        "targets.latency_ms",
        ["SPATE_TARGET_LATENCY_MS"],
        "p99 end-to-end latency target, exported for alerts, ms [default: 2000]"
    ),
    setting!(
        "targets.lag_seconds",
        ["SPATE_TARGET_LAG_SECONDS"],
        "Lag target in seconds of arrivals, exported for alerts [default: 10]"
    ),
    setting!(
        "shutdown_grace_secs",
        ["SPATE_SHUTDOWN_GRACE_SECS"],
        "Shutdown grace period, s [default: 25]"
    ),
    setting!(
        "commit_interval_ms",
        ["SPATE_COMMIT_INTERVAL_MS"],
        "Offset commit interval, ms [default: 1000]"
    ),
    setting!(
        "log_format",
        ["SPATE_LOG_FORMAT"],
        "text or json [default: text]"
    ),
];

mod resolve;

impl Config {
    /// Loads and validates the configuration from `args` (including the program name,
    /// as `std::env::args_os()`) and `env` (a variable lookup, e.g.
    /// `|k| std::env::var(k).ok()`).
    pub fn load(
        args: impl IntoIterator<Item = OsString>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        let mut errors = Vec::new();
        let sources =
            Sources::new(SETTINGS, args, env, &mut errors).map_err(|cli| ConfigErrors {
                errors: Vec::new(),
                cli: Some(cli),
            })?;
        let config = resolve::resolve(&sources, &mut errors);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors { errors, cli: None })
        }
    }

    /// `--help` text listing every flag with its environment variable.
    pub fn help() -> String {
        sources::command(SETTINGS).render_help().to_string()
    }
}

fn setting(key: &str) -> &'static Setting {
    SETTINGS
        .iter()
        .find(|s| s.key == key)
        .unwrap_or_else(|| unreachable!("unknown setting {key}"))
}

fn check_table(name: &str) -> Result<String, String> {
    check_table_name(name)
        .map(|()| name.to_owned())
        .map_err(|e| e.reason)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod security_tests;
