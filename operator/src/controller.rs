//! The IngestionPipeline controller: watches pipelines and the children they own.

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::Api;
use kube::runtime::controller::Controller;
use kube::runtime::watcher;
use tracing::{debug, info, warn};

use crate::context::Context;
use crate::crd::IngestionPipeline;
use crate::reconcile::{error_policy, reconcile};

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
    Controller::new(pipelines, watch)
        .owns(scoped::<Deployment>(&client, namespace), owned.clone())
        .owns(scoped::<ConfigMap>(&client, namespace), owned.clone())
        .owns(scoped::<Service>(&client, namespace), owned.clone())
        .owns(scoped::<ServiceAccount>(&client, namespace), owned.clone())
        .owns(scoped::<PodDisruptionBudget>(&client, namespace), owned)
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => debug!(pipeline = %object.name, "reconciled"),
                Err(error) => warn!(%error, "reconcile error"),
            }
        })
        .await;
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
