//! Pure builders of a pipeline's desired child objects (no client, no I/O), from a
//! validated pipeline only.

mod deployment;
mod env;
mod hash;
pub mod names;
mod objects;
mod sizing;
#[cfg(test)]
pub(crate) mod tests;

pub use deployment::{CONSUMER_UID, TERMINATION_MARGIN_SECONDS, deployment};
pub use env::{
    CONTROL_AUDIENCE, CREDENTIALS_DIR, ConsumerEnv, ControlTrust, FileSource, MountedFile,
    consumer_env, security_protocol,
};
pub use hash::config_hash;
pub use objects::{config_map, pod_disruption_budget, service, service_account};
pub use sizing::{Sizing, sizing};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;

use crate::validate::ValidPipeline;

/// Every child the reconciler applies.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    /// The consumers' plain configuration.
    pub config_map: ConfigMap,
    /// The consumers' identity, without API access.
    pub service_account: ServiceAccount,
    /// The metrics/control port of the consumers.
    pub service: Service,
    /// One voluntary disruption at a time.
    pub pod_disruption_budget: PodDisruptionBudget,
    /// The consumer pods.
    pub deployment: Deployment,
    /// The replicas and workers the objects were sized for.
    pub sizing: Sizing,
}

/// Builds the desired children of a pipeline; `default_image` serves when the spec names
/// none; `control` is what the consumers' control endpoint trusts.
pub fn desired(
    pipeline: &ValidPipeline,
    default_image: &str,
    control: Option<&ControlTrust>,
) -> Desired {
    let env = consumer_env(pipeline, control);
    let sizing = sizing(pipeline);
    let image = pipeline.spec().image.as_deref().unwrap_or(default_image);
    Desired {
        config_map: config_map(pipeline, &env),
        service_account: service_account(pipeline),
        service: service(pipeline),
        pod_disruption_budget: pod_disruption_budget(pipeline),
        deployment: deployment(pipeline, &env, sizing.replicas_i32(), image),
        sizing,
    }
}
