//! spate-podrunner: runs the Pods of the local Kubernetes API server as local processes,
//! standing in for a kubelet (and a scheduler) where no container runtime exists.
//!
//! ```text
//! spate-podrunner --image-map spate-consumer=target/debug/spate-consumer --namespace trades
//! ```
//!
//! Without `--kubeconfig`, `--prometheus-targets-file` and `--log-dir`, the values come
//! from the local environment's env file (`.spate/env`, written by `make env-up`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use kube::config::{KubeConfigOptions, Kubeconfig};
use spate_tests::podrunner::{AddressRange, ImageMap, PodRunner, PodRunnerConfig};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Run the Pods of the local Kubernetes API server as local processes"
)]
struct Args {
    /// IMAGE=PATH: run PATH for containers of IMAGE (matched without registry, tag or digest).
    #[arg(long = "image-map", value_name = "IMAGE=PATH", required = true)]
    image_map: Vec<String>,
    /// Also bind pods whose images have no --image-map entry (they wait in ErrImagePull).
    #[arg(long)]
    claim_unmapped: bool,
    /// Name of the Node to register and bind pods to.
    #[arg(long, default_value = "spate-local")]
    node_name: String,
    /// Only run pods of this namespace (default: all namespaces).
    #[arg(long, short)]
    namespace: Option<String>,
    /// Only run pods matching this label selector.
    #[arg(long, short = 'l')]
    selector: Option<String>,
    /// Pod addresses come from this block of 127.0.0.0/8 (default: a /16 picked from the pid).
    #[arg(long, value_name = "127.X.Y.Z/LEN")]
    address_range: Option<AddressRange>,
    /// Per-container log files go under DIR (default: <SPATE_LOG_DIR>/pods).
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// Env variables holding a HOST:PORT listen address moved onto the pod IP.
    #[arg(long = "listen-env", value_name = "NAME", default_values_t = ["SPATE_LISTEN".to_owned()])]
    listen_env: Vec<String>,
    /// Variables of this environment passed to every container.
    #[arg(long = "pass-env", value_name = "NAME", default_values_t = ["PATH".to_owned()])]
    pass_env: Vec<String>,
    /// Keep this Prometheus file_sd JSON file in sync with the running pods.
    #[arg(long, value_name = "FILE")]
    prometheus_targets_file: Option<PathBuf>,
    /// Do not write the Prometheus targets file even when the env file names one.
    #[arg(long, conflicts_with = "prometheus_targets_file")]
    no_prometheus_targets: bool,
    /// Pod label whose value becomes the scrape target's `pipeline` label.
    #[arg(long, default_value = "app.kubernetes.io/instance")]
    pipeline_label: String,
    /// Admin kubeconfig of the API server (default: KUBECONFIG of the env file).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The local environment's env file.
    #[arg(long, value_name = "FILE", env = "SPATE_ENV_FILE")]
    env_file: Option<PathBuf>,
    /// Seconds a container gets between SIGTERM and SIGKILL when the runner stops.
    #[arg(long, default_value_t = 10)]
    shutdown_grace_secs: u64,
    /// On exit, mark the pods that ran here Failed (their ReplicaSets replace them).
    #[arg(long)]
    fail_pods_on_exit: bool,
    /// On exit, delete the Node object.
    #[arg(long)]
    delete_node_on_exit: bool,
    /// Log format.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    init_tracing(&args.log_format);
    // kube (ring) and reqwest (aws-lc) both bring a rustls provider: choose one for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let env_file = args.env_file.clone().unwrap_or_else(default_env_file);
    let env = read_env_file(&env_file).unwrap_or_default();
    let from_env = |key: &str| env.get(key).map(PathBuf::from);

    let kubeconfig = args
        .kubeconfig
        .clone()
        .or_else(|| from_env("KUBECONFIG"))
        .with_context(|| {
            format!(
                "no --kubeconfig and no KUBECONFIG in {} (run `make env-up`)",
                env_file.display()
            )
        })?;
    let client = kube_client(&kubeconfig).await?;

    let mut images = ImageMap::default();
    for spec in &args.image_map {
        images.insert_spec(spec)?;
    }
    for (image, path) in args.image_map.iter().filter_map(|s| s.split_once('=')) {
        if !Path::new(path).exists() {
            tracing::warn!(
                image,
                path,
                "the program mapped to this image does not exist (yet)"
            );
        }
    }
    let log_dir = args
        .log_dir
        .clone()
        .or_else(|| from_env("SPATE_LOG_DIR").map(|dir| dir.join("pods")))
        .unwrap_or_else(|| PathBuf::from(".spate/logs/pods"));

    let mut config = PodRunnerConfig::new(&args.node_name, images, log_dir);
    config.namespace = args.namespace.clone();
    config.label_selector = args.selector.clone();
    config.claim_unmapped = args.claim_unmapped;
    if let Some(range) = args.address_range {
        config.addresses = range;
    }
    config.listen_env = args.listen_env.clone();
    config.pass_env = args.pass_env.clone();
    config.prometheus_targets_file = if args.no_prometheus_targets {
        None
    } else {
        args.prometheus_targets_file
            .clone()
            .or_else(|| from_env("PROMETHEUS_TARGETS_FILE"))
    };
    config.pipeline_label = args.pipeline_label.clone();
    config.shutdown_grace = Duration::from_secs(args.shutdown_grace_secs);
    config.fail_pods_on_shutdown = args.fail_pods_on_exit;
    config.delete_node_on_shutdown = args.delete_node_on_exit;
    tracing::info!(
        node = %config.node_name,
        addresses = %config.addresses,
        log_dir = %config.log_dir.display(),
        targets = ?config.prometheus_targets_file,
        "starting pod runner"
    );

    let runner = PodRunner::start(client, config)
        .await
        .context("start the pod runner")?;
    let mut terminate = signal(SignalKind::terminate()).context("install the SIGTERM handler")?;
    let mut watchdog = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            _ = watchdog.tick() => if runner.is_finished() {
                bail!("the pod runner stopped on its own");
            },
        }
    }
    tracing::info!("stopping: terminating every pod's processes");
    runner.shutdown().await;
    Ok(())
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// `.spate/env` of the repository this binary was built from, else of the working directory.
fn default_env_file() -> PathBuf {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.spate/env");
    if built.exists() {
        built
    } else {
        PathBuf::from(".spate/env")
    }
}

fn read_env_file(path: &Path) -> Option<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(
        text.lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect(),
    )
}

async fn kube_client(path: &Path) -> Result<kube::Client> {
    let kubeconfig = Kubeconfig::read_from(path)
        .with_context(|| format!("read kubeconfig {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("use kubeconfig {}", path.display()))?;
    Ok(kube::Client::try_from(config)?)
}
