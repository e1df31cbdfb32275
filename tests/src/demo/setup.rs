//! Bringing the scenario's world up on the local environment: namespace, topic, the CRD, the
//! operator (in this process, with its autoscaler), the pod runner and the pipeline.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, CustomResourceExt};
use serde_json::json;
use spate_operator::autoscale::controller::{AutoscalerConfig, AutoscalerMetrics, leader_task};
use spate_operator::crd::IngestionPipeline;
use spate_operator::metrics::Metrics;
use spate_operator::run::{OperatorConfig, run};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::{DemoError, Scenario};
use crate::TestEnv;
use crate::podrunner::{ImageMap, PodRunner, PodRunnerConfig, PodRunnerHandle};

/// The image name the pipeline's pods use; the pod runner maps it to the local binary.
pub const CONSUMER_IMAGE: &str = "spate-consumer:demo";

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

/// An operator instance running in this process.
pub struct Operator {
    /// Its metrics (reconciler and autoscaler).
    pub metrics: Metrics,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Operator {
    /// Starts an operator watching `namespace` (its Lease lives there too), reading the
    /// consumers' metrics from the environment's Prometheus, or from the pods directly.
    pub async fn start(
        client: &Client,
        namespace: &str,
        use_prometheus: bool,
    ) -> Result<Operator, DemoError> {
        let metrics = Metrics::new();
        let autoscaler_metrics = AutoscalerMetrics::register(&metrics.registry)
            .map_err(|e| DemoError::Operator(e.to_string()))?;
        let mut cfg = OperatorConfig::new("spate-demo-operator", namespace, CONSUMER_IMAGE);
        cfg.watch_namespace = Some(namespace.to_string());
        cfg.leader_tasks.push(leader_task(
            AutoscalerConfig {
                prometheus_url: use_prometheus.then(|| TestEnv::get().prometheus_url.clone()),
                namespace: Some(namespace.to_string()),
                ..AutoscalerConfig::default()
            },
            autoscaler_metrics,
        ));
        let (leader_tx, mut leader) = watch::channel(false);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(
            client.clone(),
            cfg,
            metrics.clone(),
            leader_tx,
            async move {
                let _ = stopped.await;
            },
        ));
        tokio::time::timeout(Duration::from_secs(60), leader.wait_for(|l| *l))
            .await
            .map_err(|_| DemoError::Timeout("the operator to take its Lease".into()))?
            .map_err(|_| DemoError::Operator("the operator stopped".into()))?;
        Ok(Operator {
            metrics,
            stop: Some(stop),
            task,
        })
    }

    /// Stops it (it releases its Lease).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), &mut self.task).await;
        self.task.abort();
    }
}

/// Starts the pod runner for `namespace`, running `consumer` for the consumer image.
pub async fn start_pods(
    client: &Client,
    namespace: &str,
    consumer: PathBuf,
    log_dir: PathBuf,
) -> Result<PodRunnerHandle, DemoError> {
    let mut images = ImageMap::default();
    images.insert("spate-consumer", consumer);
    let mut config = PodRunnerConfig::new(format!("{namespace}-node"), images, log_dir);
    config.namespace = Some(namespace.to_string());
    config.prometheus_targets_file = Some(TestEnv::get().prometheus_targets_file.clone());
    config.delete_node_on_shutdown = true;
    config.pass_env.push("RUST_LOG".into());
    PodRunner::start(client.clone(), config)
        .await
        .map_err(|e| DemoError::PodRunner(e.to_string()))
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
