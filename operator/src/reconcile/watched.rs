//! The watch caches the reconciles of one controller share: the live children's metadata
//! and the last applies.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PartialObjectMeta;
use kube::runtime::reflector::{ObjectRef, Store};

use super::apply::Applied;

/// What the reconciles of one controller share beyond the [`Context`]: the metadata of
/// the live children (watch caches) and the last applies, to skip unchanged children.
#[derive(Default)]
pub struct Watched {
    /// Live ConfigMaps' metadata.
    pub config_maps: Option<Store<PartialObjectMeta<ConfigMap>>>,
    /// Live ServiceAccounts' metadata.
    pub service_accounts: Option<Store<PartialObjectMeta<ServiceAccount>>>,
    /// Live Services' metadata.
    pub services: Option<Store<PartialObjectMeta<Service>>>,
    /// Live PodDisruptionBudgets' metadata.
    pub pod_disruption_budgets: Option<Store<PartialObjectMeta<PodDisruptionBudget>>>,
    /// Live Deployments' metadata.
    pub deployments: Option<Store<PartialObjectMeta<Deployment>>>,
    /// The last apply of each child.
    pub applied: Applied,
}

/// The cached metadata of the object `name` in `namespace`, if the watch has seen it.
pub fn live_meta<K>(
    store: Option<&Store<PartialObjectMeta<K>>>,
    namespace: &str,
    name: &str,
) -> Option<ObjectMeta>
where
    K: kube::Resource<DynamicType = ()> + Clone,
{
    let key = ObjectRef::<PartialObjectMeta<K>>::new(name).within(namespace);
    store?.get(&key).map(|o| o.metadata.clone())
}
