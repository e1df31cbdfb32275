//! A model of KEDA's Kafka scaler driving the HorizontalPodAutoscaler, with their documented defaults.
//!
//! The scaler's metric is the total lag (per partition: high watermark − committed, clamped
//! at zero), capped at `partitions × lagThreshold` unless idle consumers are allowed (or at
//! the partitions with lag, with `limitToPartitionsWithLag`). KEDA itself scales between 0 and
//! 1 pod on the scaler's activation, every `pollingInterval`; the HPA, every sync period,
//! turns the metric into `ceil(totalLag / lagThreshold)` unless the ratio to the current
//! replicas lies within the tolerance, stabilizes it and limits the rate by its `behavior`,
//! and stays within min/max replicas. docs/autoscaling.md gives the sources.

mod hpa;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use hpa::{Hpa, HpaBehavior, HpaPolicy, HpaRules, PolicyKind, SelectPolicy};

/// KEDA's Kafka trigger, its ScaledObject, and the HPA's behaviour.
#[derive(Clone, Debug, PartialEq)]
pub struct KedaConfig {
    /// `lagThreshold` (default 10): the lag one replica is meant to carry.
    pub lag_threshold: u64,
    /// `activationLagThreshold` (default 0): the scaler is active while the total lag is above it.
    pub activation_lag_threshold: u64,
    /// `allowIdleConsumers` (default false): when false, no more replicas than partitions.
    pub allow_idle_consumers: bool,
    /// `limitToPartitionsWithLag` (default false): when true, no more replicas than the
    /// partitions with a lag.
    pub limit_to_partitions_with_lag: bool,
    /// `minReplicaCount` (default 0: KEDA scales the target to zero while the scaler is
    /// inactive; the HPA below it keeps at least 1).
    pub min_replicas: u32,
    /// `maxReplicaCount` (default 100).
    pub max_replicas: u32,
    /// `pollingInterval` (default 30 s): how often KEDA checks the scaler's activation.
    pub polling_interval: Duration,
    /// `cooldownPeriod` (default 300 s): how long the scaler must be inactive before KEDA
    /// scales the target to zero (with `minReplicaCount` 0).
    pub cooldown_period: Duration,
    /// `--horizontal-pod-autoscaler-sync-period` (default 15 s).
    pub sync_period: Duration,
    /// `--horizontal-pod-autoscaler-tolerance` (default 0.1).
    pub tolerance: f64,
    /// The HPA's `behavior` (defaults: see [`HpaBehavior`]).
    pub behavior: HpaBehavior,
}

impl Default for KedaConfig {
    fn default() -> Self {
        Self {
            lag_threshold: 10,
            activation_lag_threshold: 0,
            allow_idle_consumers: false,
            limit_to_partitions_with_lag: false,
            min_replicas: 0,
            max_replicas: 100,
            polling_interval: Duration::from_secs(30),
            cooldown_period: Duration::from_secs(300),
            sync_period: Duration::from_secs(15),
            tolerance: 0.1,
            behavior: HpaBehavior::default(),
        }
    }
}

/// KEDA's Kafka scaler metric: total lag, each partition clamped at zero, capped at
/// `partitions × lagThreshold` unless idle consumers are allowed — or at the partitions
/// with a lag × lagThreshold with `limitToPartitionsWithLag`.
pub fn kafka_scaler_metric(cfg: &KedaConfig, partition_lags: &[i64]) -> u64 {
    let total: u64 = partition_lags.iter().map(|l| (*l).max(0) as u64).sum();
    let threshold = cfg.lag_threshold.max(1);
    if cfg.limit_to_partitions_with_lag {
        let with_lag = partition_lags.iter().filter(|l| **l > 0).count() as u64;
        total.min(with_lag * threshold)
    } else if cfg.allow_idle_consumers {
        total
    } else {
        total.min(partition_lags.len() as u64 * threshold)
    }
}

/// The scaler is active: the total lag is above `activationLagThreshold`.
pub fn kafka_scaler_active(cfg: &KedaConfig, partition_lags: &[i64]) -> bool {
    let total: u64 = partition_lags.iter().map(|l| (*l).max(0) as u64).sum();
    total > cfg.activation_lag_threshold
}

/// KEDA's own scaling between zero and one pod: every `pollingInterval` it checks the
/// scaler's activation, scales a target at zero to one pod when active, and scales it to
/// zero once inactive for `cooldownPeriod` (only with `minReplicaCount` 0).
#[derive(Clone, Debug)]
pub struct Activation {
    next_poll: Duration,
    last_active: Option<Duration>,
}

impl Activation {
    /// The first poll at `first_poll`.
    pub fn new(first_poll: Duration) -> Self {
        Self {
            next_poll: first_poll,
            last_active: None,
        }
    }

    /// Whether a poll is due at `now`.
    pub fn due(&self, now: Duration) -> bool {
        now >= self.next_poll
    }

    /// One poll: the replicas to set, if KEDA itself changes them.
    pub fn poll(
        &mut self,
        cfg: &KedaConfig,
        now: Duration,
        active: bool,
        replicas: u32,
    ) -> Option<u32> {
        self.next_poll = now + cfg.polling_interval;
        if active {
            self.last_active = Some(now);
            return (replicas == 0).then_some(cfg.min_replicas.max(1));
        }
        let idle_since = *self.last_active.get_or_insert(now);
        let cooled = now.saturating_sub(idle_since) >= cfg.cooldown_period;
        (cfg.min_replicas == 0 && replicas > 0 && cooled).then_some(0)
    }
}
