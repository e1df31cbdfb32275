//! The observed state of a pipeline, written by the reconciler and the autoscaler.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The observed state of an IngestionPipeline.
///
/// The reconciler (field manager `spate-operator`) owns every field but `lag`,
/// `lagSeconds`, `rateIn`, `rateOut`, `decision`, `lastScaleTime`, `lastScaleReason`,
/// `autoscaler` and `autoscalerMemory`, which the autoscaler owns.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IngestionPipelineStatus {
    /// Ready, Progressing and Degraded, each with a reason and a message, and the kstatus
    /// conditions Reconciling (while Progressing) and Stalled (when the pipeline cannot
    /// progress without a change).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,

    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Consumer pods the Deployment runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,

    /// Consumer pods that are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,

    /// Workers per consumer pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<i32>,

    /// Workers per pod × consumer pods, as `<workers>x<pods>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,

    /// The label selector of the consumer pods, for the scale subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,

    /// Records the consumer group is behind, summed over partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<i64>,

    /// The lag in seconds of arrivals: records behind ÷ records arriving per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<f64>,

    /// Records arriving per second (the growth of the partitions' high watermarks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_in: Option<i64>,

    /// Records done per second: written to QuestDB or dead-lettered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_out: Option<i64>,

    /// The autoscaler's latest decision (its reason), whether or not it changed the size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,

    /// When the pipeline was last scaled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_time: Option<Time>,

    /// Why the pipeline was last scaled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_reason: Option<String>,

    /// The autoscaler's latest decision; the reconciler sizes the Deployment from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler: Option<AutoscalerStatus>,

    /// What the autoscaler remembers between decisions (the calm rate its surge reserve is
    /// sized from, the scale-down dwell and its back-off), so that a new leader goes on
    /// where the last one stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaler_memory: Option<AutoscalerMemory>,
}

/// The autoscaler's latest decision.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalerStatus {
    /// The consumer pods the autoscaler wants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_replicas: Option<i32>,

    /// The workers per pod the autoscaler wants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_workers: Option<i32>,

    /// Why it wants them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,

    /// When it decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_time: Option<Time>,
}

/// The autoscaler's memory. Times are Unix milliseconds.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct AutoscalerMemory {
    /// The operator instance that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer: Option<String>,

    /// Arrival rates of calm windows at the base, each higher than every later one; the
    /// surge reserve is sized from them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calm_bases: Vec<RememberedRate>,

    /// Workers enough at each decision of the scale-down dwell, each more than every later
    /// one: scale-down goes no lower than the first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub down_needs: Vec<RememberedWorkers>,

    /// How many times the scale-down dwell is doubled (each quick reversal adds one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dwell_doublings: Option<i32>,

    /// Since when a bigger size is wanted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up_since_ms: Option<i64>,

    /// Since when a smaller size is enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_since_ms: Option<i64>,

    /// When the size last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_scale_ms: Option<i64>,

    /// When the size last went down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_down_ms: Option<i64>,

    /// The sink's latency and the throughput at the last scale-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_up: Option<RememberedScaleUp>,
}

/// A rate seen at a time.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RememberedRate {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Records per second.
    pub per_second: f64,
}

/// A worker count needed at a time.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RememberedWorkers {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Workers in all.
    pub workers: i32,
}

/// The sink and the throughput when capacity was last added.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RememberedScaleUp {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// QuestDB's flush latency then, seconds.
    pub flush_latency_seconds: f64,
    /// Records per second processed then.
    pub throughput: f64,
}
