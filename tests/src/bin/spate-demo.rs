//! spate-demo: the autoscaling scenario on the local environment, with live progress, a
//! summary and a plot. `make demo` builds it and runs it after `make env-up`.
//!
//! A quiet load, a spike and quiet again go to a fresh Kafka topic; spate-operator, running
//! from its image in the demo's namespace, scales the consumer pods — real containers on
//! the local node — and every trade lands in a fresh QuestDB table exactly once.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use spate_tests::demo::{Scenario, Schedule, run};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Run spate's autoscaling demo on the local environment"
)]
struct Args {
    /// Trades per second before and after the spike.
    #[arg(long, default_value_t = 2_000.0)]
    base: f64,
    /// Trades per second during the spike.
    #[arg(long, default_value_t = 40_000.0)]
    peak: f64,
    /// Seconds of quiet load before the spike.
    #[arg(long, default_value_t = 20.0)]
    quiet_seconds: f64,
    /// Seconds the spike lasts.
    #[arg(long, default_value_t = 45.0)]
    spike_seconds: f64,
    /// Seconds of quiet load after the spike.
    #[arg(long, default_value_t = 75.0)]
    tail_seconds: f64,
    /// Partitions of the topic.
    #[arg(long, default_value_t = 8)]
    partitions: i32,
    /// The most workers per pod.
    #[arg(long, default_value_t = 4)]
    max_workers: i32,
    /// The most pods.
    #[arg(long, default_value_t = 3)]
    max_replicas: i32,
    /// Seconds the backlog must stay drained before scaling down.
    #[arg(long, default_value_t = 20)]
    scale_down_seconds: i32,
    /// Let the operator scrape the consumer pods directly instead of asking Prometheus.
    #[arg(long)]
    scrape_pods: bool,
    /// Where the plot and the logs go.
    #[arg(long, default_value = "target/demo")]
    out: PathBuf,
    /// The longest the run may last, minutes.
    #[arg(long, default_value_t = 6.0)]
    max_minutes: f64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let log_path = args.out.join("demo.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,kube=warn".into()),
        )
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(log))
        .init();

    let images = spate_tests::Images::build().context("building the images (make images)")?;
    let scenario = Scenario {
        prefix: "demo".into(),
        partitions: args.partitions,
        schedule: Schedule::spike(
            args.base,
            args.quiet_seconds,
            args.peak,
            args.spike_seconds,
            args.tail_seconds,
        ),
        symbols: 64,
        workers: (1, args.max_workers),
        replicas: (1, args.max_replicas),
        drain_seconds: 30,
        scale_down_seconds: args.scale_down_seconds,
        rebalance_settle_seconds: 5,
        lag_target_seconds: 5.0,
        per_worker_rate_hint: Some(5_000.0),
        use_prometheus: !args.scrape_pods,
        out_dir: args.out.clone(),
        max_run: Duration::from_secs_f64(args.max_minutes * 60.0),
        startup_timeout: Duration::from_secs(120),
        kill_leader_at: None,
    };
    println!(
        "spate demo — Kafka, QuestDB, Prometheus and a Kubernetes node on this machine; \
         images {} and {}",
        images.operator, images.consumer
    );
    println!(
        "logs: {} (this program), {}/logs/ (every pod: the operator's and the consumers')",
        log_path.display(),
        args.out.display()
    );
    let mut progress = |s: &spate_tests::demo::Sample| {
        println!("{}", s.line());
        let _ = std::io::stdout().flush();
    };
    let mut note = |m: &str| println!("• {m}");
    let report = tokio::select! {
        r = run(&scenario, &mut progress, &mut note) => r.context("the demo failed")?,
        _ = tokio::signal::ctrl_c() => {
            println!("interrupted: the demo's namespace (demo-…) keeps running on the node until \
                `kubectl delete namespace` or `make env-down`");
            return Ok(());
        }
    };
    let (namespace, topic, table) = &report.names;
    println!("\nsummary (namespace {namespace}, topic {topic}, table {table}):\n");
    print!("{}", report.summary.table());
    println!("\nplot: {}", report.plot.display());
    println!(
        "the environment stays up for `make demo` again or `make test`; `make env-down` stops it"
    );
    anyhow::ensure!(
        report.summary.exactly_once(),
        "not every trade is in QuestDB exactly once"
    );
    Ok(())
}
