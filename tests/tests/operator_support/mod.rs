//! Shared by the operator suites: installs the CRD, makes a namespace per test, runs
//! operator instances in-process against the local API server, and drives kubectl.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, CustomResourceExt};
use spate_operator::crd::IngestionPipeline;
use spate_operator::metrics::Metrics;
use spate_operator::run::{OperatorConfig, run};
use spate_tests::{TestEnv, create_namespace, eventually, kube_client, unique_name};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// How long the control plane and the operator get to act; a bound, not a measurement.
pub const SETTLE: Duration = Duration::from_secs(60);

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

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

/// A fresh namespace for one test.
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
    Ok(())
}

/// An operator instance running in this process.
pub struct Instance {
    /// Its identity in the Lease.
    pub identity: String,
    /// Its metrics registry.
    pub metrics: Metrics,
    /// Whether it leads.
    pub leader: watch::Receiver<bool>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Instance {
    /// Starts an instance watching `namespace` only, competing for a Lease in `namespace`.
    pub async fn start(client: &Client, namespace: &str, identity: &str) -> Self {
        let metrics = Metrics::new();
        let (leader_tx, leader) = watch::channel(false);
        let (stop, stopped) = oneshot::channel::<()>();
        let mut cfg = OperatorConfig::new(identity, namespace, "spate-consumer:test");
        cfg.watch_namespace = Some(namespace.to_string());
        let task = tokio::spawn(run(
            client.clone(),
            cfg,
            metrics.clone(),
            leader_tx,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            identity: identity.into(),
            metrics,
            leader,
            stop: Some(stop),
            task,
        }
    }

    /// Waits until it leads.
    pub async fn wait_leading(&mut self) -> Result<()> {
        tokio::time::timeout(SETTLE, self.leader.wait_for(|l| *l))
            .await
            .context("never led")??;
        Ok(())
    }

    /// Reconciliations it made, by result.
    pub fn reconciliations(&self, result: &str) -> u64 {
        self.metrics
            .reconciliations
            .with_label_values(&[result])
            .get()
    }

    /// Kills it like a crash: no lease release, everything dropped at once.
    pub fn kill(self) {
        self.task.abort();
    }

    /// Stops it cleanly (it releases the Lease).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.task.await;
    }
}

/// Runs kubectl with the environment's kubeconfig; returns (success, stdout, stderr).
pub fn kubectl(args: &[&str]) -> Result<(bool, String, String)> {
    let out = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", TestEnv::get().kubeconfig())
        .current_dir(repo_root())
        .output()
        .context("run kubectl")?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Runs kubectl and fails unless it succeeds.
pub fn kubectl_ok(args: &[&str]) -> Result<String> {
    let (ok, stdout, stderr) = kubectl(args)?;
    if !ok {
        bail!("kubectl {} failed: {stderr}", args.join(" "));
    }
    Ok(stdout)
}

/// Applies YAML from a string with kubectl in `namespace`; returns (success, stdout+stderr).
pub fn kubectl_apply_yaml(namespace: &str, yaml: &str) -> Result<(bool, String)> {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .args(["apply", "-n", namespace, "-f", "-"])
        .env("KUBECONFIG", TestEnv::get().kubeconfig())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("run kubectl apply")?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(yaml.as_bytes())?;
    let out = child.wait_with_output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

/// The example pipeline's name (manifests/examples/pipeline.yaml).
pub const EXAMPLE: &str = "coinbase-trades";

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
