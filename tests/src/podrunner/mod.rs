//! A stand-in for a kubelet (and a scheduler) that runs Pods as local processes: it
//! registers a Node, binds pending pods to it, gives each its own 127.x.y.z address, runs
//! each container's image as a mapped local program with the environment the kubelet would
//! give it, follows probes and restarts, reports pod status, and honours deletion.
//!
//! With it the real API server's Deployments get real, reachable pods on a machine that has
//! no container runtime.

pub mod address;
pub mod claim;
pub mod config;
mod container;
pub mod envvars;
pub mod launch;
mod node;
mod pod;
pub mod probe;
pub mod process;
mod runner;
pub mod status;
pub mod targets;

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use kube::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use address::AddressRange;
pub use config::{ImageMap, PodRunnerConfig};

/// What went wrong, named after the action that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("register node {node}")]
    RegisterNode { node: String, source: kube::Error },
    #[error("post the status of node {node}")]
    PostNodeStatus { node: String, source: kube::Error },
    #[error("renew the lease of node {node}")]
    RenewLease { node: String, source: kube::Error },
    #[error("delete node {node}")]
    DeleteNode { node: String, source: kube::Error },
    #[error("bind pod {pod}")]
    BindPod { pod: String, source: kube::Error },
    #[error("read configmap {name}")]
    ReadConfigMap { name: String, source: kube::Error },
    #[error("read secret {name}")]
    ReadSecret { name: String, source: kube::Error },
    #[error("build the probe HTTP client")]
    BuildHttpClient(#[source] reqwest::Error),
    #[error("create log directory {path}")]
    CreateLogDir {
        path: String,
        source: std::io::Error,
    },
}

/// Resolves once `stop` turns true (or its sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Starts pod runners.
pub struct PodRunner;

impl PodRunner {
    /// Registers the node and starts running pods in a background task.
    pub async fn start(client: Client, config: PodRunnerConfig) -> Result<PodRunnerHandle, Error> {
        std::fs::create_dir_all(&config.log_dir).map_err(|source| Error::CreateLogDir {
            path: config.log_dir.display().to_string(),
            source,
        })?;
        let started = Timestamp::now();
        node::register(
            &client,
            &config.node_name,
            std::net::Ipv4Addr::LOCALHOST,
            started,
        )
        .await?;
        let node_name = config.node_name.clone();
        let shared = Arc::new(runner::Shared::new(client, config)?);
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(runner::run(shared, started, stop_rx));
        Ok(PodRunnerHandle {
            node_name,
            stop,
            task: Some(task),
        })
    }
}

/// A running pod runner; [`PodRunnerHandle::shutdown`] stops it and every process it started.
pub struct PodRunnerHandle {
    node_name: String,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl PodRunnerHandle {
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Whether the runner ended on its own (its pod watch closed).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops every container (SIGTERM, then SIGKILL after the grace period), reports the
    /// pods' final status and waits until all of that is done.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            tracing::warn!(error = %error, "pod runner task failed");
        }
    }
}

impl Drop for PodRunnerHandle {
    /// A handle dropped without [`PodRunnerHandle::shutdown`] still stops the runner; its
    /// processes are killed at the latest when the runtime drops their handles.
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}
