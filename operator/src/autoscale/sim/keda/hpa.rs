//! The HorizontalPodAutoscaler's algorithm: desired replicas from an external metric with an
//! `AverageValue` target, the tolerance, the stabilization windows and the `behavior` policies.

use std::collections::VecDeque;
use std::time::Duration;

use super::KedaConfig;

/// A scaling policy's unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// A number of pods per period.
    Pods,
    /// A percentage of the replicas at the period's start.
    Percent,
}

/// One `HPAScalingPolicy`: at most `value` pods or per cent per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HpaPolicy {
    /// Pods or per cent.
    pub kind: PolicyKind,
    /// How many.
    pub value: u32,
    /// Over how long (`periodSeconds`).
    pub period: Duration,
}

/// `selectPolicy`: which policy limits when several apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectPolicy {
    /// The one allowing the largest change (the default).
    Max,
    /// The one allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// `HPAScalingRules` for one direction.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaRules {
    /// `stabilizationWindowSeconds`.
    pub stabilization_window: Duration,
    /// `selectPolicy`.
    pub select: SelectPolicy,
    /// `policies`.
    pub policies: Vec<HpaPolicy>,
}

/// The HPA's `behavior`; its default is the documented one.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaBehavior {
    /// Scale-up: no stabilization, 100 % or 4 pods per 15 s, the larger.
    pub scale_up: HpaRules,
    /// Scale-down: the highest recommendation of 300 s, then 100 % per 15 s.
    pub scale_down: HpaRules,
}

impl Default for HpaBehavior {
    fn default() -> Self {
        let every = Duration::from_secs(15);
        Self {
            scale_up: HpaRules {
                stabilization_window: Duration::ZERO,
                select: SelectPolicy::Max,
                policies: vec![
                    HpaPolicy {
                        kind: PolicyKind::Percent,
                        value: 100,
                        period: every,
                    },
                    HpaPolicy {
                        kind: PolicyKind::Pods,
                        value: 4,
                        period: every,
                    },
                ],
            },
            scale_down: HpaRules {
                stabilization_window: Duration::from_secs(300),
                select: SelectPolicy::Max,
                policies: vec![HpaPolicy {
                    kind: PolicyKind::Percent,
                    value: 100,
                    period: every,
                }],
            },
        }
    }
}

/// The HPA's state for one scale target: past recommendations and scale events.
#[derive(Clone, Debug)]
pub struct Hpa {
    cfg: KedaConfig,
    recommendations: VecDeque<(Duration, u32)>,
    /// (when, pods added) and (when, pods removed).
    ups: Vec<(Duration, u32)>,
    downs: Vec<(Duration, u32)>,
    next_sync: Duration,
}

impl Hpa {
    /// An HPA whose first sync happens at `first_sync` (its phase against the load).
    pub fn new(cfg: KedaConfig, first_sync: Duration) -> Self {
        Self {
            cfg,
            recommendations: VecDeque::new(),
            ups: Vec::new(),
            downs: Vec::new(),
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
    /// when the HPA asks) and the current replicas in, the replicas to set out. The HPA's
    /// own bounds are `max(minReplicaCount, 1)..=maxReplicaCount`.
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
        let desired = self.stabilized(now, raw, current);
        let desired = self.rate_limited(now, desired, current);
        let min = self.cfg.min_replicas.max(1);
        let desired = desired.clamp(min, self.cfg.max_replicas.max(min));
        if desired > current {
            self.ups.push((now, desired - current));
        } else if desired < current {
            self.downs.push((now, current - desired));
        }
        desired
    }

    /// The recommendation kept by the stabilization windows: scale up only to the lowest
    /// recommendation of the up window, down only to the highest of the down window.
    fn stabilized(&mut self, now: Duration, raw: u32, current: u32) -> u32 {
        let (up, down) = (
            self.cfg.behavior.scale_up.stabilization_window,
            self.cfg.behavior.scale_down.stabilization_window,
        );
        let keep = up.max(down);
        self.recommendations.push_back((now, raw));
        while self
            .recommendations
            .front()
            .is_some_and(|(t, _)| *t + keep < now)
        {
            self.recommendations.pop_front();
        }
        let within = |w: Duration| {
            self.recommendations
                .iter()
                .filter(move |(t, _)| *t + w >= now)
        };
        let up_rec = within(up).map(|(_, r)| *r).min().unwrap_or(raw);
        let down_rec = within(down).map(|(_, r)| *r).max().unwrap_or(raw);
        current.max(up_rec).min(down_rec)
    }

    /// `desired` within the behavior's policies, counted from the replicas at each period's start.
    fn rate_limited(&self, now: Duration, desired: u32, current: u32) -> u32 {
        let in_period = |events: &[(Duration, u32)], period: Duration| -> u32 {
            events
                .iter()
                .filter(|(t, _)| *t + period > now)
                .map(|(_, n)| *n)
                .sum()
        };
        let behavior = &self.cfg.behavior;
        if desired > current {
            let rules = &behavior.scale_up;
            let limits = rules.policies.iter().map(|p| {
                let start = (current + in_period(&self.downs, p.period))
                    .saturating_sub(in_period(&self.ups, p.period));
                match p.kind {
                    PolicyKind::Pods => start + p.value,
                    PolicyKind::Percent => {
                        (start as f64 * (1.0 + p.value as f64 / 100.0)).ceil() as u32
                    }
                }
            });
            let limit = match rules.select {
                SelectPolicy::Max => limits.max(),
                SelectPolicy::Min => limits.min(),
                SelectPolicy::Disabled => Some(current),
            };
            desired.min(limit.unwrap_or(current).max(current))
        } else if desired < current {
            let rules = &behavior.scale_down;
            let limits = rules.policies.iter().map(|p| {
                let start = (current + in_period(&self.downs, p.period))
                    .saturating_sub(in_period(&self.ups, p.period));
                match p.kind {
                    PolicyKind::Pods => start.saturating_sub(p.value),
                    PolicyKind::Percent => {
                        (start as f64 * (1.0 - p.value as f64 / 100.0)).max(0.0) as u32
                    }
                }
            });
            let limit = match rules.select {
                SelectPolicy::Max => limits.min(),
                SelectPolicy::Min => limits.max(),
                SelectPolicy::Disabled => Some(current),
            };
            desired.max(limit.unwrap_or(current).min(current))
        } else {
            desired
        }
    }
}
