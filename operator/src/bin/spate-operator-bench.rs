//! Benchmark of the operator against a live API server (KUBECONFIG): time from creating a
//! pipeline to its Deployment existing, then reconcile latency and memory with N pipelines
//! in one namespace. Prints figures; asserts nothing.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, CustomResourceExt};
use spate_operator::crd::IngestionPipeline;
use spate_operator::metrics::Metrics;
use spate_operator::run::{OperatorConfig, run};
use tokio::sync::watch;

#[derive(Parser)]
struct Args {
    /// Pipelines created for the scale run.
    #[arg(long, default_value_t = 1000)]
    pipelines: usize,
    /// Single-pipeline samples for the apply → Deployment latency.
    #[arg(long, default_value_t = 20)]
    samples: usize,
}

fn pipeline(name: &str) -> Result<IngestionPipeline> {
    let yaml = format!(
        "apiVersion: spate.dev/v1alpha1\nkind: IngestionPipeline\nmetadata: {{name: {name}}}\nspec:\n  source: {{bootstrapServers: 'kafka:9092', topics: [t]}}\n  sink: {{address: 'questdb:9000'}}\n"
    );
    Ok(serde_yaml::from_str(&yaml)?)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
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

    let metrics = Metrics::new();
    let (leader_tx, mut leader) = watch::channel(false);
    let mut cfg = OperatorConfig::new("bench", &ns, "spate-consumer:bench");
    cfg.watch_namespace = Some(ns.clone());
    let rss_idle = rss_mib();
    let op = tokio::spawn(run(
        client.clone(),
        cfg,
        metrics.clone(),
        leader_tx,
        futures::future::pending(),
    ));
    leader.wait_for(|l| *l).await?;

    let pipelines: Api<IngestionPipeline> = Api::namespaced(client.clone(), &ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let mut latencies = Vec::new();
    for i in 0..args.samples {
        let name = format!("single-{i}");
        let started = Instant::now();
        pipelines
            .create(&PostParams::default(), &pipeline(&name)?)
            .await?;
        while deployments.get_opt(&name).await?.is_none() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    println!(
        "create → Deployment exists ({} samples): p50 {:?}  p90 {:?}  max {:?}",
        args.samples,
        pct(&latencies, 0.5),
        pct(&latencies, 0.9),
        latencies[latencies.len() - 1]
    );

    let before = (
        metrics.duration.get_sample_count(),
        metrics.duration.get_sample_sum(),
    );
    let started = Instant::now();
    futures::stream::iter(0..args.pipelines)
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
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>>>()?;
    let created = started.elapsed();
    let want = args.pipelines + args.samples;
    let mut last_report = Instant::now();
    loop {
        let done = pipelines
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|p| {
                p.status
                    .as_ref()
                    .and_then(|s| s.observed_generation)
                    .is_some()
            })
            .count();
        if done >= want {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            println!(
                "  {done}/{want} reconciled after {:?}, RSS {:.1} MiB",
                started.elapsed(),
                rss_mib()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let all = started.elapsed();
    let (count, sum) = (
        metrics.duration.get_sample_count() - before.0,
        metrics.duration.get_sample_sum() - before.1,
    );
    println!(
        "{} pipelines created in {created:?}; all reconciled with status in {all:?}",
        args.pipelines
    );
    println!(
        "reconciles during the run: {count}, mean {:.1} ms",
        1000.0 * sum / count.max(1) as f64
    );
    println!(
        "process RSS: {rss_idle:.1} MiB before the operator started, {:.1} MiB with {want} pipelines",
        rss_mib()
    );
    op.abort();
    namespaces.delete(&ns, &Default::default()).await?;
    Ok(())
}
