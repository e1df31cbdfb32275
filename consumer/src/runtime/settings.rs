//! What the runtime runs on: the validated configuration, as its sections, and the byte
//! bounds derived from it once, against the container's memory limit.

use super::memory::{ByteBudget, cgroup_memory_limit};
use crate::config::Config;
use crate::security::FileWatch;

/// Runtime settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The validated configuration; the runtime reads its sections.
    pub config: Config,
    /// Byte bounds of in-flight payloads and of one batch.
    pub bytes: ByteBudget,
    /// The memory limit the byte bounds were derived from, if any.
    pub memory_limit: Option<u64>,
}

impl Settings {
    /// A watch on every file a credential or certificate was read from.
    pub fn credential_files(&self) -> FileWatch {
        let mut files = self.config.kafka.security.files();
        files.extend(self.config.questdb.auth.files());
        FileWatch::new(files)
    }

    /// The runtime's view of a validated configuration, byte bounds derived from this
    /// process's cgroup memory limit.
    pub fn from_config(config: Config) -> Self {
        Self::with_memory_limit(config, cgroup_memory_limit())
    }

    /// As [`Self::from_config`] with the memory limit given (pure).
    pub fn with_memory_limit(config: Config, memory_limit: Option<u64>) -> Self {
        let bp = &config.backpressure;
        let bytes = ByteBudget::derive(
            memory_limit,
            bp.high_watermark_bytes,
            bp.low_watermark_bytes,
            bp.queue_capacity_bytes,
            config.batch.max_bytes,
            config.workers.max,
        );
        Self {
            config,
            bytes,
            memory_limit,
        }
    }
}
