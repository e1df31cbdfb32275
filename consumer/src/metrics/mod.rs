//! Prometheus metrics of the consumer: handles resolved once, per-worker local counts
//! published once per batch, so recording a record on the hot path costs a plain add.

mod histogram;

use std::time::Duration;

pub use histogram::{BatchHistogram, LocalBatchHistogram};

use crate::codec::reject::REASON_QUESTDB_REJECTED;
use crate::codec::reject::RejectReason;
use crate::security::ClientErrorKind;
use prometheus::local::LocalHistogram;
use prometheus::{
    Counter, Encoder, Gauge, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Kinds of errors counted in `spate_errors_total{kind}`; each label resolved once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A QuestDB flush failed with an error worth retrying (outage, 5xx, timeout).
    FlushRetryable,
    /// QuestDB rejected rows of a batch (4xx); the batch is bisected.
    FlushRejected,
    /// The QuestDB sender could not be created (server down at start-up, bad conf).
    SenderCreate,
    /// Producing to the dead-letter topic failed (retried).
    DeadLetterProduce,
    /// The Kafka consumer reported an error while polling.
    KafkaPoll,
    /// Storing an offset failed.
    StoreOffset,
    /// Committing offsets failed.
    Commit,
    /// Pausing or resuming partitions failed.
    PauseResume,
    /// A partition fetched nothing while records waited on the broker, and was
    /// re-sought to its own position.
    FetchStall,
}

impl ErrorKind {
    /// Every kind, in label order.
    pub const ALL: [ErrorKind; 9] = [
        ErrorKind::FlushRetryable,
        ErrorKind::FlushRejected,
        ErrorKind::SenderCreate,
        ErrorKind::DeadLetterProduce,
        ErrorKind::KafkaPoll,
        ErrorKind::StoreOffset,
        ErrorKind::Commit,
        ErrorKind::PauseResume,
        ErrorKind::FetchStall,
    ];

