//! The IngestionPipeline controller: watches pipelines and the children they own.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::controller::{self, Controller};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use serde::de::DeserializeOwned;
use tracing::{debug, info, warn};

use super::watched::Watched;
use super::{error_policy, reconcile};
use crate::context::Context;
use crate::crd::IngestionPipeline;

/// How long changes of a pipeline and its children are collected before one reconcile:
/// none. Events that arrive while a pipeline is being reconciled already collapse into one
/// follow-up reconcile, and the follow-ups are cheap (unchanged children are not applied
/// again); a delay would add to every apply → children latency.
pub const DEBOUNCE: Duration = Duration::ZERO;
/// Pipelines reconciled at once; more only queue up at the API server.
pub const CONCURRENCY: u16 = 32;

/// Runs the controller until its watches end (they retry on their own) — in the
/// operator, until leadership is lost and the future is dropped.
pub async fn run(ctx: Arc<Context>, namespace: Option<&str>) {
    let client = ctx.client.clone();
    let pipelines: Api<IngestionPipeline> = scoped(&client, namespace);
    let watch = watcher::Config::default();
    let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=spate-operator");
    info!(
        namespace = namespace.unwrap_or("<all>"),
        "starting the IngestionPipeline controller"
    );
    let (config_maps, w1) = meta_cache::<ConfigMap>(scoped(&client, namespace), &owned);
    let (service_accounts, w2) = meta_cache::<ServiceAccount>(scoped(&client, namespace), &owned);
    let (services, w3) = meta_cache::<Service>(scoped(&client, namespace), &owned);
    let (pod_disruption_budgets, w4) =
        meta_cache::<PodDisruptionBudget>(scoped(&client, namespace), &owned);
    let (deployments, w5) = meta_cache::<Deployment>(scoped(&client, namespace), &owned);
    let watched = Arc::new(Watched {
        config_maps: Some(config_maps),
        service_accounts: Some(service_accounts),
        services: Some(services),
        pod_disruption_budgets: Some(pod_disruption_budgets),
        deployments: Some(deployments),
        ..Watched::default()
    });
    let config = controller::Config::default()
        .debounce(DEBOUNCE)
        .concurrency(CONCURRENCY);
    let controller = Controller::new(pipelines, watch)
        .with_config(config)
        .owns(scoped::<Deployment>(&client, namespace), owned.clone())
        .owns(scoped::<ConfigMap>(&client, namespace), owned.clone())
        .owns(scoped::<Service>(&client, namespace), owned.clone())
        .owns(scoped::<ServiceAccount>(&client, namespace), owned.clone())
        .owns(scoped::<PodDisruptionBudget>(&client, namespace), owned)
        .run(
            move |pipeline, ctx| reconcile(pipeline, ctx, watched.clone()),
            error_policy,
            ctx,
        )
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => debug!(pipeline = %object.name, "reconciled"),
                Err(error) => warn!(%error, "reconcile error"),
            }
        });
    futures::future::join(controller, futures::future::join_all([w1, w2, w3, w4, w5])).await;
}

/// A watch cache of the metadata of one kind of child, and the future that fills it.
fn meta_cache<K>(
    api: Api<PartialObjectMeta<K>>,
    config: &watcher::Config,
) -> (Store<PartialObjectMeta<K>>, BoxFuture<'static, ()>)
where
    K: kube::Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    PartialObjectMeta<K>: kube::Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned,
{
    let (store, writer) = reflector::store();
    let fill = reflector::reflector(writer, watcher(api, config.clone()))
        .default_backoff()
        .for_each(|event| async move {
            if let Err(error) = event {
                warn!(%error, "child watch error");
            }
        });
    (store, Box::pin(fill))
}

/// An API over one namespace, or over all of them.
fn scoped<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}
