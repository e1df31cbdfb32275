//! The live autoscaler: one loop per autoscaled pipeline, run only while this operator
//! instance holds the Lease. Each round reads the signals, calls the pure policy and applies
//! the decision (workers live on the pods, replicas through the status, an Event, metrics).

pub mod apply;
pub mod lag_source;
pub mod memory;
pub mod metrics;
mod pipeline;
pub mod pods;
mod supervisor;
pub mod tracker;

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
    /// How often that Prometheus scrapes the consumers: the `rate()` window and the age
    /// beyond which a sample is stale follow it ([`prometheus_window`]).
    pub prometheus_scrape_interval: Duration,
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
    /// This operator instance, named as the writer of the autoscaler's memory.
    pub identity: String,
}

impl Default for AutoscalerConfig {
    fn default() -> Self {
        Self {
            prometheus_url: None,
            prometheus_scrape_interval: Duration::from_secs(15),
            namespace: None,
            interval: Duration::from_secs(1),
            consumer_port: crate::build::names::METRICS_PORT as u16,
            timeout: Duration::from_secs(3),
            control_token_file: None,
            identity: "spate-operator".into(),
        }
    }
}

/// The shortest `rate()` window of the Prometheus queries: a shorter one reacts faster but
/// holds too few samples at a fine scrape interval.
const MIN_PROMETHEUS_WINDOW: Duration = Duration::from_secs(10);

/// The `rate()` window for a scrape interval: four scrapes (`rate()` needs two samples in
/// the window; four survive a missed scrape and jitter), never below
/// [`MIN_PROMETHEUS_WINDOW`], as a PromQL duration in whole seconds.
pub fn prometheus_window(scrape_interval: Duration) -> String {
    let window = (scrape_interval * 4).max(MIN_PROMETHEUS_WINDOW);
    format!("{}s", window.as_secs_f64().ceil() as u64)
}

/// The age beyond which a Prometheus sample is stale: three missed scrapes, and never less
/// than five autoscaler rounds.
pub fn prometheus_stale_after(scrape_interval: Duration, round: Duration) -> Duration {
    (scrape_interval * 3).max(round * 5)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_window_is_four_scrapes_and_at_least_ten_seconds() {
        assert_eq!(prometheus_window(Duration::from_secs(1)), "10s");
        assert_eq!(prometheus_window(Duration::from_secs(15)), "60s");
        assert_eq!(prometheus_window(Duration::from_secs(30)), "120s");
        assert_eq!(prometheus_window(Duration::from_millis(2600)), "11s");
    }

    #[test]
    fn a_sample_is_stale_after_three_scrapes_or_five_rounds() {
        let round = Duration::from_secs(1);
        assert_eq!(
            prometheus_stale_after(Duration::from_secs(30), round),
            Duration::from_secs(90)
        );
        assert_eq!(
            prometheus_stale_after(Duration::from_secs(1), round),
            Duration::from_secs(5)
        );
    }
}
