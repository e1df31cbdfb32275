//! Shared by the operator and node suites: the CRD, a namespace per test with the operator
//! installed from its image (`kubectl apply -k` of the namespaced overlay), the example
//! pipeline with the environment's addresses, and waits on what the operator makes.

#![allow(dead_code, unused_imports)]

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, CustomResourceExt};
use spate_operator::crd::IngestionPipeline;
use spate_tests::operator::{OperatorDeployment, OperatorOptions};
use spate_tests::{TestEnv, create_namespace, eventually, kube_client, repo_root, unique_name};

pub use spate_tests::{kubectl, kubectl_apply, kubectl_ok};

/// How long the control plane, the node and the operator get to act; a bound, not a
/// measurement.
pub const SETTLE: Duration = Duration::from_secs(90);

/// The example pipeline's name (manifests/examples/pipeline.yaml).
pub const EXAMPLE: &str = "coinbase-trades";

/// A client, with the generated CRD applied and Established.
pub async fn client_with_crd() -> Result<Client> {
    let client = kube_client().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = IngestionPipeline::crd();
    let name = crd.metadata.name.clone().context("CRD name")?;
    crds.patch(
        &name,
        &PatchParams::apply("spate-tests").force(),
        &Patch::Apply(&crd),
    )
    .await
    .context("apply the IngestionPipeline CRD")?;
    tokio::time::timeout(
        SETTLE,
        await_condition(crds, &name, conditions::is_crd_established()),
    )
    .await
    .context("CRD not Established in time")??;
    Ok(client)
}

/// A fresh namespace for one test (enforcing the restricted Pod Security Standard).
pub async fn namespace(client: &Client, prefix: &str) -> Result<String> {
    let name = unique_name(prefix);
    create_namespace(client, &name)
        .await
        .context("create namespace")?;
    Ok(name)
}

/// Deletes a test namespace (the garbage collector and namespace controller do the rest).
pub async fn delete_namespace(client: &Client, name: &str) -> Result<()> {
    Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::default())
        .await
        .context("delete namespace")?;
    let _ = std::fs::remove_dir_all(repo_root().join(".spate/overlays").join(name));
    Ok(())
}

/// One test's world: a namespace with the operator installed in it.
pub struct Cluster {
    pub client: Client,
    pub ns: String,
    pub operator: OperatorDeployment,
}

impl Cluster {
    /// A namespace named after `prefix`, with the operator installed by `options`.
    pub async fn start(prefix: &str, options: &OperatorOptions) -> Result<Self> {
        let client = client_with_crd().await?;
        let ns = namespace(&client, prefix).await?;
        let operator = match OperatorDeployment::install(&client, &ns, options).await {
            Ok(o) => o,
            Err(e) => {
                let _ = delete_namespace(&client, &ns).await;
                return Err(e).context("install the operator");
            }
        };
        Ok(Self {
            client,
            ns,
            operator,
        })
    }

    /// Ends the test: on failure prints the operator's logs first; deletes the namespace.
    pub async fn finish<T>(self, outcome: Result<T>) -> Result<T> {
        if outcome.is_err() {
            match self.operator.logs().await {
                Ok(logs) => eprintln!("operator logs in {}:\n{logs}", self.ns),
                Err(e) => eprintln!("operator logs in {} unavailable: {e}", self.ns),
            }
        }
        delete_namespace(&self.client, &self.ns).await?;
        outcome
    }

    /// An API of `K` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }
}

/// The example pipeline (manifests/examples/pipeline.yaml) with the environment's
/// addresses: its bootstrap servers and QuestDB, and the test's own topic and table.
/// `edit` may change more (the format, the bounds) on the parsed document.
pub fn example_pipeline(
    topic: &str,
    table: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Result<String> {
    let env = TestEnv::get();
    let text = std::fs::read_to_string(repo_root().join("manifests/examples/pipeline.yaml"))?;
    let mut doc: serde_json::Value = serde_yaml::from_str(&text)?;
    let questdb = env
        .questdb_http
        .split_once("://")
        .map_or(env.questdb_http.as_str(), |(_, a)| a);
    doc["spec"]["source"]["bootstrapServers"] = env.kafka_brokers.clone().into();
    doc["spec"]["source"]["topics"] = serde_json::json!([topic]);
    doc["spec"]["sink"]["address"] = questdb.into();
    doc["spec"]["sink"]["table"] = table.into();
    // The example's scheduled window follows the New York clock; the suites do not.
    if let Some(a) = doc["spec"]["autoscaling"].as_object_mut() {
        a.remove("schedules");
    }
    edit(&mut doc);
    Ok(serde_yaml::to_string(&doc)?)
}

/// Waits until the Deployment `name` asks for `want` replicas.
pub async fn deployment_replicas(
    deployments: &Api<Deployment>,
    name: &str,
    want: i32,
) -> Result<()> {
    eventually(
        &format!("Deployment {name} replicas {want}"),
        SETTLE,
        || async {
            let d = deployments
                .get_opt(name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("absent")?;
            let r = d.spec.and_then(|s| s.replicas);
            if r == Some(want) {
                Ok(())
            } else {
                Err(format!("{r:?}"))
            }
        },
    )
    .await?;
    Ok(())
}

/// The pipeline's condition of `type_`: (status, reason, message).
pub fn condition(p: &IngestionPipeline, type_: &str) -> Option<(String, String, String)> {
    p.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Waits until the pipeline `name`'s condition `type_` has `status` ("True" or "False").
pub async fn wait_condition(
    pipelines: &Api<IngestionPipeline>,
    name: &str,
    type_: &str,
    status: &str,
) -> Result<()> {
    eventually(&format!("{type_} {status}"), SETTLE, || async {
        let p = pipelines.get(name).await.map_err(|e| e.to_string())?;
        match condition(&p, type_) {
            Some((s, _, _)) if s == status => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await?;
    Ok(())
}

/// The Warning Events with `reason` in the cluster's namespace.
pub async fn warnings(cluster: &Cluster, reason: &str) -> Result<Vec<Event>> {
    let events: Api<Event> = cluster.api();
    Ok(events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.type_.as_deref() == Some("Warning") && e.reason.as_deref() == Some(reason))
        .collect())
}

/// `kubectl apply -n namespace -f -` of `yaml`, successful or not: (success, stdout+stderr).
pub fn kubectl_apply_yaml(namespace: &str, yaml: &str) -> Result<(bool, String)> {
    let out = spate_tests::kubectl_with_input(&["apply", "-n", namespace, "-f", "-"], Some(yaml))?;
    Ok((out.success, format!("{}{}", out.stdout, out.stderr)))
}
