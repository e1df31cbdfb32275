//! The live autoscaler: one loop per autoscaled pipeline, run only while this operator
//! instance holds the Lease. Each round reads the signals, calls the pure policy and applies
//! the decision (workers live on the pods, replicas through the status, an Event, metrics).

pub mod apply;
pub mod lag_source;
pub mod metrics;
pub mod observe;
mod pipeline;
pub mod pods;
mod supervisor;

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

pub use metrics::AutoscalerMetrics;
pub use supervisor::run;

use crate::autoscale::signals::{PrometheusReader, SignalError};
use crate::context::Context;
use crate::run::LeaderTask;

/// Settings of the live autoscaler.
#[derive(Clone, Debug)]
pub struct AutoscalerConfig {
    /// Read the consumers' metrics from this Prometheus (`/api/v1/query`); scrape the pods
    /// directly when absent.
    pub prometheus_url: Option<String>,
    /// The `rate()` window of the Prometheus queries, e.g. `10s`.
    pub prometheus_window: String,
    /// Watch one namespace only; all namespaces when `None`.
    pub namespace: Option<String>,
    /// Time between two rounds of one pipeline.
    pub interval: Duration,
    /// The consumer's HTTP port (metrics and control).
    pub consumer_port: u16,
    /// Timeout of Kafka reads and HTTP calls.
    pub timeout: Duration,
    /// The operator's ServiceAccount token for the consumers' control audience (a
    /// projected token the kubelet renews); the consumers' workers cannot be changed
    /// without it.
    pub control_token_file: Option<std::path::PathBuf>,
}

impl Default for AutoscalerConfig {
    fn default() -> Self {
        Self {
            prometheus_url: None,
            prometheus_window: "10s".into(),
            namespace: None,
            interval: Duration::from_secs(1),
            consumer_port: crate::build::names::METRICS_PORT as u16,
            timeout: Duration::from_secs(3),
            control_token_file: None,
        }
    }
}

/// What went wrong in a round, named after the action that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Listing the pipeline's pods failed.
    #[error("listing the pods of {pipeline}: {source}")]
    ListPods {
        /// `namespace/name`.
        pipeline: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
    /// Reading the operator's control token failed.
    #[error("reading the control token {path}: {message}")]
    ReadControlToken {
        /// The token file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Reading what the lag reader connects with (a CA ConfigMap, a shared Secret) failed.
    #[error("reading {object} for the lag reader: {message}")]
    ReadKafkaMaterial {
        /// The object.
        object: String,
        /// What went wrong.
        message: String,
    },
    /// Writing the status failed.
    #[error("patching the status of {pipeline}: {source}")]
    PatchStatus {
        /// The pipeline.
        pipeline: String,
        /// Cause.
        #[source]
        source: kube::Error,
    },
    /// A pod refused the worker count.
    #[error("setting workers: {message}")]
    SetWorkers {
        /// What went wrong.
        message: String,
    },
    /// Reading a signal failed.
    #[error(transparent)]
    ReadSignal(#[from] SignalError),
    /// Building the HTTP client failed.
    #[error("building the HTTP client: {0}")]
    BuildHttpClient(#[source] reqwest::Error),
}

/// What every pipeline loop shares.
pub(crate) struct Shared {
    pub ctx: Arc<Context>,
    pub config: AutoscalerConfig,
    pub metrics: AutoscalerMetrics,
    pub http: reqwest::Client,
    pub prometheus: Option<PrometheusReader>,
}

/// The autoscaler as a task of the operator's leader (see [`crate::run::OperatorConfig::leader_tasks`]).
pub fn leader_task(config: AutoscalerConfig, metrics: AutoscalerMetrics) -> LeaderTask {
    Box::new(move |ctx: Arc<Context>| {
        let (config, metrics) = (config.clone(), metrics.clone());
        async move {
            if let Err(error) = run(ctx, config, metrics).await {
                tracing::error!(%error, "the autoscaler stopped");
            }
        }
        .boxed()
    })
}
