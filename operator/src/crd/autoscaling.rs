//! The autoscaling settings of a pipeline (read by the autoscaler's policy).

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the operator sizes a pipeline. Workers change first (live), replicas when the
/// workers per pod reach `workers.max`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalingSpec {
    /// Let the operator choose workers and replicas; when false, `replicas.desired`
    /// (the scale subresource) and `workers.initial` hold.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Spare capacity kept above the measured arrival rate, as a fraction (0.2 = 20 %).
    #[serde(default = "default_headroom")]
    #[schemars(range(min = 0.0, max = 10.0))]
    pub headroom: f64,

    /// Seconds within which a backlog should be drained once capacity is added.
    #[serde(default = "default_drain")]
    #[schemars(range(min = 1, max = 86400))]
    pub drain_time_seconds: i32,

    /// Service levels the autoscaler keeps.
    #[serde(default)]
    pub targets: AutoscalingTargets,

    /// Dwell times before acting on a change of load.
    #[serde(default)]
    pub stabilization: Stabilization,

    /// Seconds to hold decisions after a consumer-group rebalance.
    #[serde(default = "default_settle")]
    #[schemars(range(min = 0, max = 3600))]
    pub rebalance_settle_seconds: i32,

    /// The trades per second one worker is expected to handle, used until the service
    /// rate has been measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self > 0.0").message("autoscaling.perWorkerRateHint must be positive"))]
    pub per_worker_rate_hint: Option<f64>,

    /// The surge the running pods absorb by raising their workers alone, as a multiple of
    /// the arrival rate: the operator runs enough pods that, at `workers.max` each, they
    /// carry `surgeFactor` × the arrival rate (within `replicas` and the partitions), each
    /// running only the workers the load needs. The reserve is sized from the calm base (the
    /// rate of a window trended flat for 30 s, within `headroom` of the last base), and its
    /// pods join only then — never while the rate rises or the backlog grows, the first time
    /// included; they are kept while the highest calm base of the last
    /// `stabilization.scaleDownSeconds` still calls for them. 1 keeps no reserve: pods
    /// are added when the load needs them, and a spike waits for their start-up and the
    /// group's rebalance. The reserve costs pod-seconds: see docs/autoscaling.md.
    #[serde(default = "default_surge_factor")]
    #[schemars(range(min = 1.0, max = 100.0))]
    pub surge_factor: f64,
}

fn yes() -> bool {
    true
}
fn default_headroom() -> f64 {
    0.2
}
fn default_drain() -> i32 {
    60
}
fn default_settle() -> i32 {
    10
}
fn default_surge_factor() -> f64 {
    1.0
}

impl Default for AutoscalingSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            headroom: default_headroom(),
            drain_time_seconds: default_drain(),
            targets: AutoscalingTargets::default(),
            stabilization: Stabilization::default(),
            rebalance_settle_seconds: default_settle(),
            per_worker_rate_hint: None,
            surge_factor: default_surge_factor(),
        }
    }
}

/// Service levels of a pipeline.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalingTargets {
    /// The most seconds of arrivals the group may be behind.
    #[serde(default = "default_lag_seconds")]
    #[schemars(range(min = 0.1, max = 86400.0))]
    pub lag_seconds: f64,

    /// The p99 end-to-end latency (Kafka append to QuestDB acknowledgement), in milliseconds.
    #[serde(default = "default_latency_ms")]
    #[schemars(range(min = 1.0, max = 3600000.0))]
    pub latency_ms: f64,

    /// The most records queued for the workers of one pod.
    #[serde(default = "default_queue_depth")]
    #[schemars(range(min = 1, max = 100000000))]
    pub queue_depth: i64,
}

fn default_lag_seconds() -> f64 {
    10.0
}
fn default_latency_ms() -> f64 {
    2000.0
}
fn default_queue_depth() -> i64 {
    100_000
}

impl Default for AutoscalingTargets {
    fn default() -> Self {
        Self {
            lag_seconds: default_lag_seconds(),
            latency_ms: default_latency_ms(),
            queue_depth: default_queue_depth(),
        }
    }
}

/// Dwell times of scaling decisions.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stabilization {
    /// Seconds a higher size must be wanted before scaling up (0 = at once).
    #[serde(default)]
    #[schemars(range(min = 0, max = 3600))]
    pub scale_up_seconds: i32,

    /// Seconds the backlog must stay drained with headroom before scaling down.
    #[serde(default = "default_scale_down")]
    #[schemars(range(min = 0, max = 86400))]
    pub scale_down_seconds: i32,
}

fn default_scale_down() -> i32 {
    120
}

impl Default for Stabilization {
    fn default() -> Self {
        Self {
            scale_up_seconds: 0,
            scale_down_seconds: default_scale_down(),
        }
    }
}
