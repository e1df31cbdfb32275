//! `spate-consumer`: loads the configuration, starts the HTTP server and the runtime, and
//! shuts down in order on SIGTERM or SIGINT, or when a credential file changes (exit 0:
//! the kubelet restarts the container, which reads the new credentials).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use spate_consumer::codec::validate::Validator;
use spate_consumer::codec::{CodecError, RecordCodec};
use spate_consumer::config::{Config, LogFormat};
use spate_consumer::metrics::Metrics;
use spate_consumer::runtime::health::Health;
use spate_consumer::runtime::pool::{OutOfRange, WorkerPool, WorkersState};
use spate_consumer::runtime::{Runtime, Settings, ddl};
use spate_consumer::security::FileWatch;
use spate_consumer::server::{self, AppState, WorkersApi};
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
    let codec = record_codec(&config).context("build record codec")?;
    let settings = Settings::from_config(config);
    let config = &settings.config;
    let metrics = Metrics::new().context("register metrics")?;
    metrics
        .target_latency
        .set(config.targets.latency.as_secs_f64());
    metrics.target_lag.set(config.targets.lag.as_secs_f64());
    let health = Arc::new(Health::new());

    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("listen on {}", config.server.listen))?;
    // The endpoints answer while the runtime starts: `/readyz` then says what it waits
    // for (QuestDB refusing the credentials, a broker refusing them).
    let workers = Arc::new(PendingWorkers::new(
        config.workers.initial,
        config.workers.max,
    ));
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let state = AppState {
        metrics: metrics.clone(),
        health: health.clone(),
        workers: workers.clone(),
        control: Arc::new(config.server.control.clone()),
    };
    let mut server_stop = stop_rx.clone();
    let server = tokio::spawn(server::serve(listener, state, async move {
        let _ = server_stop.wait_for(|s| *s).await;
    }));
    tokio::spawn(ping_questdb(
        config.questdb.http_url.clone(),
        health.clone(),
        stop_rx.clone(),
    ));
    let (reason_tx, mut reason) = watch::channel(None);
    tokio::spawn(stop_reason(settings.credential_files(), reason_tx));

    let started = tokio::select! {
        runtime = Runtime::start(settings.clone(), codec, metrics, health.clone()) => {
            Some(runtime.context("start consumer")?)
        }
        _ = reason.wait_for(Option::is_some) => None,
    };
    let reason = match started {
        None => {
            info!(reason = ?*reason.borrow(), "stopping before the consumer started");
            None
        }
        Some(runtime) => {
            workers.attach(runtime.pool());
            let reason = tokio::select! {
                r = reason.wait_for(Option::is_some) => r.ok().and_then(|r| *r),
                _ = watch_poll_thread(&runtime) => Some("poll thread stopped"),
            };
            info!(reason, "stopping");
            let report = tokio::task::spawn_blocking(move || runtime.shutdown())
                .await
                .context("shutdown task")?;
            if !report.committed || !report.closed {
                warn!(?report, "shutdown was not clean");
            }
            reason
        }
    };
    let _ = stop_tx.send(true);
    let _ = stop_rx.changed().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    if reason == Some(CREDENTIALS_CHANGED) {
        info!("exiting so that the new credentials are read at the next start");
    }
    Ok(())
}

/// The codec the validated configuration describes.
fn record_codec(config: &Config) -> Result<RecordCodec, CodecError> {
    let v = &config.validation;
    RecordCodec::new(
        config.input_format,
        &config.questdb.table,
        Validator::new(v.max_past, v.max_future, v.max_message_bytes),
    )
}

const CREDENTIALS_CHANGED: &str = "credentials changed";

/// Sends why the process must stop: a signal, or a changed credential file.
async fn stop_reason(files: FileWatch, tx: watch::Sender<Option<&'static str>>) {
    let reason = tokio::select! {
        signal = shutdown_signal() => signal,
        _ = credentials_changed(&files) => CREDENTIALS_CHANGED,
    };
    let _ = tx.send(Some(reason));
}

/// Returns once a credential or certificate file holds something new (the kubelet
/// updates mounted Secrets in place); never when there is none.
async fn credentials_changed(files: &FileWatch) {
    if files.is_empty() {
        return std::future::pending().await;
    }
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let changed = files.changed();
        if !changed.is_empty() {
            info!(
                settings = ?changed,
                "credentials changed: draining and committing as on SIGTERM, then exiting 0 so that the restart reads them"
            );
            return;
        }
    }
}

/// The control endpoint's view of the workers: the configured count until the runtime
/// has started (a count set meanwhile is applied then), the pool after.
struct PendingWorkers {
    pool: OnceLock<WorkerPool>,
    requested: AtomicUsize,
    max: usize,
}

impl PendingWorkers {
    fn new(initial: usize, max: usize) -> Self {
        PendingWorkers {
            pool: OnceLock::new(),
            requested: AtomicUsize::new(initial),
            max,
        }
    }

    fn attach(&self, pool: WorkerPool) {
        let requested = self.requested.load(Ordering::Acquire);
        if pool.state().workers != requested
            && let Err(error) = pool.set_workers(requested)
        {
            warn!(%error, "the worker count set while starting was not applied");
        }
        let _ = self.pool.set(pool);
    }
}

impl WorkersApi for PendingWorkers {
    fn state(&self) -> WorkersState {
        match self.pool.get() {
            Some(pool) => pool.state(),
            None => WorkersState {
                workers: self.requested.load(Ordering::Acquire),
                max: self.max,
                active: 0,
            },
        }
    }

    fn set_workers(&self, n: usize) -> Result<WorkersState, OutOfRange> {
        if let Some(pool) = self.pool.get() {
            return pool.set_workers(n);
        }
        if !(1..=self.max).contains(&n) {
            return Err(OutOfRange {
                requested: n,
                max: self.max,
            });
        }
        self.requested.store(n, Ordering::Release);
        Ok(self.state())
    }
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
        let reachable = ddl::ping(&client, &url).await;
        health.set_questdb_reachable(reachable, || format!("QuestDB does not answer {url}/ping"));
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
