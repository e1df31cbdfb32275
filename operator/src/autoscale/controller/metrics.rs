//! The autoscaler's Prometheus metrics: decisions by reason, the size it asks for, the lag it sees.

use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};

/// Metrics of the live autoscaler, labelled by pipeline (`namespace/name`).
#[derive(Clone)]
pub struct AutoscalerMetrics {
    /// `spate_operator_scale_decisions_total{pipeline,direction,reason}`: decisions that changed the size.
    pub decisions: IntCounterVec,
    /// `spate_operator_desired_workers{pipeline}`: workers per pod asked for.
    pub desired_workers: IntGaugeVec,
    /// `spate_operator_desired_replicas{pipeline}`: consumer pods asked for.
    pub desired_replicas: IntGaugeVec,
    /// `spate_operator_observed_lag{pipeline}`: records the group is behind.
    pub observed_lag: IntGaugeVec,
    /// `spate_operator_estimated_rate{pipeline,rate}`: λ (`arrival`) and μ (`service`), records/s.
    pub rates: GaugeVec,
    /// `spate_operator_lag_seconds{pipeline}`: the lag in seconds of arrivals.
    pub lag_seconds: GaugeVec,
    /// `spate_operator_target_lag_seconds{pipeline}`: the pipeline's `targets.lagSeconds`.
    pub target_lag_seconds: GaugeVec,
    /// `spate_operator_at_maximum{pipeline}`: 1 while the latest decision is `AtMaximum`.
    pub at_maximum: IntGaugeVec,
}

impl AutoscalerMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let decisions = IntCounterVec::new(
            Opts::new(
                "spate_operator_scale_decisions_total",
                "Autoscaler decisions that changed a pipeline's size, by direction and reason",
            ),
            &["pipeline", "direction", "reason"],
        )?;
        let desired_workers = IntGaugeVec::new(
            Opts::new(
                "spate_operator_desired_workers",
                "Workers per consumer pod the autoscaler asks for",
            ),
            &["pipeline"],
        )?;
        let desired_replicas = IntGaugeVec::new(
            Opts::new(
                "spate_operator_desired_replicas",
                "Consumer pods the autoscaler asks for",
            ),
            &["pipeline"],
        )?;
        let observed_lag = IntGaugeVec::new(
            Opts::new(
                "spate_operator_observed_lag",
                "Records the pipeline's consumer group is behind",
            ),
            &["pipeline"],
        )?;
        let rates = GaugeVec::new(
            Opts::new(
                "spate_operator_estimated_rate",
                "The autoscaler's estimates, records per second: arrival (λ) and per-worker service (μ)",
            ),
            &["pipeline", "rate"],
        )?;
        let lag_seconds = GaugeVec::new(
            Opts::new(
                "spate_operator_lag_seconds",
                "Seconds of arrivals the pipeline's consumer group is behind",
            ),
            &["pipeline"],
        )?;
        let target_lag_seconds = GaugeVec::new(
            Opts::new(
                "spate_operator_target_lag_seconds",
                "The pipeline's lag target (autoscaling.targets.lagSeconds)",
            ),
            &["pipeline"],
        )?;
        let at_maximum = IntGaugeVec::new(
            Opts::new(
                "spate_operator_at_maximum",
                "1 while the autoscaler's latest decision is AtMaximum: it wants more than the bounds and partitions allow",
            ),
            &["pipeline"],
        )?;
        registry.register(Box::new(decisions.clone()))?;
        registry.register(Box::new(desired_workers.clone()))?;
        registry.register(Box::new(desired_replicas.clone()))?;
        registry.register(Box::new(observed_lag.clone()))?;
        registry.register(Box::new(rates.clone()))?;
        registry.register(Box::new(lag_seconds.clone()))?;
        registry.register(Box::new(target_lag_seconds.clone()))?;
        registry.register(Box::new(at_maximum.clone()))?;
        Ok(Self {
            decisions,
            desired_workers,
            desired_replicas,
            observed_lag,
            rates,
            lag_seconds,
            target_lag_seconds,
            at_maximum,
        })
    }

    /// Forgets every pipeline's gauges (this instance stopped leading: the new leader
    /// reports them). The decision counters stay, as counters do.
    pub fn forget_all(&self) {
        self.desired_workers.reset();
        self.desired_replicas.reset();
        self.observed_lag.reset();
        self.rates.reset();
        self.lag_seconds.reset();
        self.target_lag_seconds.reset();
        self.at_maximum.reset();
    }

    /// Forgets a pipeline's series (it was deleted or stopped autoscaling).
    pub fn forget(&self, pipeline: &str) {
        let _ = self.desired_workers.remove_label_values(&[pipeline]);
        let _ = self.desired_replicas.remove_label_values(&[pipeline]);
        let _ = self.observed_lag.remove_label_values(&[pipeline]);
        let _ = self.lag_seconds.remove_label_values(&[pipeline]);
        let _ = self.target_lag_seconds.remove_label_values(&[pipeline]);
        let _ = self.at_maximum.remove_label_values(&[pipeline]);
        for rate in ["arrival", "service"] {
            let _ = self.rates.remove_label_values(&[pipeline, rate]);
        }
    }
}
