//! The `IngestionPipeline` custom resource (group `spate.dev`, version `v1alpha1`).

mod autoscaling;
mod source;
mod status;
mod workload;
mod yaml;

pub use autoscaling::{AutoscalingSpec, AutoscalingTargets, CapacitySchedule, Stabilization};
pub use source::{
    CaRef, ClientCertificateRef, GroupProtocol, InputFormat, KafkaCredentials, KafkaTls,
    QuestdbCredentials, SaslMechanism, SecretKeyRef, SecurityProtocol, SinkSpec, SourceSpec,
};
pub use status::{
    AutoscalerMemory, AutoscalerStatus, IngestionPipelineStatus, RememberedRate, RememberedScaleUp,
    RememberedWorkers,
};
pub use workload::{
    BatchBounds, ConsumerTuning, ImagePullPolicy, ReplicaBounds, SchedulingSpec, WorkerBounds,
};
pub use yaml::{CRD_PATH, crd_yaml};

use k8s_openapi::api::core::v1::ResourceRequirements;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// The API group of spate's resources.
pub const GROUP: &str = "spate.dev";

/// A Kafka → QuestDB ingestion pipeline: the operator runs it as a Deployment of
/// spate-consumer pods and keeps it sized to the load.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "spate.dev",
    version = "v1alpha1",
    kind = "IngestionPipeline",
    plural = "ingestionpipelines",
    shortname = "ipl",
    category = "spate",
    namespaced,
    status = "IngestionPipelineStatus",
    derive = "PartialEq",
    doc = "A Kafka to QuestDB ingestion pipeline, run by spate-operator as a Deployment of spate-consumer pods that it scales to the load.",
    scale(
        spec_replicas_path = ".spec.replicas.desired",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether every desired consumer pod is ready"
    ),
    printcolumn(
        name = "Size",
        type_ = "string",
        json_path = ".status.size",
        description = "Workers per pod x consumer pods"
    ),
    printcolumn(
        name = "Lag(s)",
        type_ = "number",
        json_path = ".status.lagSeconds",
        description = "Seconds of arrivals the consumer group is behind"
    ),
    printcolumn(
        name = "In/s",
        type_ = "integer",
        json_path = ".status.rateIn",
        description = "Records arriving per second"
    ),
    printcolumn(
        name = "Out/s",
        type_ = "integer",
        json_path = ".status.rateOut",
        description = "Records done (written or dead-lettered) per second"
    ),
    printcolumn(
        name = "Decision",
        type_ = "string",
        json_path = ".status.decision",
        description = "The autoscaler's latest decision"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Lag",
        type_ = "integer",
        json_path = ".status.lag",
        description = "Records the consumer group is behind, summed over partitions",
        priority = "1"
    ),
    printcolumn(
        name = "Replicas",
        type_ = "integer",
        json_path = ".status.replicas",
        description = "Consumer pods the Deployment runs",
        priority = "1"
    ),
    printcolumn(
        name = "Available",
        type_ = "integer",
        json_path = ".status.readyReplicas",
        description = "Consumer pods that are ready",
        priority = "1"
    ),
    printcolumn(
        name = "Last-Scale",
        type_ = "date",
        json_path = ".status.lastScaleTime",
        description = "When the autoscaler last changed the size",
        priority = "1"
    ),
    printcolumn(
        name = "Scaled-For",
        type_ = "string",
        json_path = ".status.autoscaler.reason",
        description = "Why the autoscaler last changed the size",
        priority = "1"
    ),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        description = "Why the pipeline is or is not ready",
        priority = "1"
    ),
    selectable = ".spec.paused",
    validation = kube::core::Rule::new(
        "self.metadata.name.size() <= 52 && self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')"
    )
    .message("metadata.name must be a DNS-1035 label of at most 52 characters (lower-case letters, digits and '-', starting with a letter)")
)]
#[serde(rename_all = "camelCase")]
pub struct IngestionPipelineSpec {
    /// The Kafka topics to consume and how to reach them.
    pub source: SourceSpec,

    /// The message format of the topics: auto (detect per message), normalized,
    /// coinbase-match or coinbase-market-trades.
    #[serde(default)]
    pub format: InputFormat,

    /// The QuestDB table the trades are written to and how to reach it.
    pub sink: SinkSpec,

    /// Bounds of the number of workers inside each consumer pod.
    #[serde(default)]
    pub workers: WorkerBounds,

    /// Bounds of the number of consumer pods, and the desired count the scale
    /// subresource (`kubectl scale`) sets when autoscaling is off.
    #[serde(default)]
    pub replicas: ReplicaBounds,

    /// How the operator sizes the pipeline from lag, arrival rate, queue depth and latency.
    #[serde(default)]
    pub autoscaling: AutoscalingSpec,

    /// The spate-consumer container image; the operator's default image when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// When the kubelet pulls the image: Always, IfNotPresent or Never (the Kubernetes
    /// default for the tag when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<ImagePullPolicy>,

    /// CPU and memory requests and limits of the consumer container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Where the consumer pods may be scheduled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<SchedulingSpec>,

    /// Batching, shutdown and logging settings passed to the consumer.
    #[serde(default)]
    pub tuning: ConsumerTuning,

    /// Scale the pipeline to zero pods while keeping every other object and setting.
    #[serde(default)]
    pub paused: bool,
}
