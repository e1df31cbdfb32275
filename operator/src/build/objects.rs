//! The small children of a pipeline: ConfigMap, Service, ServiceAccount, PodDisruptionBudget.

use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount, ServicePort, ServiceSpec};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::env::ConsumerEnv;
use super::names::{METRICS_PORT, child_meta, selector_labels, workload_name};
use crate::validate::ValidPipeline;

/// The ConfigMap holding the consumer's plain settings.
pub fn config_map(valid: &ValidPipeline, env: &ConsumerEnv) -> ConfigMap {
    let pipeline = valid.pipeline();
    ConfigMap {
        metadata: child_meta(pipeline, workload_name(pipeline)),
        data: Some(env.config.clone()),
        ..ConfigMap::default()
    }
}

/// The ClusterIP Service exposing the consumers' metrics port.
pub fn service(valid: &ValidPipeline) -> Service {
    let pipeline = valid.pipeline();
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
pub fn service_account(valid: &ValidPipeline) -> ServiceAccount {
    let pipeline = valid.pipeline();
    ServiceAccount {
        metadata: child_meta(pipeline, workload_name(pipeline)),
        automount_service_account_token: Some(false),
        ..ServiceAccount::default()
    }
}

/// The PodDisruptionBudget: voluntary evictions take one consumer pod at a time.
pub fn pod_disruption_budget(valid: &ValidPipeline) -> PodDisruptionBudget {
    let pipeline = valid.pipeline();
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
