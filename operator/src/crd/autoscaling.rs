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

    /// Capacity held in known windows (exchange opens, macro releases, index rebalances),
    /// ready `leadSeconds` before each window opens. Within a window the autoscaler sizes
    /// from the rates as always, never below the window's minimums.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub schedules: Vec<CapacitySchedule>,
}

/// A recurring window of held capacity.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("has(self.minReplicas) || has(self.minWorkers) || has(self.surgeFactor)").message("a schedule sets at least one of minReplicas, minWorkers and surgeFactor"))]
pub struct CapacitySchedule {
    /// A name for the window, shown in the autoscaler's decisions.
    #[schemars(length(min = 1, max = 63))]
    pub name: String,

    /// When each window opens: a five-field cron expression (minute hour day-of-month month
    /// day-of-week), read in `timeZone`. `30 9 * * 1-5` opens at 09:30 on weekdays.
    #[schemars(length(min = 9, max = 128))]
    pub cron: String,

    /// The IANA time zone the cron expression is read in (`America/New_York`,
    /// `Europe/London`); daylight-saving changes follow the zone.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,

    /// How long each window lasts from its opening.
    #[schemars(range(min = 1, max = 604800))]
    pub duration_seconds: i32,

    /// How long before the opening the capacity is asked for, so that pods are consuming
    /// when the window opens (start-up, readiness and the group's rebalance).
    #[serde(default = "default_lead")]
    #[schemars(range(min = 0, max = 86400))]
    pub lead_seconds: i32,

    /// The fewest consumer pods in the window (within `replicas.max` and the partitions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub min_replicas: Option<i32>,

    /// The fewest workers per pod in the window (within `workers.max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 256))]
    pub min_workers: Option<i32>,

    /// The surge reserve in the window, when above `autoscaling.surgeFactor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1.0, max = 100.0))]
    pub surge_factor: Option<f64>,
}

fn default_time_zone() -> String {
    "UTC".into()
}
fn default_lead() -> i32 {
    120
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
            schedules: Vec::new(),
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
