//! The consumer's one validated configuration: flags > environment > optional TOML
//! file (`--config` / `SPATE_CONFIG`) > defaults, with every invalid value reported by
//! name and reason, all at once, before anything connects.

mod sources;
mod table;

use std::ffi::OsString;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::codec::encode::check_table_name;
use crate::codec::format::InputFormat;
use crate::control_auth::ControlAuth;
use crate::security::{KafkaSecurity, QuestdbAuth};
pub use sources::Origin;
use sources::Sources;
pub use table::{DefaultValue, SETTINGS, Setting};

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
    Setting::find(key).unwrap_or_else(|| unreachable!("unknown setting {key}"))
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
