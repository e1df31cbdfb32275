//! spate-operator: runs the IngestionPipeline controller behind a Lease, with /metrics and health endpoints.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use spate_operator::autoscale::controller::{AutoscalerConfig, AutoscalerMetrics, leader_task};
use spate_operator::metrics::Metrics;
use spate_operator::run::{OperatorConfig, run};
use tokio::sync::watch;
use tracing::info;

#[derive(Parser, Debug)]
#[command(
    name = "spate-operator",
    version,
    about = "Reconciles IngestionPipelines into spate-consumer workloads"
)]
struct Args {
    /// This instance's identity in the Lease (the pod name in a cluster).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// The namespace of the Lease (the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "spate-system")]
    lease_namespace: String,
    /// The Lease's name.
    #[arg(long, env = "SPATE_LEASE_NAME", default_value = "spate-operator")]
    lease_name: String,
    /// Watch only these namespaces, comma-separated (all namespaces when absent). The
    /// namespaced install sets its own namespace, with RoleBindings there only.
    #[arg(long, env = "SPATE_WATCH_NAMESPACES", value_delimiter = ',')]
    watch_namespaces: Vec<String>,
    /// The operator's ServiceAccount, whose tokens the consumers' control endpoint
    /// accepts (with the Lease's namespace: the operator's own).
    #[arg(long, env = "SPATE_SERVICE_ACCOUNT")]
    service_account: Option<String>,
    /// The operator's projected ServiceAccount token for the consumers' control audience
    /// (spate.dev/control), renewed by the kubelet.
    #[arg(long, env = "SPATE_CONTROL_TOKEN_FILE")]
    control_token_file: Option<std::path::PathBuf>,
    /// The consumer image for pipelines that name none.
    #[arg(long, env = "SPATE_CONSUMER_IMAGE", default_value = concat!("ghcr.io/spate-dev/spate-consumer:", env!("CARGO_PKG_VERSION")))]
    consumer_image: String,
    /// Where /metrics, /healthz and /readyz listen.
    #[arg(long, env = "SPATE_OPERATOR_LISTEN", default_value = "0.0.0.0:8080")]
    listen: SocketAddr,
    /// Log format: text or json.
    #[arg(long, env = "SPATE_LOG_FORMAT", default_value = "json")]
    log_format: String,
    /// The Prometheus the autoscaler reads the consumers' metrics from; it scrapes the pods
    /// directly when absent.
    #[arg(long, env = "PROMETHEUS_URL")]
    prometheus_url: Option<String>,
    /// Milliseconds between two autoscaler rounds of one pipeline.
    #[arg(long, env = "SPATE_AUTOSCALE_INTERVAL_MS", default_value_t = 1000)]
    autoscale_interval_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,kube=warn".into());
    if args.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }

    // kube's TLS uses the process-wide rustls provider; pick ring explicitly so the choice
    // does not depend on which crypto features the dependency graph happens to enable.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(|| format!("spate-operator-{}", std::process::id()));
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let metrics = Metrics::new();
    let (leader_tx, leader_rx) = watch::channel(false);

    let mut cfg = OperatorConfig::new(&identity, &args.lease_namespace, &args.consumer_image);
    cfg.lease.name = args.lease_name.clone();
    cfg.watch_namespaces = args
        .watch_namespaces
        .iter()
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    cfg.reconciler.control_subject = args
        .service_account
        .as_ref()
        .map(|sa| format!("system:serviceaccount:{}:{sa}", args.lease_namespace));
    let autoscaler_metrics = AutoscalerMetrics::register(&metrics.registry)
        .context("registering the autoscaler's metrics")?;
    let scopes: Vec<Option<String>> = if cfg.watch_namespaces.is_empty() {
        vec![None]
    } else {
        cfg.watch_namespaces.iter().cloned().map(Some).collect()
    };
    for namespace in scopes {
        let autoscaler = AutoscalerConfig {
            prometheus_url: args.prometheus_url.clone(),
            namespace,
            interval: std::time::Duration::from_millis(args.autoscale_interval_ms.max(100)),
            control_token_file: args.control_token_file.clone(),
            ..AutoscalerConfig::default()
        };
        cfg.leader_tasks
            .push(leader_task(autoscaler, autoscaler_metrics.clone()));
    }

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    info!(%identity, listen = %args.listen, "spate-operator starting");
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(spate_operator::http::serve(
        listener,
        spate_operator::http::router(metrics.clone(), leader_rx),
        wait_true(stop_rx.clone()),
    ));

    run(client, cfg, metrics, leader_tx, async move {
        shutdown_signal().await;
        info!("shutting down");
    })
    .await;
    stop_tx.send_replace(true);
    server
        .await
        .context("joining the HTTP server")?
        .context("serving HTTP")?;
    Ok(())
}

async fn wait_true(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|v| *v).await;
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
