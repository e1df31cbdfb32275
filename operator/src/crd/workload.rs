//! Sizing, scheduling and tuning of a pipeline's consumer pods.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, Toleration};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Bounds of the workers inside each consumer pod.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self.min <= self.max").message("workers.min must be less than or equal to workers.max"))]
#[x_kube(validation = kube::core::Rule::new("!has(self.initial) || (self.initial >= self.min && self.initial <= self.max)").message("workers.initial must lie between workers.min and workers.max"))]
pub struct WorkerBounds {
    /// The fewest workers a pod runs (1 to 256).
    #[schemars(range(min = 1, max = 256))]
    pub min: i32,

    /// The most workers a pod runs (1 to 256).
    #[schemars(range(min = 1, max = 256))]
    pub max: i32,

    /// The workers a pod starts with; `min` when absent. The autoscaler changes the
    /// count live, without restarting the pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 256))]
    pub initial: Option<i32>,
}

impl Default for WorkerBounds {
    fn default() -> Self {
        Self {
            min: 1,
            max: 8,
            initial: None,
        }
    }
}

/// Bounds of the consumer pods, and the count `kubectl scale` sets.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("self.min <= self.max").message("replicas.min must be less than or equal to replicas.max"))]
pub struct ReplicaBounds {
    /// The fewest consumer pods (0 to 1000).
    #[schemars(range(min = 0, max = 1000))]
    pub min: i32,

    /// The most consumer pods (0 to 1000); more pods than partitions sit idle.
    #[schemars(range(min = 0, max = 1000))]
    pub max: i32,

    /// The pod count when autoscaling is off, kept within [min, max]; the scale
    /// subresource reads and writes it. `min` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1000))]
    pub desired: Option<i32>,
}

impl Default for ReplicaBounds {
    fn default() -> Self {
        Self {
            min: 1,
            max: 4,
            desired: None,
        }
    }
}

/// When the kubelet pulls the consumer image.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImagePullPolicy {
    /// Pull on every start.
    Always,
    /// Pull when the node lacks the image.
    IfNotPresent,
    /// Never pull.
    Never,
}

impl ImagePullPolicy {
    /// The Kubernetes value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// Scheduling overrides of the consumer pods.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SchedulingSpec {
    /// Node labels the pods require.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    /// Taints the pods tolerate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    /// Node and pod affinity of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// The PriorityClass of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// Consumer settings beyond source and sink.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new(batch_order_rule()).message(kube::core::Message::Message(BatchBounds::order_message())))]
pub struct ConsumerTuning {
    /// Rows per QuestDB flush the consumer starts with (`BATCH_SIZE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000000))]
    pub batch_initial: Option<i32>,

    /// The smallest adaptive batch (`SPATE_BATCH_MIN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000000))]
    pub batch_min: Option<i32>,

    /// The largest adaptive batch (`SPATE_BATCH_MAX`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000000))]
    pub batch_max: Option<i32>,

    /// How long a partial batch may wait, in milliseconds (`SPATE_LINGER_MS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 60000))]
    pub linger_ms: Option<i32>,

    /// Seconds the consumer has to flush and commit on shutdown; the pod's termination
    /// grace period adds a margin to it.
    #[serde(default = "default_grace")]
    #[schemars(range(min = 1, max = 3600))]
    pub shutdown_grace_seconds: i32,

    /// Log format of the consumer: json or text.
    #[serde(default = "default_log_format")]
    #[schemars(length(max = 8))]
    #[x_kube(validation = kube::core::Rule::new("self == 'json' || self == 'text'").message("tuning.logFormat must be json or text"))]
    pub log_format: String,
}

/// The consumer's batch bounds, `min <= initial <= max`; a field left unset takes the
/// consumer's default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchBounds {
    pub min: i64,
    pub initial: i64,
    pub max: i64,
}

impl BatchBounds {
    /// The consumer's own defaults, from its settings table (which its configuration
    /// loads them from).
    pub fn consumer_defaults() -> Self {
        let default = |key: &str| -> i64 {
            spate_consumer::config::Setting::find(key)
                .and_then(|s| s.default.value())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("the consumer's {key} has a numeric default"))
        };
        Self {
            min: default("batch.min"),
            initial: default("batch.initial"),
            max: default("batch.max"),
        }
    }

    /// Why a tuning is refused when its batch bounds are not ordered.
    pub fn order_message() -> String {
        let d = BatchBounds::consumer_defaults();
        format!(
            "tuning must satisfy batchMin <= batchInitial <= batchMax, an unset field taking the consumer's default (batchMin {}, batchInitial {}, batchMax {})",
            d.min, d.initial, d.max
        )
    }

    /// Whether the consumer accepts these bounds.
    pub fn ordered(&self) -> bool {
        self.min <= self.initial && self.initial <= self.max
    }
}

impl ConsumerTuning {
    /// The batch bounds the consumer runs with.
    pub fn batch_bounds(&self) -> BatchBounds {
        let d = BatchBounds::consumer_defaults();
        BatchBounds {
            min: self.batch_min.map_or(d.min, i64::from),
            initial: self.batch_initial.map_or(d.initial, i64::from),
            max: self.batch_max.map_or(d.max, i64::from),
        }
    }
}

/// The CEL rule the consumer's batch check amounts to, unset fields at its defaults.
fn batch_order_rule() -> String {
    let d = BatchBounds::consumer_defaults();
    let min = format!("(has(self.batchMin) ? self.batchMin : {})", d.min);
    let initial = format!(
        "(has(self.batchInitial) ? self.batchInitial : {})",
        d.initial
    );
    let max = format!("(has(self.batchMax) ? self.batchMax : {})", d.max);
    format!("{min} <= {initial} && {initial} <= {max}")
}

fn default_grace() -> i32 {
    25
}

fn default_log_format() -> String {
    "json".into()
}

impl Default for ConsumerTuning {
    fn default() -> Self {
        Self {
            batch_initial: None,
            batch_min: None,
            batch_max: None,
            linger_ms: None,
            shutdown_grace_seconds: default_grace(),
            log_format: default_log_format(),
        }
    }
}
