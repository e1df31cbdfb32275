//! Smoke tests of the local Kubernetes control plane: a CRD becomes Established and
//! serves custom objects, and kube-controller-manager turns a Deployment into a ReplicaSet
//! it owns, and that ReplicaSet into a Pod.

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams,
};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use spate_tests::{eventually, kube_client, unique_name};

/// How long the control plane gets to act on a change; a bound, not a measurement.
const SETTLE: Duration = Duration::from_secs(90);

#[tokio::test]
async fn a_crd_becomes_established_and_stores_custom_objects() -> Result<()> {
    let client = kube_client().await?;
    let namespace = create_namespace(&client, &unique_name("smoke-crd")).await?;
    let group = format!("{}.smoke.spate.dev", unique_name("g"));
    let crd_name = format!("widgets.{group}");

    let outcome = crd_round_trip(&client, &namespace, &group, &crd_name).await;

    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let cleanup_crd = crds.delete(&crd_name, &DeleteParams::default()).await;
    let cleanup_ns = delete_namespace(&client, &namespace).await;
    outcome?;
    cleanup_crd.context("delete the CRD")?;
    cleanup_ns
}

#[tokio::test]
async fn a_deployment_gets_a_replicaset_owned_by_it() -> Result<()> {
    let client = kube_client().await?;
    let namespace = create_namespace(&client, &unique_name("smoke-deploy")).await?;

    let outcome = deployment_makes_replicaset(&client, &namespace).await;

    let cleanup = delete_namespace(&client, &namespace).await;
    outcome?;
    cleanup
}

async fn crd_round_trip(
    client: &Client,
    namespace: &str,
    group: &str,
    crd_name: &str,
) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": crd_name },
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": { "plural": "widgets", "singular": "widget", "kind": "Widget" },
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": { "spec": {
                        "type": "object",
                        "properties": { "partitions": { "type": "integer", "minimum": 1 } },
                        "required": ["partitions"]
                    } }
                } }
            }]
        }
    }))?;
    crds.create(&PostParams::default(), &crd)
        .await
        .context("create the CRD")?;
    tokio::time::timeout(
        SETTLE,
        await_condition(crds, crd_name, conditions::is_crd_established()),
    )
    .await
    .context("the CRD was never Established")?
    .context("watch the CRD")?;

    let resource =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", "Widget"), "widgets");
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    let widget = DynamicObject::new("w1", &resource).data(json!({ "spec": { "partitions": 12 } }));
    widgets
        .create(&PostParams::default(), &widget)
        .await
        .context("create the custom object")?;

    let stored = widgets
        .get("w1")
        .await
        .context("read the custom object back")?;
    assert_eq!(stored.data["spec"]["partitions"], json!(12));

    let invalid = DynamicObject::new("w2", &resource).data(json!({ "spec": { "partitions": 0 } }));
    let rejected = widgets.create(&PostParams::default(), &invalid).await;
    assert!(
        rejected.is_err(),
        "the CRD schema must reject partitions = 0, got {rejected:?}"
    );
    Ok(())
}

async fn deployment_makes_replicaset(client: &Client, namespace: &str) -> Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "smoke" },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "smoke" } },
            "template": {
                "metadata": { "labels": { "app": "smoke" } },
                // What the namespace's `restricted` Pod Security Standard demands.
                "spec": {
                    "securityContext": {
                        "runAsNonRoot": true,
                        "seccompProfile": { "type": "RuntimeDefault" }
                    },
                    "containers": [{
                        "name": "main",
                        "image": "registry.invalid/smoke:1",
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "capabilities": { "drop": ["ALL"] }
                        }
                    }]
                }
            }
        }
    }))?;
    let created = deployments
        .create(&PostParams::default(), &deployment)
        .await
        .context("create the Deployment")?;
    let deployment_uid = created.uid().context("the Deployment has no uid")?;

    let replica_sets: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let replica_set = eventually("a ReplicaSet owned by the Deployment", SETTLE, || async {
        let list = replica_sets
            .list(&ListParams::default().labels("app=smoke"))
            .await
            .map_err(|e| e.to_string())?;
        let count = list.items.len();
        list.items
            .into_iter()
            .find(|rs| {
                controller_of(rs).is_some_and(|o| o.kind == "Deployment" && o.uid == deployment_uid)
            })
            .ok_or_else(|| format!("{count} ReplicaSets, none controlled by the Deployment"))
    })
    .await?;
    assert_eq!(replica_set.spec.as_ref().and_then(|s| s.replicas), Some(1));

    let replica_set_uid = replica_set.uid().context("the ReplicaSet has no uid")?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    eventually("a Pod owned by the ReplicaSet", SETTLE, || async {
        let list = pods
            .list(&ListParams::default().labels("app=smoke"))
            .await
            .map_err(|e| e.to_string())?;
        let count = list.items.len();
        list.items
            .iter()
            .find(|pod| {
                controller_of(*pod)
                    .is_some_and(|o| o.kind == "ReplicaSet" && o.uid == replica_set_uid)
            })
            .map(|_| ())
            .ok_or_else(|| format!("{count} Pods, none controlled by the ReplicaSet"))
    })
    .await?;
    Ok(())
}

fn controller_of<K: Resource>(object: &K) -> Option<&OwnerReference> {
    object
        .meta()
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
}

async fn create_namespace(client: &Client, name: &str) -> Result<String> {
    spate_tests::create_namespace(client, name)
        .await
        .with_context(|| format!("create namespace {name}"))?;
    Ok(name.to_owned())
}

async fn delete_namespace(client: &Client, name: &str) -> Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .delete(name, &DeleteParams::default())
        .await
        .with_context(|| format!("delete namespace {name}"))?;
    Ok(())
}
