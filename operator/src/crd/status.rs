//! The observed state of a pipeline, written by the reconciler and the autoscaler.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The observed state of an IngestionPipeline.
///
/// The reconciler (field manager `spate-operator`) owns every field but `lag`,
/// `lagSeconds`, `rateIn`, `rateOut`, `decision`, `lastScaleTime`, `lastScaleReason` and
/// `autoscaler`, which the autoscaler owns.
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
