//! The operator's own Prometheus metrics (one registry per operator instance).

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

/// Reconcile counters, failures by reason, durations and leadership.
#[derive(Clone)]
pub struct Metrics {
    /// The registry `/metrics` renders.
    pub registry: Registry,
    /// Reconciliations by result (`ok`, `invalid`, `error`, `standby`).
    pub reconciliations: IntCounterVec,
    /// Failed reconciliations by the action that failed.
    pub failures: IntCounterVec,
    /// Reconcile durations.
    pub duration: Histogram,
    /// Child applies by kind and result (`applied`, or `skipped` when unchanged).
    pub applies: IntCounterVec,
    /// 1 while this instance holds the lease.
    pub leader: IntGauge,
}

impl Metrics {
    /// Registers the metrics in a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let reconciliations = IntCounterVec::new(
            Opts::new(
                "spate_operator_reconciliations_total",
                "Reconciliations of IngestionPipelines by result",
            ),
            &["result"],
        )
        .expect("valid metric");
        let failures = IntCounterVec::new(
            Opts::new(
                "spate_operator_reconcile_failures_total",
                "Failed reconciliations by the action that failed",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "spate_operator_reconcile_duration_seconds",
                "Duration of one reconciliation",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        )
        .expect("valid metric");
        let applies = IntCounterVec::new(
            Opts::new(
                "spate_operator_child_applies_total",
                "Server-side applies of pipeline children by kind, and those skipped as unchanged",
            ),
            &["kind", "result"],
        )
        .expect("valid metric");
        let leader = IntGauge::new(
            "spate_operator_leader",
            "1 while this operator instance holds the lease",
        )
        .expect("valid metric");
        // Every result from zero, so that the first failed reconcile is an increase.
        for result in ["ok", "invalid", "error", "standby"] {
            reconciliations.with_label_values(&[result]);
        }
        for c in [
            Box::new(reconciliations.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(failures.clone()),
            Box::new(duration.clone()),
            Box::new(applies.clone()),
            Box::new(leader.clone()),
        ] {
            registry.register(c).expect("unique metric");
        }
        Self {
            registry,
            reconciliations,
            failures,
            duration,
            applies,
            leader,
        }
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus::TextEncoder::new()
            .encode_utf8(&self.registry.gather(), &mut out)
            .map(|()| out)
            .unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
