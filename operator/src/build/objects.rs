//! The small children of a pipeline: ConfigMap, Service, ServiceAccount, PDB, control Secret.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, Secret, Service, ServiceAccount, ServicePort, ServiceSpec,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::config::ConsumerEnv;
use super::names::{
    CONTROL_TOKEN_KEY, METRICS_PORT, child_meta, control_secret_name, selector_labels,
    workload_name,
};
use crate::crd::IngestionPipeline;

/// The ConfigMap holding the consumer's plain settings.
pub fn config_map(pipeline: &IngestionPipeline, env: &ConsumerEnv) -> ConfigMap {
    ConfigMap {
        metadata: child_meta(pipeline, workload_name(pipeline)),
        data: Some(env.config.clone()),
        ..ConfigMap::default()
    }
}

/// The ClusterIP Service exposing the consumers' metrics port.
pub fn service(pipeline: &IngestionPipeline) -> Service {
    Service {
        metadata: child_meta(pipeline, workload_name(pipeline)),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(&pipeline.name_any())),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: METRICS_PORT,
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            type_: Some("ClusterIP".into()),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The consumer's ServiceAccount; it mounts no token: the consumer needs no API access.
pub fn service_account(pipeline: &IngestionPipeline) -> ServiceAccount {
    ServiceAccount {
        metadata: child_meta(pipeline, workload_name(pipeline)),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

/// The PodDisruptionBudget: voluntary evictions take one consumer pod at a time.
pub fn pod_disruption_budget(pipeline: &IngestionPipeline) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: child_meta(pipeline, workload_name(pipeline)),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(&pipeline.name_any())),
                match_expressions: None,
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    }
}

/// The Secret holding the control token; created once, never rewritten by reconcile.
pub fn control_secret(pipeline: &IngestionPipeline, token: String) -> Secret {
    Secret {
        metadata: child_meta(pipeline, control_secret_name(&pipeline.name_any())),
        string_data: Some(BTreeMap::from([(CONTROL_TOKEN_KEY.to_string(), token)])),
        type_: Some("Opaque".into()),
        ..Secret::default()
    }
}

/// A fresh random control token: 32 bytes of the OS-seeded generator, hex-encoded.
pub fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
