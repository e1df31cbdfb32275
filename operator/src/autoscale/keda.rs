//! A model of KEDA's Kafka scaler driving the HorizontalPodAutoscaler, with their documented defaults.
//!
//! The scaler's metric is the total lag (per partition: high watermark − committed, clamped
//! at zero), capped at `partitions × lagThreshold` unless idle consumers are allowed. The HPA,
//! every sync period, turns it into `ceil(totalLag / lagThreshold)` unless the ratio to the
//! current replicas lies within the tolerance, keeps the highest recommendation of the
//! scale-down stabilization window, limits a scale-up to `max(2 × current, current + 4)` per
//! period, and stays within min/max replicas. docs/autoscaling.md gives the sources.

use std::collections::VecDeque;
use std::time::Duration;

/// KEDA's Kafka trigger and the HPA's behaviour.
#[derive(Clone, Debug, PartialEq)]
pub struct KedaConfig {
    /// `lagThreshold` (KEDA default 10): the lag one replica is meant to carry.
    pub lag_threshold: u64,
    /// `allowIdleConsumers` (default false): when false, no more replicas than partitions.
    pub allow_idle_consumers: bool,
    /// `minReplicaCount` (KEDA default 0; modelled from 1, activation left out).
    pub min_replicas: u32,
    /// `maxReplicaCount` (KEDA default 100).
    pub max_replicas: u32,
    /// `--horizontal-pod-autoscaler-sync-period` (default 15 s).
    pub sync_period: Duration,
    /// `--horizontal-pod-autoscaler-tolerance` (default 0.1).
    pub tolerance: f64,
    /// Scale-up policies (defaults: 100 % or 4 pods per 15 s, the larger).
    pub scale_up_percent: u32,
    /// See `scale_up_percent`.
    pub scale_up_pods: u32,
    /// The period both scale-up policies count over.
    pub scale_up_period: Duration,
    /// Scale-down stabilization window (default 300 s).
    pub scale_down_window: Duration,
}

impl Default for KedaConfig {
    fn default() -> Self {
        Self {
            lag_threshold: 10,
            allow_idle_consumers: false,
            min_replicas: 1,
            max_replicas: 100,
            sync_period: Duration::from_secs(15),
            tolerance: 0.1,
            scale_up_percent: 100,
            scale_up_pods: 4,
            scale_up_period: Duration::from_secs(15),
            scale_down_window: Duration::from_secs(300),
        }
    }
}

/// KEDA's Kafka scaler metric: total lag, each partition clamped at zero, capped at
/// `partitions × lagThreshold` unless idle consumers are allowed.
pub fn kafka_scaler_metric(cfg: &KedaConfig, partition_lags: &[i64]) -> u64 {
    let total: u64 = partition_lags.iter().map(|l| (*l).max(0) as u64).sum();
    if cfg.allow_idle_consumers {
        total
    } else {
        total.min(partition_lags.len() as u64 * cfg.lag_threshold.max(1))
    }
}

/// The HPA's state for one scale target: past recommendations and scale events.
#[derive(Clone, Debug)]
pub struct Hpa {
    cfg: KedaConfig,
    recommendations: VecDeque<(Duration, u32)>,
    scale_ups: VecDeque<(Duration, u32)>,
    next_sync: Duration,
}

