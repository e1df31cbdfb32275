//! Everything the runtime needs from the validated configuration, as plain data.

use std::net::SocketAddr;
use std::time::Duration;

use super::memory::{ByteBudget, cgroup_memory_limit};
pub use crate::config::GroupProtocol;
use crate::config::{Config, IlpWriter, Transport};
use crate::control_auth::ControlAuth;
use crate::security::{FileWatch, KafkaSecurity, QuestdbAuth};

/// Runtime settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub brokers: String,
    pub group_id: String,
    pub topics: Vec<String>,
    pub kafka_options: Vec<(String, String)>,
    pub dead_letter_topic: String,
    pub group_protocol: GroupProtocol,
    /// How every Kafka client of the process connects.
    pub kafka_security: KafkaSecurity,
    /// questdb-rs client configuration string.
    pub questdb_conf: String,
    /// QuestDB credentials, merged into every QuestDB client.
    pub questdb_auth: QuestdbAuth,
    /// ILP over HTTP (acknowledged) rather than TCP.
    pub questdb_http: bool,
    /// Use questdb-rs even where spate's own ILP writer could carry the rows.
    pub questdb_client_only: bool,
    /// QuestDB HTTP base URL, for `/exec` and `/ping`.
    pub questdb_http_url: String,
    pub table: String,
    /// Accept columns and upsert keys beyond spate's in an existing table.
    pub table_allow_extra: bool,
    /// A flush failing this long makes the consumer unready.
    pub stall_after: Duration,
    /// Retry interval while a schema problem holds the partitions.
    pub hold_retry: Duration,
    pub batch_min: usize,
    pub batch_max: usize,
    pub batch_initial: usize,
    pub linger: Duration,
    pub workers_initial: usize,
    pub workers_max: usize,
    pub high_watermark: usize,
    pub low_watermark: usize,
    pub queue_capacity: usize,
    /// Byte bounds of in-flight payloads and of one batch.
    pub bytes: ByteBudget,
    /// The memory limit the byte bounds were derived from, if any.
    pub memory_limit: Option<u64>,
    pub shutdown_grace: Duration,
    pub commit_interval: Duration,
    pub listen: SocketAddr,
    pub control: ControlAuth,
}

impl Settings {
    /// A watch on every file a credential or certificate was read from.
    pub fn credential_files(&self) -> FileWatch {
        let mut files = self.kafka_security.files();
        files.extend(self.questdb_auth.files());
        FileWatch::new(files)
    }

    /// The runtime's view of a validated configuration, byte bounds derived from this
    /// process's cgroup memory limit.
    pub fn from_config(c: &Config) -> Self {
        Self::with_memory_limit(c, cgroup_memory_limit())
    }

    /// As [`Self::from_config`] with the memory limit given (pure).
    pub fn with_memory_limit(c: &Config, memory_limit: Option<u64>) -> Self {
        let bp = &c.backpressure;
        Self {
            brokers: c.kafka.brokers.clone(),
            group_id: c.kafka.group_id.clone(),
            topics: c.kafka.topics.clone(),
            kafka_options: c.kafka.options.clone(),
            dead_letter_topic: c.kafka.dead_letter_topic.clone(),
            group_protocol: c.kafka.group_protocol,
            kafka_security: c.kafka.security.clone(),
            questdb_conf: c.questdb.client_conf.clone(),
            questdb_auth: c.questdb.auth.clone(),
            questdb_http: c.questdb.transport == Transport::Http,
            questdb_client_only: c.questdb.ilp_writer == IlpWriter::QuestdbRs,
            questdb_http_url: c.questdb.http_url.clone(),
            table: c.questdb.table.clone(),
            table_allow_extra: c.questdb.table_allow_extra,
            stall_after: c.questdb.stall_after,
            hold_retry: c.questdb.hold_retry,
            batch_min: c.batch.min,
            batch_max: c.batch.max,
            batch_initial: c.batch.initial,
            linger: c.batch.linger,
            workers_initial: c.workers.initial,
            workers_max: c.workers.max,
            high_watermark: c.backpressure.high_watermark,
            low_watermark: c.backpressure.low_watermark,
            queue_capacity: c.backpressure.queue_capacity,
            bytes: ByteBudget::derive(
                memory_limit,
                bp.high_watermark_bytes,
                bp.low_watermark_bytes,
                bp.queue_capacity_bytes,
                c.batch.max_bytes,
                c.workers.max,
            ),
            memory_limit,
            shutdown_grace: c.shutdown_grace,
            commit_interval: c.commit_interval,
            listen: c.server.listen,
            control: c.server.control.clone(),
        }
    }
}
