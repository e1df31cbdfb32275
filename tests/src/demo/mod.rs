//! The autoscaling scenario end to end, shared by `make demo` (`spate-demo`) and the
//! `e2e_autoscale` test: a quiet load, a spike and quiet again, produced to real Kafka and
//! carried into real QuestDB by consumer pods that the operator scales — workers first,
//! then pods — and scales back down once the backlog is drained.

mod load;
mod report;
mod sampler;
mod setup;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use spate_operator::crd::IngestionPipeline;

pub use load::{Load, Phase, Schedule};
pub use report::{DecisionRow, Sample, Summary, plot, summarise};
pub use sampler::Sampler;
pub use setup::{install_crd, save_pod_logs};

use crate::operator::OperatorDeployment;
use crate::{create_topic, kube_client, unique_name, unique_table};

/// What went wrong, named after the action that failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{action}: {source}")]
    Kube {
        action: &'static str,
        source: kube::Error,
    },
    #[error("waiting: {0}")]
    Wait(String),
    #[error("timed out waiting for {0}")]
    Timeout(String),
    #[error("the operator: {0}")]
    Operator(String),
    #[error("producing the load: {0}")]
    Produce(String),
    #[error("the environment: {0}")]
    Env(#[source] crate::Error),
    #[error("querying QuestDB: {0}")]
    Query(#[source] crate::Error),
    #[error("writing {path}: {source}")]
    WriteOutput {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The scenario's settings.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Prefix of the namespace, topic and table names.
    pub prefix: String,
    /// Partitions of the topic.
    pub partitions: i32,
    /// The load.
    pub schedule: Schedule,
    /// Symbols of the generated market (message keys).
    pub symbols: usize,
    /// Workers per pod, min and max.
    pub workers: (i32, i32),
    /// Pods, min and max.
    pub replicas: (i32, i32),
    /// `autoscaling.drainTimeSeconds`.
    pub drain_seconds: i32,
    /// `autoscaling.stabilization.scaleDownSeconds`.
    pub scale_down_seconds: i32,
    /// `autoscaling.rebalanceSettleSeconds`.
    pub rebalance_settle_seconds: i32,
    /// `autoscaling.targets.lagSeconds`.
    pub lag_target_seconds: f64,
    /// `autoscaling.perWorkerRateHint`.
    pub per_worker_rate_hint: Option<f64>,
    /// Whether the operator reads the consumers' metrics from Prometheus (else it scrapes the pods).
    pub use_prometheus: bool,
    /// Where logs and the plot go.
    pub out_dir: PathBuf,
    /// The longest the run may last after the load started (the load, the drain and the scale-down).
    pub max_run: Duration,
    /// The longest the first pod may take to become ready.
    pub startup_timeout: Duration,
    /// Kill the operator replica holding the Lease this many seconds after the load
    /// started (its pod deleted without a grace period); the other replica takes over.
    pub kill_leader_at: Option<f64>,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Report {
    /// The figures.
    pub summary: Summary,
    /// Every second of it.
    pub samples: Vec<Sample>,
    /// The plot.
    pub plot: PathBuf,
    /// The namespace, topic and table used.
    pub names: (String, String, String),
    /// When the leading operator was killed (seconds since the load started) and its name.
    pub leader_killed: Option<(f64, String)>,
}

/// Runs the scenario; `progress` sees every sample as it is taken, `note` every step.
pub async fn run(
    s: &Scenario,
    progress: &mut dyn FnMut(&Sample),
    note: &mut dyn FnMut(&str),
) -> Result<Report, DemoError> {
    crate::TestEnv::load()
        .map_err(DemoError::Env)?
        .check_reachable()
        .map_err(DemoError::Env)?;
    let client = kube_client().await.map_err(DemoError::Env)?;
    setup::install_crd(&client).await?;
    let namespace = unique_name(&s.prefix);
    let topic = unique_name(&format!("{}-trades", s.prefix));
    let table = unique_table(&format!("{}_trades", s.prefix));
    let name = "trades".to_string();
    setup::create_namespace(&client, &namespace).await?;
    create_topic(&topic, s.partitions)
        .await
        .map_err(DemoError::Env)?;
    note(&format!(
        "namespace {namespace}, topic {topic} ({} partitions), QuestDB table {table}",
        s.partitions
    ));

    note("installing spate-operator from its image (kubectl apply -k of manifests/namespaced)");
    let installed = setup::install_operator(&client, &namespace, s.use_prometheus).await;
    let result = match installed {
        Ok(operator) => {
            scenario(s, &client, &operator, &name, &topic, &table, progress, note).await
        }
        Err(e) => Err(e),
    };
    let logs = s.out_dir.join("logs");
    match save_pod_logs(&namespace, &logs) {
        Ok(n) => note(&format!("saved the logs of {n} pods in {}", logs.display())),
        Err(e) => note(&format!("saving the pods' logs failed: {e}")),
    }
    if let Err(e) = setup::delete_namespace(&client, &namespace).await {
        note(&format!("deleting namespace {namespace} failed: {e}"));
    }
    result.map(|(summary, samples, plot, leader_killed)| Report {
        summary,
        samples,
        plot,
        names: (namespace, topic, table),
        leader_killed,
    })
}

#[allow(clippy::too_many_arguments)]
async fn scenario(
    s: &Scenario,
    client: &kube::Client,
    operator: &OperatorDeployment,
    name: &str,
    topic: &str,
    table: &str,
    progress: &mut dyn FnMut(&Sample),
    note: &mut dyn FnMut(&str),
) -> Result<(Summary, Vec<Sample>, PathBuf, Option<(f64, String)>), DemoError> {
    let namespace = operator.namespace.as_str();
    let pipelines: Api<IngestionPipeline> = Api::namespaced(client.clone(), namespace);
    let pipeline = setup::pipeline(s, name, topic, table)?;
    pipelines
        .create(&PostParams::default(), &pipeline)
        .await
        .map_err(|e| DemoError::Kube {
            action: "create the IngestionPipeline",
            source: e,
        })?;
    note(&format!(
        "IngestionPipeline {namespace}/{name}: workers {}..{}, replicas {}..{}, drain {} s, scale-down dwell {} s",
        s.workers.0, s.workers.1, s.replicas.0, s.replicas.1, s.drain_seconds, s.scale_down_seconds
    ));
    let group = format!("spate.{namespace}.{name}");
    let mut sampler = Sampler::new(client.clone(), namespace, name, table, topic, &group)?;

    // The first pod must be consuming before the load starts.
    let ready_by = tokio::time::Instant::now() + s.startup_timeout;
    loop {
        let sample = sampler.sample(0.0, 0).await;
        if sample.ready >= 1 && !sample.workers.is_empty() {
            break;
        }
        if tokio::time::Instant::now() >= ready_by {
            return Err(DemoError::Timeout(format!(
                "a ready consumer pod (last: {})",
                sample.line()
            )));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    note(&format!(
        "consumer pod ready; producing {}",
        describe(&s.schedule)
    ));

    sampler.start_clock(Timestamp::now());
    let clock = tokio::time::Instant::now();
    let mut load = Load::start(topic, s.schedule.clone(), s.symbols)?;
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let drained_below = drained_below(&s.schedule);
    let mut peaked = false;
    let mut leader_killed = None;
    loop {
        tick.tick().await;
        let t = clock.elapsed().as_secs_f64();
        if leader_killed.is_none() && s.kill_leader_at.is_some_and(|at| t >= at) {
            let leader = operator
                .kill_leader()
                .await
                .map_err(|e| DemoError::Operator(e.to_string()))?;
            note(&format!("killed the leading operator {leader} at {t:.0} s"));
            leader_killed = Some((t, leader));
        }
        let sample = sampler.sample(t, load.acked.load(Ordering::Relaxed)).await;
        progress(&sample);
        peaked |= sample.replicas > s.replicas.0 as u32
            || sample.workers.iter().any(|(_, w)| *w > s.workers.0 as u32);
        let finished = load.is_finished();
        let done = finished
            && peaked
            && sample.lag.is_some_and(|l| l <= drained_below)
            && sample.rows >= sample.produced
            && sample.replicas == s.replicas.0 as u32
            && sample.ready == s.replicas.0 as u32;
        samples.push(sample);
        if done {
            break;
        }
        if clock.elapsed() >= s.max_run {
            note("the run reached its time limit");
            break;
        }
    }
    load.finish()?;
    let produced = load.acked.load(Ordering::Relaxed);
    let failed = load.failed.load(Ordering::Relaxed);
    // WAL tables apply asynchronously: give the last rows a moment to become visible.
    let mut counts = sampler.counts().await?;
    for _ in 0..30 {
        if counts.0 >= produced {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        counts = sampler.counts().await?;
    }
    let decisions = sampler.decisions();
    let summary = summarise(
        &samples,
        decisions,
        s.schedule.peak_window(),
        (produced, failed, counts.0, counts.1),
        drained_below,
    );
    std::fs::create_dir_all(&s.out_dir).map_err(|source| DemoError::WriteOutput {
        path: s.out_dir.clone(),
        source,
    })?;
    let path = s.out_dir.join("autoscale.svg");
    let title = format!("spate autoscaling: {}", describe(&s.schedule));
    std::fs::write(&path, plot(&title, &samples, &summary.decisions)).map_err(|source| {
        DemoError::WriteOutput {
            path: path.clone(),
            source,
        }
    })?;
    Ok((summary, samples, path, leader_killed))
}

/// The lag under which the backlog counts as drained: two seconds of the quietest phase,
/// at least a thousand records (offsets are committed about once a second, so a pipeline
/// that keeps up shows up to a second of arrivals as lag).
pub fn drained_below(schedule: &Schedule) -> u64 {
    let quiet = schedule.0.iter().map(|p| p.rate).fold(f64::MAX, f64::min);
    (2.0 * quiet).max(1000.0) as u64
}

fn describe(schedule: &Schedule) -> String {
    schedule
        .0
        .iter()
        .map(|p| format!("{:.0}/s for {:.0}s", p.rate, p.seconds))
        .collect::<Vec<_>>()
        .join(", then ")
}
