//! `spate-consumer`: loads the configuration, starts the runtime and the HTTP server, and
//! shuts down in order on SIGTERM or SIGINT.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use spate_consumer::config::{Config, LogFormat};
use spate_consumer::metrics::Metrics;
use spate_consumer::record::RecordCodec;
use spate_consumer::runtime::health::Health;
use spate_consumer::runtime::{Runtime, Settings, ddl};
use spate_consumer::server::{self, AppState};
use tokio::sync::watch;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

fn main() {
    let config = match Config::load(std::env::args_os(), |k| std::env::var(k).ok()) {
        Ok(config) => config,
        Err(errors) => {
            eprint!("{errors}");
            std::process::exit(errors.exit_code());
        }
    };
    init_tracing(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(error) = runtime.block_on(run(config)) {
        error!("{error:#}");
        std::process::exit(1);
    }
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,rdkafka=warn,librdkafka=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn run(config: Config) -> anyhow::Result<()> {
    let settings = Settings::from_config(&config);
    let codec = RecordCodec::from_config(&config).context("build record codec")?;
    let metrics = Metrics::new().context("register metrics")?;
    metrics
        .target_latency
        .set(config.targets.latency.as_secs_f64());
    metrics.target_lag.set(config.targets.lag.as_secs_f64());
    let health = Arc::new(Health::new());

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listen on {}", settings.listen))?;
    let runtime = Runtime::start(settings.clone(), codec, metrics.clone(), health.clone())
        .await
        .context("start consumer")?;

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let state = AppState {
        metrics,
        health: health.clone(),
        workers: Arc::new(runtime.pool()),
        control: Arc::new(settings.control.clone()),
    };
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(server::serve(listener, state, async move {
        let _ = server_stop.wait_for(|s| *s).await;
    }));
    tokio::spawn(ping_questdb(
        settings.questdb_http_url.clone(),
        health.clone(),
        stop_rx.clone(),
    ));

    let reason = tokio::select! {
        signal = shutdown_signal() => signal,
        _ = watch_poll_thread(&runtime) => "poll thread stopped",
    };
    info!(reason, "stopping");
    let report = tokio::task::spawn_blocking(move || runtime.shutdown())
        .await
        .context("shutdown task")?;
    let _ = stop_tx.send(true);
    let _ = stop_rx.changed().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    if !report.committed || !report.closed {
        warn!(?report, "shutdown was not clean");
    }
    Ok(())
}

async fn watch_poll_thread(runtime: &Runtime) {
    while runtime.is_polling() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Keeps `/readyz` honest while no flush happens.
async fn ping_questdb(url: String, health: Arc<Health>, mut stop: watch::Receiver<bool>) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap_or_default();
    loop {
        health.set_questdb(ddl::ping(&client, &url).await);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}
