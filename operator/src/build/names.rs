//! Names, labels and owner references shared by a pipeline's child objects.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};

use crate::crd::IngestionPipeline;

/// The field manager of every server-side apply the reconciler makes.
pub const FIELD_MANAGER: &str = "spate-operator";
/// The label carrying the pipeline's name on every child and pod.
pub const PIPELINE_LABEL: &str = "spate.dev/pipeline";
/// The pod-template annotation whose change rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "spate.dev/config-hash";
/// The consumer's HTTP port: metrics, health and the control API.
pub const METRICS_PORT: i32 = 9464;
/// The name of the consumer container.
pub const CONTAINER_NAME: &str = "consumer";

/// The name of the Deployment, Service, ConfigMap, ServiceAccount and PodDisruptionBudget.
pub fn workload_name(pipeline: &IngestionPipeline) -> String {
    pipeline.name_any()
}

/// The labels that select a pipeline's pods (immutable once the Deployment exists).
pub fn selector_labels(pipeline_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "spate-consumer".to_string(),
        ),
        (PIPELINE_LABEL.to_string(), pipeline_name.to_string()),
    ])
}

/// The selector of a pipeline's pods as a string (`status.selector`, `kubectl get -l`).
pub fn selector_string(pipeline_name: &str) -> String {
    selector_labels(pipeline_name)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The labels every child object and pod carries.
pub fn common_labels(pipeline_name: &str) -> BTreeMap<String, String> {
    let mut labels = selector_labels(pipeline_name);
    labels.insert("app.kubernetes.io/instance".into(), pipeline_name.into());
    labels.insert("app.kubernetes.io/component".into(), "consumer".into());
    labels.insert("app.kubernetes.io/managed-by".into(), FIELD_MANAGER.into());
    labels
}

/// The controller owner reference that lets the garbage collector remove a child.
pub fn owner_reference(pipeline: &IngestionPipeline) -> OwnerReference {
    OwnerReference {
        api_version: IngestionPipeline::api_version(&()).into_owned(),
        kind: IngestionPipeline::kind(&()).into_owned(),
        name: pipeline.name_any(),
        uid: pipeline.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Metadata of a child object: name, namespace, labels and the owner reference.
pub fn child_meta(pipeline: &IngestionPipeline, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: pipeline.namespace(),
        labels: Some(common_labels(&pipeline.name_any())),
        owner_references: Some(vec![owner_reference(pipeline)]),
        ..ObjectMeta::default()
    }
}