impl Hpa {
    /// An HPA whose first sync happens at `first_sync` (its phase against the load).
    pub fn new(cfg: KedaConfig, first_sync: Duration) -> Self {
        Self {
            cfg,
            recommendations: VecDeque::new(),
            scale_ups: VecDeque::new(),
            next_sync: first_sync,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &KedaConfig {
        &self.cfg
    }

    /// Whether a sync is due at `now`; if so the caller samples the metric and calls [`Hpa::sync`].
    pub fn due(&self, now: Duration) -> bool {
        now >= self.next_sync
    }

    /// One HPA sync: the metric (sampled now, as KEDA's metrics adapter queries the scaler
    /// when the HPA asks) and the current replicas in, the replicas to set out.
    pub fn sync(&mut self, now: Duration, metric: u64, current: u32) -> u32 {
        self.next_sync = now + self.cfg.sync_period;
        let threshold = self.cfg.lag_threshold.max(1) as f64;
        let current = current.max(1);
        // External metric, AverageValue target: usage ratio against the current replicas.
        let ratio = metric as f64 / (threshold * current as f64);
        let raw = if (ratio - 1.0).abs() <= self.cfg.tolerance {
            current
        } else {
            (metric as f64 / threshold).ceil() as u32
        };

        // Stabilization: highest recommendation over the scale-down window, none for scale-up.
        self.recommendations.push_back((now, raw));
        while self
            .recommendations
            .front()
            .is_some_and(|(t, _)| *t + self.cfg.scale_down_window < now)
        {
            self.recommendations.pop_front();
        }
        let down_floor = self
            .recommendations
            .iter()
            .map(|(_, r)| *r)
            .max()
            .unwrap_or(raw);
        let mut desired = current;
        if desired < raw {
            desired = raw;
        }
        if desired > down_floor {
            desired = down_floor;
        }

        // Scale-up rate: the larger of the policies, counted from the replicas at the period's start.
        while self
            .scale_ups
            .front()
            .is_some_and(|(t, _)| *t + self.cfg.scale_up_period <= now)
        {
            self.scale_ups.pop_front();
        }
        let added: u32 = self.scale_ups.iter().map(|(_, n)| *n).sum();
        let period_start = current.saturating_sub(added);
        let by_percent = period_start + period_start * self.cfg.scale_up_percent / 100;
        let by_pods = period_start + self.cfg.scale_up_pods;
        let up_limit = by_percent.max(by_pods);
        desired = desired.min(up_limit);

        let max = self.cfg.max_replicas.max(self.cfg.min_replicas);
        desired = desired.clamp(self.cfg.min_replicas, max);
        if desired > current {
            self.scale_ups.push_back((now, desired - current));
        }
        desired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: u64) -> Duration {
        Duration::from_secs(x)
    }

    #[test]
    fn the_metric_is_the_total_lag_with_negative_lags_clamped() {
        let cfg = KedaConfig::default();
        assert_eq!(kafka_scaler_metric(&cfg, &[5, -3, 4]), 9);
    }

    #[test]
    fn the_metric_is_capped_at_partitions_times_the_threshold_unless_idle_consumers_are_allowed() {
        let cfg = KedaConfig::default();
        assert_eq!(kafka_scaler_metric(&cfg, &[1000, 1000, 1000]), 30);
        let idle = KedaConfig {
            allow_idle_consumers: true,
            ..cfg
        };
        assert_eq!(kafka_scaler_metric(&idle, &[1000, 1000, 1000]), 3000);
    }

    #[test]
    fn changes_within_the_tolerance_are_ignored() {
        let mut hpa = Hpa::new(KedaConfig::default(), s(0));
        assert_eq!(hpa.sync(s(0), 105, 10), 10);
        assert_eq!(hpa.sync(s(15), 125, 10), 13);
    }

    #[test]
    fn a_scale_up_is_limited_to_doubling_or_four_pods_per_period() {
        let mut hpa = Hpa::new(KedaConfig::default(), s(0));
        assert_eq!(hpa.sync(s(0), 10_000, 1), 5);
        assert_eq!(hpa.sync(s(15), 10_000, 5), 10);
        assert_eq!(hpa.sync(s(30), 10_000, 10), 20);
    }

    #[test]
    fn a_scale_down_keeps_the_highest_recommendation_of_the_last_five_minutes() {
        let mut hpa = Hpa::new(KedaConfig::default(), s(0));
        assert_eq!(hpa.sync(s(0), 200, 20), 20);
        assert_eq!(hpa.sync(s(15), 10, 20), 20);
        assert_eq!(hpa.sync(s(299), 10, 20), 20);
        assert_eq!(hpa.sync(s(301), 10, 20), 1);
    }

    #[test]
    fn the_replicas_stay_within_min_and_max() {
        let cfg = KedaConfig {
            min_replicas: 2,
            max_replicas: 6,
            ..KedaConfig::default()
        };
        let mut hpa = Hpa::new(cfg, s(0));
        assert_eq!(hpa.sync(s(0), 1000, 4), 6);
        let mut hpa = Hpa::new(
            KedaConfig {
                min_replicas: 2,
                ..KedaConfig::default()
            },
            s(0),
        );
        assert_eq!(hpa.sync(s(0), 0, 2), 2);
    }

    #[test]
    fn syncs_come_every_period() {
        let mut hpa = Hpa::new(KedaConfig::default(), s(7));
        assert!(!hpa.due(s(6)));
        assert!(hpa.due(s(7)));
        hpa.sync(s(7), 0, 1);
        assert!(!hpa.due(s(21)));
        assert!(hpa.due(s(22)));
    }
}
