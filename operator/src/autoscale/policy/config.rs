//! The policy's settings, mirroring the `autoscaling`, `workers` and `replicas` parts of the spec.

use std::time::Duration;

/// Inclusive bounds of a count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// The fewest.
    pub min: u32,
    /// The most.
    pub max: u32,
}

impl Bounds {
    /// `value` moved inside the bounds.
    pub fn clamp(&self, value: u32) -> u32 {
        value.clamp(self.min, self.max.max(self.min))
    }
}

/// Service levels the policy keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Targets {
    /// The most seconds of arrivals the group may be behind; below it the backlog counts as drained.
    pub lag_seconds: f64,
    /// Flush latency (ms) above which a latency rise counts as QuestDB saturating.
    pub latency_ms: f64,
    /// The most records queued for the workers of one pod; above it the backlog is not drained.
    pub queue_depth: u64,
}

impl Default for Targets {
    fn default() -> Self {
        Self {
            lag_seconds: 10.0,
            latency_ms: 2000.0,
            queue_depth: 100_000,
        }
    }
}

/// Everything the policy needs to know about what the user asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyConfig {
    /// When false, the policy holds whatever runs.
    pub enabled: bool,
    /// Spare capacity kept above the arrival rate (0.2 = 20 %).
    pub headroom: f64,
    /// The time within which a backlog should be drained once capacity is added.
    pub drain_time: Duration,
    /// Service levels.
    pub targets: Targets,
    /// How long a higher size must be wanted before scaling up (zero: at once).
    pub scale_up_stabilization: Duration,
    /// How long the backlog must stay drained with headroom before scaling down (the dwell).
    pub scale_down_stabilization: Duration,
    /// How long decisions are held after a consumer-group rebalance.
    pub rebalance_settle: Duration,
    /// Records per second one worker is expected to handle, until it has been measured.
    pub per_worker_rate_hint: Option<f64>,
    /// Time from asking for a pod to it consuming (start-up, readiness, rebalance): when pods
    /// must be added, the backlog that builds up meanwhile is sized for too.
    pub pod_ready_estimate: Duration,
    /// The surge the running pods should absorb by raising their workers alone, as a
    /// multiple of the arrival rate: enough pods run that, at `workers.max` each, they carry
    /// `surge_factor` × the calm base rate (as far as the bounds and partitions allow). They
    /// are added only while the rate is calm at its base (never during a surge, the first
    /// time included) and kept while the highest calm base of the last
    /// `scale_down_stabilization` calls for them. 1 (or less): no reserve.
    pub surge_factor: f64,
    /// Workers per pod.
    pub workers: Bounds,
    /// Consumer pods.
    pub replicas: Bounds,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            headroom: 0.2,
            drain_time: Duration::from_secs(60),
            targets: Targets::default(),
            scale_up_stabilization: Duration::ZERO,
            scale_down_stabilization: Duration::from_secs(120),
            rebalance_settle: Duration::from_secs(10),
            per_worker_rate_hint: None,
            pod_ready_estimate: Duration::from_secs(15),
            surge_factor: 1.0,
            workers: Bounds { min: 1, max: 8 },
            replicas: Bounds { min: 1, max: 4 },
        }
    }
}
