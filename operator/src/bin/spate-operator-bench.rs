//! Benchmark of the operator against a live API server (KUBECONFIG): time from creating a
//! pipeline to its children existing, then — with N pipelines in one namespace — the time
//! until every pipeline has a status, reconcile latency and count, skipped applies, memory
//! and CPU of the operator, and how long the controller manager takes to create the pods.
//! Prints figures; asserts nothing. Deletes its namespace at the end, also after an error.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, CustomResourceExt, ResourceExt};
use spate_operator::crd::IngestionPipeline;
use spate_operator::metrics::Metrics;
use spate_operator::run::{OperatorConfig, run};
use tokio::sync::watch;

#[derive(Parser)]
struct Args {
    /// Pipelines created for the scale run.
    #[arg(long, default_value_t = 1000)]
    pipelines: usize,
    /// Single-pipeline samples for the apply → children latency.
    #[arg(long, default_value_t = 20)]
    samples: usize,
    /// How long to wait, after every pipeline has a status, for the controller manager to
    /// create every Deployment's pods (0: do not wait).
    #[arg(long, default_value_t = 600)]
    pods_timeout_secs: u64,
}

/// A pipeline whose pods no node takes (a node selector nothing matches): the bench
/// measures the operator and the control plane, not a thousand consumers on the node.
fn pipeline(name: &str) -> Result<IngestionPipeline> {
    let yaml = format!(
        "apiVersion: spate.dev/v1alpha1\nkind: IngestionPipeline\nmetadata: {{name: {name}}}\nspec:\n  source: {{bootstrapServers: 'kafka:9092', topics: [t]}}\n  sink: {{address: 'questdb:9000'}}\n  scheduling: {{nodeSelector: {{spate.dev/bench: unschedulable}}}}\n"
    );
    Ok(serde_yaml::from_str(&yaml)?)
}

/// A field of /proc/self/status in MiB (`VmRSS`, `VmHWM`).
fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds (user + system) this process has used.
fn cpu_secs() -> f64 {
    let ticks = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = after.split_whitespace().collect();
            Some(f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?)
        })
        .unwrap_or(0.0);
    ticks / 100.0
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The `q` quantile of a histogram's cumulative buckets, interpolated within a bucket.
fn histogram_quantile(bounds: &[(f64, u64)], count: u64, q: f64) -> f64 {
    let rank = q * count as f64;
    let (mut lower, mut below) = (0.0, 0u64);
    for &(upper, cumulative) in bounds {
        if cumulative as f64 >= rank {
            let inside = (cumulative - below).max(1) as f64;
            return lower + (upper - lower) * (rank - below as f64) / inside;
        }
        (lower, below) = (upper, cumulative);
    }
    f64::INFINITY
}

fn counter(metrics: &Metrics, name: &str, label: &str, value: &str) -> u64 {
    metrics
        .registry
        .gather()
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.get_metric().iter())
        .filter(|m| {
            m.get_label()
                .iter()
                .any(|l| l.name() == label && l.value() == value)
        })
        .map(|m| m.get_counter().get_value() as u64)
        .sum()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client::try_default().await.context("KUBECONFIG")?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(
        "ingestionpipelines.spate.dev",
        &PatchParams::apply("spate-bench").force(),
        &Patch::Apply(IngestionPipeline::crd()),
    )
    .await?;
    let ns = format!("spate-bench-{}", std::process::id());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}}))?,
        )
        .await?;
    let result = tokio::select! {
        r = bench(&args, client, &ns) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    namespaces.delete(&ns, &Default::default()).await?;
    println!("namespace {ns} deleted (the garbage collector removes its objects)");
    result
}

