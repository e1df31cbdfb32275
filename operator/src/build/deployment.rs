//! The consumer Deployment of a pipeline: hardened pods, probes, the config hash.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapEnvSource, ConfigMapProjection, Container, ContainerPort,
    EmptyDirVolumeSource, EnvFromSource, HTTPGetAction, KeyToPath, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ProjectedVolumeSource, SeccompProfile, SecretProjection,
    SecurityContext, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;

use super::env::{CREDENTIALS_DIR, ConsumerEnv, FileSource};
use super::hash::config_hash;
use super::names::{
    CONFIG_HASH_ANNOTATION, CONTAINER_NAME, METRICS_PORT, child_meta, common_labels,
    selector_labels, workload_name,
};
use crate::validate::ValidPipeline;

/// Seconds added to the consumer's shutdown grace for the pod's termination grace period.
pub const TERMINATION_MARGIN_SECONDS: i64 = 10;
/// The non-root user the consumer runs as.
pub const CONSUMER_UID: i64 = 65532;

/// The Deployment running `replicas` consumer pods of `image`.
pub fn deployment(
    valid: &ValidPipeline,
    env: &ConsumerEnv,
    replicas: i32,
    image: &str,
) -> Deployment {
    let pipeline = valid.pipeline();
    let name = workload_name(pipeline);
    let spec = &pipeline.spec;
    let hash = config_hash(
        env.config
            .iter()
            .flat_map(|(k, v)| [k.as_str(), v.as_str()]),
    );

    let http_probe = |path: &str, period: i32, failures: i32| Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(2),
        failure_threshold: Some(failures),
        ..Probe::default()
    };

    let container = Container {
        name: CONTAINER_NAME.into(),
        image: Some(image.into()),
        image_pull_policy: spec.image_pull_policy.map(|p| p.as_str().to_string()),
        args: None,
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: name.clone(),
                optional: Some(false),
            }),
            ..EnvFromSource::default()
        }]),
        env: (!env.env.is_empty()).then(|| env.env.clone()),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: METRICS_PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(5),
            ..http_probe("/healthz", 10, 3)
        }),
        readiness_probe: Some(http_probe("/readyz", 5, 2)),
        resources: spec.resources.clone(),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(CONSUMER_UID),
            run_as_group: Some(CONSUMER_UID),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: None,
            }),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                localhost_profile: None,
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(volume_mounts(env)),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Container::default()
    };

    let scheduling = spec.scheduling.clone().unwrap_or_default();
    let pod = PodSpec {
        containers: vec![container],
        service_account_name: Some(name.clone()),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(
            i64::from(spec.tuning.shutdown_grace_seconds) + TERMINATION_MARGIN_SECONDS,
        ),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(CONSUMER_UID),
            run_as_group: Some(CONSUMER_UID),
            fs_group: Some(CONSUMER_UID),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        }),
        volumes: Some(volumes(env)),
        node_selector: (!scheduling.node_selector.is_empty()).then_some(scheduling.node_selector),
        tolerations: (!scheduling.tolerations.is_empty()).then_some(scheduling.tolerations),
        affinity: scheduling.affinity,
        priority_class_name: scheduling.priority_class_name,
        ..PodSpec::default()
    };

    Deployment {
        metadata: child_meta(pipeline, name.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&pipeline.name_any())),
                match_expressions: None,
            },
            revision_history_limit: Some(3),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::Int(1)),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(common_labels(&pipeline.name_any())),
                    annotations: Some(BTreeMap::from([
                        (CONFIG_HASH_ANNOTATION.to_string(), hash),
                        ("prometheus.io/scrape".to_string(), "true".to_string()),
                        ("prometheus.io/port".to_string(), METRICS_PORT.to_string()),
                    ])),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

/// The projected volume holding the credential files, when there are any.
const CREDENTIALS_VOLUME: &str = "credentials";

fn volume_mounts(env: &ConsumerEnv) -> Vec<VolumeMount> {
    let mut mounts = vec![VolumeMount {
        name: "tmp".into(),
        mount_path: "/tmp".into(),
        ..VolumeMount::default()
    }];
    if !env.files.is_empty() {
        mounts.push(VolumeMount {
            name: CREDENTIALS_VOLUME.into(),
            mount_path: CREDENTIALS_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    mounts
}

/// `/tmp` and, when the pipeline references Secrets or a CA ConfigMap, one projected
/// volume with each referenced key at its path, readable by the consumer's group only.
/// A missing Secret or key keeps the pod from starting (the kubelet reports FailedMount).
fn volumes(env: &ConsumerEnv) -> Vec<Volume> {
    let mut volumes = vec![Volume {
        name: "tmp".into(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: None,
            medium: None,
        }),
        ..Volume::default()
    }];
    if env.files.is_empty() {
        return volumes;
    }
    let mut by_object: BTreeMap<(bool, &str), Vec<KeyToPath>> = BTreeMap::new();
    for file in &env.files {
        let (is_secret, name, key) = match &file.source {
            FileSource::Secret { name, key } => (true, name.as_str(), key),
            FileSource::ConfigMap { name, key } => (false, name.as_str(), key),
        };
        by_object
            .entry((is_secret, name))
            .or_default()
            .push(KeyToPath {
                key: key.clone(),
                path: file.path.clone(),
                mode: None,
            });
    }
    let sources = by_object
        .into_iter()
        .map(|((is_secret, name), items)| {
            if is_secret {
                VolumeProjection {
                    secret: Some(SecretProjection {
                        name: name.into(),
                        items: Some(items),
                        optional: Some(false),
                    }),
                    ..VolumeProjection::default()
                }
            } else {
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: name.into(),
                        items: Some(items),
                        optional: Some(false),
                    }),
                    ..VolumeProjection::default()
                }
            }
        })
        .collect();
    volumes.push(Volume {
        name: CREDENTIALS_VOLUME.into(),
        projected: Some(ProjectedVolumeSource {
            // r--r----- : the consumer's group (fsGroup) reads, nobody else.
            default_mode: Some(0o440),
            sources: Some(sources),
        }),
        ..Volume::default()
    });
    volumes
}
