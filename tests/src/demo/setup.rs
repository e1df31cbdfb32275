//! Bringing the scenario's world up on the local environment: namespace, topic, the CRD, the
//! operator (from its image, in the scenario's namespace) and the pipeline.

use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, CustomResourceExt};
use serde_json::json;
use spate_operator::crd::IngestionPipeline;

use super::{DemoError, Scenario};
use crate::TestEnv;
use crate::operator::{OperatorDeployment, OperatorOptions};

/// Applies the IngestionPipeline CRD and waits until it is established.
pub async fn install_crd(client: &Client) -> Result<(), DemoError> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd = IngestionPipeline::crd();
    let name = crd.metadata.name.clone().unwrap_or_default();
    crds.patch(
        &name,
        &PatchParams::apply("spate-demo").force(),
        &Patch::Apply(&crd),
    )
    .await
    .map_err(|e| DemoError::Kube {
        action: "apply the IngestionPipeline CRD",
        source: e,
    })?;
    tokio::time::timeout(
        Duration::from_secs(60),
        await_condition(crds, &name, conditions::is_crd_established()),
    )
    .await
    .map_err(|_| DemoError::Timeout("the CRD to be established".into()))?
    .map_err(|e| DemoError::Wait(e.to_string()))?;
    Ok(())
}

/// Creates the namespace `name`.
pub async fn create_namespace(client: &Client, name: &str) -> Result<(), DemoError> {
    crate::create_namespace(client, name)
        .await
        .map_err(|e| DemoError::Kube {
            action: "create the namespace",
            source: e,
        })
}

/// Deletes the namespace `name` (the garbage collector removes what was in it).
pub async fn delete_namespace(client: &Client, name: &str) -> Result<(), DemoError> {
    Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::default())
        .await
        .map_err(|e| DemoError::Kube {
            action: "delete the namespace",
            source: e,
        })?;
    Ok(())
}

/// Installs the operator into `namespace` from its image, as users install it (the
/// namespaced overlay of `manifests/`), reading the consumers' metrics from the
/// environment's Prometheus or scraping the pods itself.
pub async fn install_operator(
    client: &Client,
    namespace: &str,
    use_prometheus: bool,
) -> Result<OperatorDeployment, DemoError> {
    let options = OperatorOptions {
        prometheus: use_prometheus,
        ..OperatorOptions::default()
    };
    OperatorDeployment::install(client, namespace, &options)
        .await
        .map_err(|e| DemoError::Operator(e.to_string()))
}

/// Saves the logs of every pod in `namespace` (current and previous containers) under
/// `dir`, one file per pod.
pub fn save_pod_logs(namespace: &str, dir: &Path) -> Result<usize, DemoError> {
    let write_err = |source| DemoError::WriteOutput {
        path: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(write_err)?;
    let names = crate::kubectl_ok(&["get", "pods", "-n", namespace, "-o", "name"])
        .map_err(|e| DemoError::Operator(e.to_string()))?;
    let mut saved = 0;
    for pod in names.lines().filter_map(|l| l.strip_prefix("pod/")) {
        let mut text = String::new();
        for previous in ["--previous=true", "--previous=false"] {
            if let Ok(out) = crate::kubectl(&["logs", "-n", namespace, pod, previous])
                && out.success
            {
                text.push_str(&out.stdout);
            }
        }
        std::fs::write(dir.join(format!("{pod}.log")), text).map_err(write_err)?;
        saved += 1;
    }
    Ok(saved)
}

/// The scenario's IngestionPipeline.
pub fn pipeline(
    s: &Scenario,
    name: &str,
    topic: &str,
    table: &str,
) -> Result<IngestionPipeline, DemoError> {
    let env = TestEnv::get();
    let questdb = env
        .questdb_http
        .split_once("://")
        .map_or(env.questdb_http.as_str(), |(_, a)| a);
    let value = json!({
        "apiVersion": "spate.dev/v1alpha1",
        "kind": "IngestionPipeline",
        "metadata": { "name": name },
        "spec": {
            "source": { "bootstrapServers": env.kafka_brokers, "topics": [topic] },
            "format": "normalized",
            "sink": { "address": questdb, "table": table },
            "workers": { "min": s.workers.0, "max": s.workers.1 },
            "replicas": { "min": s.replicas.0, "max": s.replicas.1 },
            "autoscaling": {
                "enabled": true,
                "headroom": 0.2,
                "drainTimeSeconds": s.drain_seconds,
                "targets": { "lagSeconds": s.lag_target_seconds },
                "stabilization": { "scaleUpSeconds": 0, "scaleDownSeconds": s.scale_down_seconds },
                "rebalanceSettleSeconds": s.rebalance_settle_seconds,
                "perWorkerRateHint": s.per_worker_rate_hint,
            },
            "tuning": { "logFormat": "text", "shutdownGraceSeconds": 10 },
        }
    });
    serde_json::from_value(value)
        .map_err(|e| DemoError::Operator(format!("the pipeline does not parse: {e}")))
}
