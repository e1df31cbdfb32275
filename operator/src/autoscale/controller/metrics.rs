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
    /// `spate_operator_arrival_rate{pipeline}` and `spate_operator_service_rate{pipeline}`: λ and μ, records/s.
    pub rates: GaugeVec,
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
        registry.register(Box::new(decisions.clone()))?;
        registry.register(Box::new(desired_workers.clone()))?;
        registry.register(Box::new(desired_replicas.clone()))?;
        registry.register(Box::new(observed_lag.clone()))?;
        registry.register(Box::new(rates.clone()))?;
        Ok(Self {
            decisions,
            desired_workers,
            desired_replicas,
            observed_lag,
            rates,
        })
    }

    /// Forgets a pipeline's series (it was deleted or stopped autoscaling).
    pub fn forget(&self, pipeline: &str) {
        let _ = self.desired_workers.remove_label_values(&[pipeline]);
        let _ = self.desired_replicas.remove_label_values(&[pipeline]);
        let _ = self.observed_lag.remove_label_values(&[pipeline]);
        for rate in ["arrival", "service"] {
            let _ = self.rates.remove_label_values(&[pipeline, rate]);
        }
    }
}
