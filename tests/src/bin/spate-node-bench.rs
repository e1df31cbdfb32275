//! spate-node-bench: what the local node costs and how fast a pipeline starts on it.
//!
//! - the node's own footprint: resident memory and CPU of the kubelet, containerd (with its
//!   shims) and kube-scheduler over an idle interval, before any pod of the bench runs;
//! - `kubectl apply` of a pipeline → its pod ready → its first row in QuestDB, over
//!   `--tries` pipelines, one after another, each with a trade already waiting in its topic
//!   (the operator running from its image, the images already on the node).
//!
//! ```sh
//! make env-up images
//! cargo run --release -p spate-tests --bin spate-node-bench -- --tries 20
//! ```

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use spate_operator::crd::IngestionPipeline;
use spate_tests::demo::install_crd;
use spate_tests::node::pod_ready;
use spate_tests::operator::{OperatorDeployment, OperatorOptions};
use spate_tests::{
    TestEnv, create_namespace, create_topic, kafka_config, kube_client, kubectl_apply,
    questdb_count, repo_root, unique_name, unique_table,
};

#[derive(Debug, clap::Parser)]
#[command(about = "Measure the local node: its footprint, and apply → ready → first row")]
struct Args {
    /// Pipelines applied one after another.
    #[arg(long, default_value_t = 20)]
    tries: usize,
    /// Seconds over which the idle node's CPU is measured.
    #[arg(long, default_value_t = 30)]
    idle_seconds: u64,
}

/// Resident memory (KiB) and CPU time (clock ticks) of a process.
fn usage(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches(" kB")
        .parse()
        .ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((rss, ticks))
}

/// The pids of the node's daemons, by name (shims found by their command line).
fn node_pids() -> Vec<(String, Vec<u32>)> {
    let pid_of = |name: &str| {
        std::fs::read_to_string(repo_root().join(format!(".spate/pids/{name}.pid")))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
    };
    let mut out: Vec<(String, Vec<u32>)> = ["kubelet", "containerd", "kube-scheduler"]
        .iter()
        .map(|n| (n.to_string(), pid_of(n).into_iter().collect()))
        .collect();
    let shims = std::process::Command::new("pgrep")
        .args(["-f", "containerd-shim-runc-v2 -namespace k8s.io"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    out.push(("containerd shims".into(), shims));
    out
}

async fn footprint(idle: Duration) {
    let before: Vec<_> = node_pids()
        .into_iter()
        .map(|(n, pids)| (n, pids.iter().filter_map(|p| usage(*p)).collect::<Vec<_>>()))
        .collect();
    tokio::time::sleep(idle).await;
    println!("node footprint, idle for {idle:?} (no bench pod running):");
    for ((name, pids), (_, then)) in node_pids().into_iter().zip(before) {
        let now: Vec<_> = pids.iter().filter_map(|p| usage(*p)).collect();
        let rss: u64 = now.iter().map(|u| u.0).sum();
        let cpu: u64 = now.iter().map(|u| u.1).sum::<u64>()
            - then
                .iter()
                .map(|u| u.1)
                .sum::<u64>()
                .min(now.iter().map(|u| u.1).sum());
        println!(
            "  {name:<17} {:>2} processes  RSS {:>6.1} MiB  CPU {:>5} ms ({:.2} % of a core)",
            now.len(),
            rss as f64 / 1024.0,
            cpu * 10,
            cpu as f64 * 10.0 / idle.as_millis() as f64 * 100.0
        );
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// One try: (apply → pod ready, pod seen → ready, apply → first row).
async fn one(client: &kube::Client, ns: &str, i: usize) -> Result<(Duration, Duration, Duration)> {
    let env = TestEnv::get();
    let topic = unique_name(&format!("node-bench-{i}"));
    let table = unique_table("node_bench");
    create_topic(&topic, 1).await?;
    let producer: FutureProducer = kafka_config().create()?;
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let trade = format!(
        r#"{{"exchange":"bench","symbol":"BTC-USD","side":"buy","trade_id":"{i}","price":1.5,"size":2,"timestamp":{ts}}}"#
    );
    producer
        .send(
            FutureRecord::to(&topic).key("BTC-USD").payload(&trade),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)?;
    let name = format!("bench-{i}");
    let questdb = env.questdb_http.trim_start_matches("http://");
    let pipeline = json!({
        "apiVersion": "spate.dev/v1alpha1", "kind": "IngestionPipeline",
        "metadata": {"name": name},
        "spec": {
            "source": {"bootstrapServers": env.kafka_brokers, "topics": [topic]},
            "format": "normalized",
            "sink": {"address": questdb, "table": table},
            "workers": {"min": 1, "max": 1},
            "replicas": {"min": 1, "max": 1},
            "autoscaling": {"enabled": false},
        }
    });
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let selector = format!("spate.dev/pipeline={name}");
    let applied = Instant::now();
    kubectl_apply(ns, &serde_yaml::to_string(&pipeline)?)?;
    let (mut seen, mut ready, mut row) = (None, None, None);
    while row.is_none() || ready.is_none() {
        if applied.elapsed() > Duration::from_secs(120) {
            bail!("try {i}: no pod ready or no row after 120 s");
        }
        if ready.is_none() {
            let list = pods.list(&ListParams::default().labels(&selector)).await?;
            if let Some(p) = list.items.first() {
                seen.get_or_insert(applied.elapsed());
                if pod_ready(p) {
                    ready = Some(applied.elapsed());
                }
            }
        }
        if row.is_none() && questdb_count(&table).await.is_ok_and(|n| n >= 1) {
            row = Some(applied.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pipelines: Api<IngestionPipeline> = Api::namespaced(client.clone(), ns);
    pipelines.delete(&name, &DeleteParams::default()).await?;
    while !pods
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (ready, row) = (ready.context("ready")?, row.context("row")?);
    Ok((ready, ready - seen.unwrap_or_default(), row))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = <Args as clap::Parser>::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = kube_client().await?;
    footprint(Duration::from_secs(args.idle_seconds)).await;

    install_crd(&client)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ns = unique_name("node-bench");
    create_namespace(&client, &ns).await?;
    let result = async {
        OperatorDeployment::install(&client, &ns, &OperatorOptions::default()).await?;
        let mut runs = Vec::new();
        for i in 0..args.tries {
            let r = one(&client, &ns, i).await?;
            println!(
                "try {i:>2}: apply → pod ready {:>6.0} ms (pod seen → ready {:>5.0} ms), apply → first row {:>6.0} ms",
                r.0.as_secs_f64() * 1e3,
                r.1.as_secs_f64() * 1e3,
                r.2.as_secs_f64() * 1e3
            );
            runs.push(r);
        }
        Ok::<_, anyhow::Error>(runs)
    }
    .await;
    let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .delete(&ns, &DeleteParams::default())
        .await;
    let runs = result?;
    for (what, pick) in [
        ("kubectl apply → pod ready", 0usize),
        ("pod seen → pod ready", 1),
        ("kubectl apply → first row in QuestDB", 2),
    ] {
        let mut v: Vec<Duration> = runs
            .iter()
            .map(|r| match pick {
                0 => r.0,
                1 => r.1,
                _ => r.2,
            })
            .collect();
        v.sort();
        println!(
            "{what:<38} p50 {:>6.0} ms  p90 {:>6.0} ms  ({} tries)",
            percentile(&v, 0.5).as_secs_f64() * 1e3,
            percentile(&v, 0.9).as_secs_f64() * 1e3,
            v.len()
        );
    }
    Ok(())
}