    /// The `kind` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::FlushRetryable => "flush_retryable",
            ErrorKind::FlushRejected => "flush_rejected",
            ErrorKind::SenderCreate => "sender_create",
            ErrorKind::DeadLetterProduce => "dead_letter_produce",
            ErrorKind::KafkaPoll => "kafka_poll",
            ErrorKind::StoreOffset => "store_offset",
            ErrorKind::Commit => "commit",
            ErrorKind::PauseResume => "pause_resume",
            ErrorKind::FetchStall => "fetch_stall",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why a worker holds its partitions without writing (`spate_holds_total{kind}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldKind {
    /// Every row of a batch was refused for one reason: the table does not fit.
    Schema,
    /// A flush kept failing with a retryable error longer than `questdb.stall_secs`.
    QuestdbStall,
}

impl HoldKind {
    pub const ALL: [HoldKind; 2] = [HoldKind::Schema, HoldKind::QuestdbStall];

    /// The `kind` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldKind::Schema => "schema",
            HoldKind::QuestdbStall => "questdb_stall",
        }
    }
}

/// Buckets of `processing_latency_seconds` (Kafka append time → QuestDB acknowledgement),
/// in milliseconds.
const LATENCY_BUCKETS_MS: &[u64] = &[
    5, 10, 25, 50, 75, 100, 150, 200, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000,
];
/// Buckets of `spate_flush_latency_seconds`.
const FLUSH_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Every metric of the consumer, registered in one registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub trades_processed: IntCounter,
    pub processing_latency: BatchHistogram,
    pub queue_depth: IntGauge,
    pub inflight_records: IntGauge,
    pub inflight_bytes: IntGauge,
    pub worker_panics: IntCounter,
    pub holding_workers: IntGauge,
    holds: Vec<IntCounter>,
    kafka_client_errors: Vec<IntCounter>,
    pub batch_size: IntGauge,
    pub flush_latency: Histogram,
    pub flushed_rows: IntCounter,
    pub backpressure_active: IntGauge,
    pub paused_partitions: IntGauge,
    pub workers: IntGauge,
    pub workers_active: IntGauge,
    pub worker_busy_seconds: Counter,
    pub partition_lag: IntGaugeVec,
    pub partition_high_watermark: IntGaugeVec,
    pub partition_committed_offset: IntGaugeVec,
    pub oldest_inflight_age: Gauge,
    pub ready: IntGauge,
    pub target_latency: Gauge,
    pub target_lag: Gauge,
    pub dead_letter: IntCounterVec,
    pub rebalances: IntCounter,
    pub assigned_partitions: IntGauge,
    errors: Vec<IntCounter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let r = &registry;
        let errors_vec = reg(
            r,
            IntCounterVec::new(Opts::new("spate_errors_total", "Errors by kind"), &["kind"])?,
        )?;
        let errors = ErrorKind::ALL
            .iter()
            .map(|k| errors_vec.with_label_values(&[k.as_str()]))
            .collect();
        let holds_vec = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "spate_holds_total",
                    "Times a worker began holding its partitions, by kind",
                ),
                &["kind"],
            )?,
        )?;
        let holds = HoldKind::ALL
            .iter()
            .map(|k| holds_vec.with_label_values(&[k.as_str()]))
            .collect();
        let dead_letter = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "spate_dead_letter_total",
                    "Records sent to the dead-letter topic",
                ),
                &["reason"],
            )?,
        )?;
        // Every reason from zero, so that the first dead letter of a reason is an increase.
        for reason in RejectReason::ALL
            .iter()
            .map(|r| r.as_str())
            .chain([REASON_QUESTDB_REJECTED])
        {
            dead_letter.with_label_values(&[reason]);
        }
        let client_errors_vec = reg(
            r,
            IntCounterVec::new(
                Opts::new(
                    "spate_kafka_client_errors_total",
                    "Kafka client failures by kind: authentication, TLS, unreachable brokers",
                ),
                &["kind"],
            )?,
        )?;
        let kafka_client_errors = ClientErrorKind::ALL
            .iter()
            .map(|k| client_errors_vec.with_label_values(&[k.as_str()]))
            .collect();
        Ok(Self {
            inflight_bytes: reg(
                r,
                IntGauge::new(
                    "spate_inflight_bytes",
                    "Payload bytes polled whose offsets are not stored yet",
                )?,
            )?,
            worker_panics: reg(
                r,
                IntCounter::new(
                    "spate_worker_panics_total",
                    "Worker panics (the worker restarts, its partitions are re-read)",
                )?,
            )?,
            holding_workers: reg(
                r,
                IntGauge::new(
                    "spate_holding_workers",
                    "Workers holding their partitions on a schema problem or a stalled flush",
                )?,
            )?,
            holds,
            kafka_client_errors,
            trades_processed: reg(
                r,
                IntCounter::new(
                    "trades_processed_total",
                    "Trades written to QuestDB and acknowledged",
                )?,
            )?,
            processing_latency: reg(
                r,
                BatchHistogram::new(
                    "processing_latency_seconds",
                    "Kafka record timestamp to QuestDB acknowledgement",
                    LATENCY_BUCKETS_MS,
                )?,
            )?,
            queue_depth: reg(
                r,
                IntGauge::new("spate_queue_depth", "Records queued for workers")?,
            )?,
            inflight_records: reg(
                r,
                IntGauge::new(
                    "spate_inflight_records",
                    "Records polled whose offsets are not stored yet",
                )?,
            )?,
            batch_size: reg(
                r,
                IntGauge::new("spate_batch_size", "Current target batch size (rows)")?,
            )?,
            flush_latency: reg(
                r,
                Histogram::with_opts(
                    HistogramOpts::new("spate_flush_latency_seconds", "QuestDB flush latency")
                        .buckets(FLUSH_BUCKETS.to_vec()),
                )?,
            )?,
            flushed_rows: reg(
                r,
                IntCounter::new("spate_flushed_rows_total", "Rows acknowledged by QuestDB")?,
            )?,
            backpressure_active: reg(
                r,
                IntGauge::new(
                    "spate_backpressure_active",
                    "1 while partitions are paused for the in-flight high watermark",
                )?,
            )?,
            paused_partitions: reg(
                r,
                IntGauge::new("spate_paused_partitions", "Partitions currently paused")?,
            )?,
            workers: reg(r, IntGauge::new("spate_workers", "Configured workers")?)?,
            workers_active: reg(
                r,
                IntGauge::new("spate_workers_active", "Running worker threads")?,
            )?,
            worker_busy_seconds: reg(
                r,
                Counter::new(
                    "spate_worker_busy_seconds_total",
                    "Seconds workers spent processing batches",
                )?,
            )?,
            partition_lag: reg(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "spate_partition_lag",
                        "Consumer lag per partition (librdkafka statistics)",
                    ),
                    &["topic", "partition"],
                )?,
            )?,
            partition_high_watermark: reg(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "spate_partition_high_watermark",
                        "High watermark offset per partition (librdkafka statistics): its growth is the arrival rate",
                    ),
                    &["topic", "partition"],
                )?,
            )?,
            partition_committed_offset: reg(
                r,
                IntGaugeVec::new(
                    Opts::new(
                        "spate_partition_committed_offset",
                        "Committed offset per partition (librdkafka statistics): its growth is the rate records are done",
                    ),
                    &["topic", "partition"],
                )?,
            )?,
            oldest_inflight_age: reg(
                r,
                Gauge::new(
                    "spate_oldest_inflight_age_seconds",
                    "Age of the oldest record polled and not yet acknowledged (Kafka timestamp to now); 0 when none",
                )?,
            )?,
            ready: reg(
                r,
                IntGauge::new(
                    "spate_ready",
                    "1 while /readyz answers 200, else 0 (read at each scrape)",
                )?,
            )?,
            target_latency: reg(
                r,
                Gauge::new(
                    "spate_target_latency_seconds",
                    "The pipeline's p99 end-to-end latency target (targets.latency_ms)",
                )?,
            )?,
            target_lag: reg(
                r,
                Gauge::new(
                    "spate_target_lag_seconds",
                    "The pipeline's lag target in seconds of arrivals (targets.lag_seconds)",
                )?,
            )?,
            dead_letter,
            rebalances: reg(
                r,
                IntCounter::new(
                    "spate_rebalances_total",
                    "Rebalance events (assign or revoke)",
                )?,
            )?,
            assigned_partitions: reg(
                r,
                IntGauge::new(
                    "spate_assigned_partitions",
                    "Partitions assigned to this member",
                )?,
            )?,
            errors,
            registry,
        })
    }

    /// The counter of one error kind.
    pub fn error(&self, kind: ErrorKind) -> &IntCounter {
        &self.errors[kind.index()]
    }

    /// Records one partition's statistics: lag, high watermark and committed offset
    /// (negative values, librdkafka's "unknown", are left out).
    pub fn set_partition(&self, topic: &str, partition: i32, lag: i64, high: i64, committed: i64) {
        let partition = partition.to_string();
        let labels = [topic, partition.as_str()];
        for (gauge, value) in [
            (&self.partition_lag, lag),
            (&self.partition_high_watermark, high),
            (&self.partition_committed_offset, committed),
        ] {
            if value >= 0 {
                gauge.with_label_values(&labels).set(value);
            }
        }
    }

    /// Forgets a partition's series (it was revoked).
    pub fn forget_partition(&self, topic: &str, partition: i32) {
        let partition = partition.to_string();
        let labels = [topic, partition.as_str()];
        for gauge in [
            &self.partition_lag,
            &self.partition_high_watermark,
            &self.partition_committed_offset,
        ] {
            let _ = gauge.remove_label_values(&labels);
        }
    }

    /// The counter of one hold kind.
    pub fn hold(&self, kind: HoldKind) -> &IntCounter {
        &self.holds[kind as usize]
    }

    /// The counter of Kafka client failures of `kind`.
    pub fn kafka_client_error(&self, kind: ClientErrorKind) -> &IntCounter {
        &self.kafka_client_errors[kind as usize]
    }

    /// Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String only fails on invalid metric families, which we never build.
        let _ = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out);
        out
    }

    /// The content type of [`Metrics::render`].
    pub fn content_type(&self) -> String {
        TextEncoder::new().format_type().to_string()
    }

    /// A recorder for one worker thread.
    pub fn worker_recorder(&self) -> WorkerRecorder {
        WorkerRecorder {
            processed: 0,
            flushed_rows: 0,
            busy: Duration::ZERO,
            latency: self.processing_latency.local(),
            flush_latency: self.flush_latency.local(),
            trades_processed: self.trades_processed.clone(),
            flushed_rows_total: self.flushed_rows.clone(),
            busy_total: self.worker_busy_seconds.clone(),
        }
    }
}

fn reg<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: C,
) -> Result<C, prometheus::Error> {
    registry.register(Box::new(collector.clone()))?;
    Ok(collector)
}

/// Plain per-worker counts, published into the shared metrics once per batch.
///
/// Recording is a plain add on a field the worker owns: no atomic, lock or look-up.
pub struct WorkerRecorder {
    processed: u64,
    flushed_rows: u64,
    busy: Duration,
    latency: LocalBatchHistogram,
    flush_latency: LocalHistogram,
    trades_processed: IntCounter,
    flushed_rows_total: IntCounter,
    busy_total: Counter,
}

impl WorkerRecorder {
    /// Counts `n` processed trades.
    #[inline]
    pub fn record_processed(&mut self, n: u64) {
        self.processed += n;
    }

    /// Records the end-to-end latency of one record, in milliseconds.
    #[inline]
    pub fn observe_latency_ms(&mut self, ms: u64) {
        self.latency.observe_ms(ms);
    }

    /// Records one QuestDB flush of `rows` rows.
    pub fn record_flush(&mut self, rows: u64, latency: Duration) {
        self.flushed_rows += rows;
        self.flush_latency.observe(latency.as_secs_f64());
    }

    /// Adds busy time of the worker.
    pub fn record_busy(&mut self, busy: Duration) {
        self.busy += busy;
    }

    /// Adds the local counts to the shared metrics and resets them.
    pub fn publish(&mut self) {
        if self.processed > 0 {
            self.trades_processed.inc_by(self.processed);
            self.processed = 0;
        }
        if self.flushed_rows > 0 {
            self.flushed_rows_total.inc_by(self.flushed_rows);
            self.flushed_rows = 0;
        }
        if !self.busy.is_zero() {
            self.busy_total.inc_by(self.busy.as_secs_f64());
            self.busy = Duration::ZERO;
        }
        self.latency.flush();
        self.flush_latency.flush();
    }
}

impl Drop for WorkerRecorder {
    fn drop(&mut self) {
        self.publish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_counts_reach_the_registry_only_when_published() {
        let metrics = Metrics::new().expect("metrics");
        let mut rec = metrics.worker_recorder();
        rec.record_processed(3);
        rec.observe_latency_ms(20);
        assert_eq!(metrics.trades_processed.get(), 0);
        rec.publish();
        assert_eq!(metrics.trades_processed.get(), 3);
        assert_eq!(metrics.processing_latency.count(), 1);
    }

    #[test]
    fn render_contains_the_names_the_autoscaler_reads() {
        let metrics = Metrics::new().expect("metrics");
        metrics.error(ErrorKind::Commit).inc();
        metrics.set_partition("trades", 0, 5, 120, 115);
        metrics.dead_letter.with_label_values(&["malformed"]).inc();
        let text = metrics.render();
        for name in [
            "trades_processed_total",
            "processing_latency_seconds_bucket",
            "spate_queue_depth",
            "spate_inflight_records",
            "spate_inflight_bytes",
            "spate_worker_panics_total",
            "spate_holding_workers",
            "spate_holds_total{kind=\"schema\"}",
            "spate_batch_size",
            "spate_flush_latency_seconds_bucket",
            "spate_flushed_rows_total",
            "spate_backpressure_active",
            "spate_paused_partitions",
            "spate_workers ",
            "spate_workers_active",
            "spate_worker_busy_seconds_total",
            "spate_partition_lag{partition=\"0\",topic=\"trades\"} 5",
            "spate_dead_letter_total{reason=\"malformed\"} 1",
            "spate_dead_letter_total{reason=\"questdb_rejected\"} 0",
            "spate_dead_letter_total{reason=\"too_large\"} 0",
            "spate_errors_total{kind=\"commit\"} 1",
            "spate_rebalances_total",
            "spate_assigned_partitions",
            "spate_partition_high_watermark{partition=\"0\",topic=\"trades\"} 120",
            "spate_partition_committed_offset{partition=\"0\",topic=\"trades\"} 115",
            "spate_oldest_inflight_age_seconds",
            "spate_ready",
            "spate_target_latency_seconds",
            "spate_target_lag_seconds",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }

    #[test]
    fn a_revoked_partition_leaves_no_series_and_unknown_values_are_left_out() {
        let metrics = Metrics::new().expect("metrics");
        metrics.set_partition("trades", 1, -1, 10, -1001);
        let text = metrics.render();
        assert!(
            text.contains("spate_partition_high_watermark{partition=\"1\",topic=\"trades\"} 10")
        );
        assert!(!text.contains("spate_partition_lag{"), "{text}");
        assert!(
            !text.contains("spate_partition_committed_offset{"),
            "{text}"
        );
        metrics.forget_partition("trades", 1);
        assert!(!metrics.render().contains("partition=\"1\""));
    }
}
