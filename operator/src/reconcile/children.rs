//! The kinds of child a pipeline owns, and their apply: one [`Child`] implementation per kind.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::apply::Drift;
use super::watched::{Watched, live_meta};
use crate::context::Context;
use crate::error::Error;

/// A kind of child the reconciler applies.
pub trait Child:
    Resource<Scope = NamespaceResourceScope, DynamicType = ()>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + 'static
{
    /// Which part of a live child's metadata shows a change by someone else.
    const DRIFT: Drift;
    /// The watch cache of this kind's live metadata.
    fn cache(watched: &Watched) -> Option<&Store<PartialObjectMeta<Self>>>;
    /// The error of a failed apply.
    fn apply_failed(error: kube::Error) -> Error;
}

impl Child for ConfigMap {
    const DRIFT: Drift = Drift::ResourceVersion;
    fn cache(watched: &Watched) -> Option<&Store<PartialObjectMeta<Self>>> {
        watched.config_maps.as_ref()
    }
    fn apply_failed(error: kube::Error) -> Error {
        Error::ApplyConfigMap(error)
    }
}

impl Child for ServiceAccount {
    const DRIFT: Drift = Drift::ResourceVersion;
    fn cache(watched: &Watched) -> Option<&Store<PartialObjectMeta<Self>>> {
        watched.service_accounts.as_ref()
    }
    fn apply_failed(error: kube::Error) -> Error {
        Error::ApplyServiceAccount(error)
    }
}

impl Child for Service {
    const DRIFT: Drift = Drift::ResourceVersion;
    fn cache(watched: &Watched) -> Option<&Store<PartialObjectMeta<Self>>> {
        watched.services.as_ref()
    }
    fn apply_failed(error: kube::Error) -> Error {
        Error::ApplyService(error)
    }
}

impl Child for PodDisruptionBudget {
    const DRIFT: Drift = Drift::Generation;
    fn cache(watched: &Watched) -> Option<&Store<PartialObjectMeta<Self>>> {
        watched.pod_disruption_budgets.as_ref()
    }
    fn apply_failed(error: kube::Error) -> Error {
        Error::ApplyPodDisruptionBudget(error)
    }
}

impl Child for Deployment {
    const DRIFT: Drift = Drift::Generation;
    fn cache(watched: &Watched) -> Option<&Store<PartialObjectMeta<Self>>> {
        watched.deployments.as_ref()
    }
    fn apply_failed(error: kube::Error) -> Error {
        Error::ApplyDeployment(error)
    }
}

/// Applies `child` in `namespace` unless it is unchanged against its watch cache. Returns
/// the applied object, or `None` when the apply was skipped.
pub async fn apply_child<K: Child>(
    ctx: &Context,
    watched: &Watched,
    namespace: &str,
    child: &K,
) -> Result<Option<K>, Error> {
    let live = live_meta(K::cache(watched), namespace, &child.name_any());
    apply_child_against(ctx, watched, namespace, child, live.as_ref()).await
}

/// Applies `child` in `namespace` unless it is unchanged against `live`, the live object's
/// metadata as read by the caller.
pub async fn apply_child_against<K: Child>(
    ctx: &Context,
    watched: &Watched,
    namespace: &str,
    child: &K,
    live: Option<&ObjectMeta>,
) -> Result<Option<K>, Error> {
    let api = Api::<K>::namespaced(ctx.client.clone(), namespace);
    watched
        .applied
        .apply(&api, child, live, K::DRIFT, &ctx.metrics)
        .await
        .map_err(K::apply_failed)
}