async fn bench(args: &Args, client: Client, ns: &str) -> Result<()> {
    let metrics = Metrics::new();
    let (leader_tx, mut leader) = watch::channel(false);
    let mut cfg = OperatorConfig::new("bench", ns, "spate-consumer:bench");
    cfg.watch_namespaces = vec![ns.to_string()];
    let rss_idle = status_mib("VmRSS:");
    let op = tokio::spawn(run(
        client.clone(),
        cfg,
        metrics.clone(),
        leader_tx,
        futures::future::pending(),
    ));
    let _abort = AbortOnDrop(op);
    leader.wait_for(|l| *l).await?;

    let pipelines: Api<IngestionPipeline> = Api::namespaced(client.clone(), ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let mut latencies = Vec::new();
    for i in 0..args.samples {
        let name = format!("single-{i}");
        let started = Instant::now();
        pipelines
            .create(&PostParams::default(), &pipeline(&name)?)
            .await?;
        // The Deployment is the last child applied: when it exists, all of them do.
        while deployments.get_opt(&name).await?.is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(started.elapsed());
    }
    if !latencies.is_empty() {
        latencies.sort();
        println!(
            "create → children exist ({} samples, one at a time): p50 {:?}  p90 {:?}  max {:?}",
            args.samples,
            pct(&latencies, 0.5),
            pct(&latencies, 0.9),
            latencies[latencies.len() - 1]
        );
    }
    // Let the samples settle so that the scale run counts its own reconciles only.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let reconciles_before = metrics.duration.get_sample_count();
    let cpu_before = cpu_secs();
    let want = args.pipelines + args.samples;
    let mut statuses = watcher(pipelines.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let started = Instant::now();
    let creating = futures::stream::iter(0..args.pipelines)
        .map(|i| {
            let pipelines = pipelines.clone();
            async move {
                pipelines
                    .create(&PostParams::default(), &pipeline(&format!("p-{i:04}"))?)
                    .await
                    .map_err(anyhow::Error::from)
            }
        })
        .buffer_unordered(16)
        .try_for_each(|_| async { Ok(()) });
    let mut created = None;
    let mut creating = std::pin::pin!(creating);
    let mut done = HashSet::new();
    let mut last_report = Instant::now();
    while done.len() < want {
        tokio::select! {
            r = &mut creating, if created.is_none() => {
                r?;
                created = Some(started.elapsed());
            }
            p = statuses.try_next() => {
                let Some(p) = p? else { anyhow::bail!("the pipeline watch ended") };
                if p.status.as_ref().and_then(|s| s.observed_generation).is_some() {
                    done.insert(p.name_any());
                }
            }
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            println!(
                "  {}/{want} with status after {:?}, RSS {:.1} MiB",
                done.len(),
                started.elapsed(),
                status_mib("VmRSS:")
            );
        }
    }
    let all = started.elapsed();
    let created = created.unwrap_or(all);
    let cpu = cpu_secs() - cpu_before;
    println!(
        "{} pipelines created in {created:?}; all {want} have a status (children applied) after {all:?}",
        args.pipelines
    );
    println!(
        "operator CPU (whole bench process) during the run: {cpu:.1} s ({:.0}% of one core)",
        100.0 * cpu / all.as_secs_f64()
    );
    report_reconciles(&metrics, reconciles_before, args.pipelines);
    println!(
        "process RSS: {rss_idle:.1} MiB before the operator started, {:.1} MiB with {want} pipelines, peak {:.1} MiB",
        status_mib("VmRSS:"),
        status_mib("VmHWM:")
    );

    if args.pods_timeout_secs > 0 {
        wait_for_pods(
            &deployments,
            want,
            started,
            Duration::from_secs(args.pods_timeout_secs),
        )
        .await?;
        report_reconciles(&metrics, reconciles_before, args.pipelines);
        println!(
            "peak RSS including the settling: {:.1} MiB",
            status_mib("VmHWM:")
        );
    }
    Ok(())
}

/// Prints reconcile count, latency quantiles and applies done/skipped since `before`.
fn report_reconciles(metrics: &Metrics, before: u64, pipelines: usize) {
    let h = &metrics.duration;
    let count = h.get_sample_count() - before;
    let proto = prometheus::core::Collector::collect(h);
    let buckets: Vec<(f64, u64)> = proto
        .first()
        .and_then(|f| f.get_metric().first())
        .map(|m| {
            m.get_histogram()
                .get_bucket()
                .iter()
                .map(|b| (b.upper_bound(), b.cumulative_count()))
                .collect()
        })
        .unwrap_or_default();
    let total = h.get_sample_count();
    println!(
        "reconciles: {count} during the run ({:.1} per pipeline), latency over all {total}: p50 {:.1} ms  p99 {:.1} ms  mean {:.1} ms",
        count as f64 / pipelines.max(1) as f64,
        1000.0 * histogram_quantile(&buckets, total, 0.5),
        1000.0 * histogram_quantile(&buckets, total, 0.99),
        1000.0 * h.get_sample_sum() / total.max(1) as f64,
    );
    let name = "spate_operator_child_applies_total";
    println!(
        "child applies: {} applied, {} skipped as unchanged (all kinds, whole bench)",
        counter(metrics, name, "result", "applied"),
        counter(metrics, name, "result", "skipped"),
    );
}

/// Waits until the controller manager has created a pod for every Deployment (its
/// `status.replicas` ≥ 1), printing progress since `started`; gives up after `timeout`.
async fn wait_for_pods(
    deployments: &Api<Deployment>,
    want: usize,
    started: Instant,
    timeout: Duration,
) -> Result<()> {
    let mut events = watcher(deployments.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let mut done = HashSet::new();
    let mut last_report = Instant::now();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    while done.len() < want {
        tokio::select! {
            () = &mut deadline => {
                println!("  controller manager: {}/{want} Deployments have pods after {:?}; gave up waiting", done.len(), started.elapsed());
                return Ok(());
            }
            d = events.try_next() => {
                let Some(d) = d? else { anyhow::bail!("the Deployment watch ended") };
                if d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0) >= 1 {
                    done.insert(d.name_any());
                }
            }
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            println!(
                "  controller manager: {}/{want} Deployments have pods after {:?}",
                done.len(),
                started.elapsed()
            );
        }
    }
    println!(
        "controller manager: all {want} Deployments have pods {:?} after the pipelines were created",
        started.elapsed()
    );
    Ok(())
}

/// Stops the in-process operator when the bench returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
