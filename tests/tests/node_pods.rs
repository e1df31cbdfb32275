//! Consumer pods as the kubelet runs them, from the operator's Deployment unmodified: the
//! pod security settings hold in the kernel, a container killed by SIGKILL is restarted
//! and loses nothing, a pod deleted under load drains and commits within its grace period,
//! and a consumer that loses QuestDB goes unready and leaves its Service's endpoints.

mod operator_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use kube::api::{Api, ListParams};
use operator_support::*;
use serde_json::json;
use spate_consumer::loadgen::OutputFormat;
use spate_operator::build::names::CONTAINER_NAME;
use spate_tests::demo::{Load, Phase, Schedule};
use spate_tests::node::{
    container_id, container_pid, pod_ready, process_view, restart_count, signal_container,
    wait_pods_ready,
};
use spate_tests::operator::OperatorOptions;
use spate_tests::{
    TestEnv, create_topic, eventually, kubectl_with_input, questdb_distinct_trades, unique_name,
    unique_table, wait_for_questdb_count,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const SELECTOR: &str = "spate.dev/pipeline=coinbase-trades";

/// The example pipeline with `replicas` fixed pods of two workers (autoscaling off), its
/// QuestDB at `questdb` when given.
fn fixed_pipeline(
    topic: &str,
    table: &str,
    replicas: i32,
    questdb: Option<&str>,
) -> Result<String> {
    example_pipeline(topic, table, |d| {
        d["spec"]["autoscaling"] = json!({"enabled": false});
        d["spec"]["replicas"] = json!({"min": 1, "max": 6, "desired": replicas});
        d["spec"]["workers"] = json!({"min": 1, "max": 8, "initial": 2});
        d["spec"]["tuning"] = json!({"shutdownGraceSeconds": 20});
        if let Some(address) = questdb {
            d["spec"]["sink"]["address"] = address.into();
        }
    })
}

/// Produces `rate` trades per second for `seconds` in the example's format.
fn load(topic: &str, rate: f64, seconds: f64) -> Result<Load> {
    let schedule = Schedule(vec![Phase { rate, seconds }]);
    Ok(Load::start_in(
        topic,
        schedule,
        16,
        OutputFormat::CoinbaseMarketTrades,
    )?)
}

/// Waits for the load's end, then for every acknowledged trade in QuestDB, each once.
async fn every_trade_once(mut load: Load, table: &str) -> Result<u64> {
    while !load.is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    load.finish()?;
    let produced = load.acked.load(Ordering::Relaxed);
    ensure!(
        load.failed.load(Ordering::Relaxed) == 0,
        "Kafka refused trades"
    );
    wait_for_questdb_count(table, produced as i64, SETTLE).await?;
    let distinct = questdb_distinct_trades(table).await?;
    ensure!(
        distinct == produced as i64,
        "{distinct} distinct trades of {produced}"
    );
    Ok(produced)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_container_runs_as_65532_read_only_without_capabilities() -> Result<()> {
    let cluster = Cluster::start("node-security", &OperatorOptions::default()).await?;
    let outcome = async {
        let topic = unique_name("security-trades");
        create_topic(&topic, 2).await?;
        let yaml = fixed_pipeline(&topic, &unique_table("security_trades"), 1, None)?;
        kubectl_apply(&cluster.ns, &yaml)?;
        let pods: Api<Pod> = cluster.api();
        let pod = wait_pods_ready(&pods, SELECTOR, 1, SETTLE).await?.remove(0);
        let id = container_id(&pod, CONTAINER_NAME).context("the consumer's container")?;
        let pid = container_pid(&id)?;
        let view = process_view(pid)?;
        println!("the consumer's process, as the kernel sees it: {view:?}");
        ensure!(
            view.uids.iter().all(|u| *u == 65532),
            "uids {:?}",
            view.uids
        );
        ensure!(
            view.gids.iter().all(|g| *g == 65532),
            "gids {:?}",
            view.gids
        );
        ensure!(
            view.cap_eff == 0,
            "effective capabilities {:#x}",
            view.cap_eff
        );
        ensure!(
            view.cap_bnd == 0,
            "capability bounding set {:#x}",
            view.cap_bnd
        );
        ensure!(view.no_new_privs, "no_new_privs is off");
        ensure!(
            view.seccomp == 2,
            "seccomp mode {} (2: filter)",
            view.seccomp
        );
        ensure!(view.root_read_only, "the root filesystem is writable");

        // The memory limit of the spec is the container's cgroup limit.
        let cgroups = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
        let memory = cgroups
            .lines()
            .find_map(|l| {
                let mut f = l.splitn(3, ':');
                let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
                controllers
                    .split(',')
                    .any(|c| c == "memory")
                    .then(|| path.to_owned())
            })
            .context("no memory cgroup")?;
        let limit = std::fs::read_to_string(format!(
            "/sys/fs/cgroup/memory{memory}/memory.limit_in_bytes"
        ))?;
        ensure!(
            limit.trim() == (1u64 << 30).to_string(),
            "memory limit {limit} (the example's limits.memory is 1Gi)"
        );
        Ok(())
    }
    .await;
    cluster.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_by_sigkill_is_restarted_and_loses_nothing() -> Result<()> {
    let cluster = Cluster::start("node-kill", &OperatorOptions::default()).await?;
    let outcome = async {
        let topic = unique_name("kill-trades");
        let table = unique_table("kill_trades");
        create_topic(&topic, 4).await?;
        kubectl_apply(&cluster.ns, &fixed_pipeline(&topic, &table, 1, None)?)?;
        let pods: Api<Pod> = cluster.api();
        let pod = wait_pods_ready(&pods, SELECTOR, 1, SETTLE).await?.remove(0);
        let name = pod.name_any();

        let load = load(&topic, 4_000.0, 20.0)?;
        let saw_backoff = AtomicBool::new(false);
        for kill in 1..=2 {
            tokio::time::sleep(Duration::from_secs(4)).await;
            let pod = pods.get(&name).await?;
            let id = container_id(&pod, CONTAINER_NAME).context("a running consumer")?;
            signal_container(&id, "SIGKILL")?;
            let killed = Instant::now();
            let restarted = eventually("the kubelet to restart the consumer", SETTLE, || async {
                let p = pods.get(&name).await.map_err(|e| e.to_string())?;
                let waiting = p
                    .status
                    .as_ref()
                    .and_then(|s| s.container_statuses.as_ref())
                    .and_then(|c| c.first())
                    .and_then(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone());
                saw_backoff.fetch_or(
                    waiting.as_deref() == Some("CrashLoopBackOff"),
                    Ordering::Relaxed,
                );
                if restart_count(&p, CONTAINER_NAME) >= kill && pod_ready(&p) {
                    Ok(p)
                } else {
                    Err(format!(
                        "restarts {}, waiting {waiting:?}",
                        restart_count(&p, CONTAINER_NAME)
                    ))
                }
            })
            .await?;
            let last = restarted
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|c| c.first())
                .and_then(|c| c.last_state.as_ref()?.terminated.as_ref())
                .map(|t| t.exit_code);
            ensure!(
                last == Some(137),
                "the last exit was {last:?}, not SIGKILL's 137"
            );
            println!(
                "figure: kill {kill}: SIGKILL → consumer restarted and ready after {:?}",
                killed.elapsed()
            );
        }
        println!(
            "the kubelet's back-off (CrashLoopBackOff) seen between restarts: {}",
            saw_backoff.load(Ordering::Relaxed)
        );
        let produced = every_trade_once(load, &table).await?;
        println!("{produced} trades produced, {produced} rows, {produced} distinct");
        Ok(())
    }
    .await;
    cluster.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_deleted_under_load_drains_commits_and_loses_nothing() -> Result<()> {
    let cluster = Cluster::start("node-delete", &OperatorOptions::default()).await?;
    let outcome = async {
        let topic = unique_name("delete-trades");
        let table = unique_table("delete_trades");
        create_topic(&topic, 4).await?;
        kubectl_apply(&cluster.ns, &fixed_pipeline(&topic, &table, 2, None)?)?;
        let pods: Api<Pod> = cluster.api();
        let victim = wait_pods_ready(&pods, SELECTOR, 2, SETTLE).await?.remove(0);
        let name = victim.name_any();

        let load = load(&topic, 4_000.0, 20.0)?;
        tokio::time::sleep(Duration::from_secs(6)).await;
        // Follow the victim's log to its end: the consumer's own account of its shutdown.
        let ns = cluster.ns.clone();
        let follow = {
            let name = name.clone();
            tokio::task::spawn_blocking(move || {
                kubectl_with_input(
                    &["logs", "-f", "-n", &ns, &name, "-c", CONTAINER_NAME],
                    None,
                )
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        let deleted = Instant::now();
        kubectl_ok(&["delete", "pod", "-n", &cluster.ns, &name, "--wait=true"])?;
        let gone = deleted.elapsed();
        let logs = follow.await??.stdout;
        let tail: Vec<&str> = logs.lines().rev().take(8).collect();
        println!(
            "figure: graceful delete under load → pod gone after {gone:?}; log tail: {tail:#?}"
        );
        ensure!(
            logs.contains("shutting down") && logs.contains("final commit done"),
            "the consumer did not drain and commit before it exited: {tail:#?}"
        );
        // The Deployment replaces it; the two pods share the partitions again.
        wait_pods_ready(&pods, SELECTOR, 2, SETTLE).await?;
        let produced = every_trade_once(load, &table).await?;
        println!("{produced} trades produced, {produced} rows, {produced} distinct");
        Ok(())
    }
    .await;
    cluster.finish(outcome).await
}

/// A TCP relay to QuestDB that can be cut and restored: the consumer's only way there.
struct Relay {
    address: String,
    up: Arc<AtomicBool>,
    task: Option<JoinHandle<()>>,
    upstream: String,
}

impl Relay {
    async fn start(upstream: &str) -> Result<Self> {
        let host = TestEnv::get().host_ip();
        let listener = TcpListener::bind(format!("{host}:0")).await?;
        let address = listener.local_addr()?.to_string();
        let mut relay = Self {
            address,
            up: Arc::new(AtomicBool::new(false)),
            task: None,
            upstream: upstream.to_owned(),
        };
        relay.serve(listener);
        Ok(relay)
    }

    fn serve(&mut self, listener: TcpListener) {
        self.up.store(true, Ordering::Relaxed);
        let (up, upstream) = (self.up.clone(), self.upstream.clone());
        self.task = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let (up, upstream) = (up.clone(), upstream.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    tokio::pin!(copy);
                    loop {
                        tokio::select! {
                            _ = &mut copy => return,
                            () = tokio::time::sleep(Duration::from_millis(200)) => {
                                if !up.load(Ordering::Relaxed) { return; }
                            }
                        }
                    }
                });
            }
        }));
    }

    /// Stops accepting and drops every open connection.
    fn cut(&mut self) {
        self.up.store(false, Ordering::Relaxed);
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    async fn restore(&mut self) -> Result<()> {
        let listener = TcpListener::bind(&self.address).await?;
        self.serve(listener);
        Ok(())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}

/// Whether `pod_ip` is a ready endpoint of the Service `service`.
async fn endpoint_ready(
    slices: &Api<EndpointSlice>,
    service: &str,
    pod_ip: &str,
) -> Result<Option<bool>, String> {
    let list = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
        .await
        .map_err(|e| e.to_string())?;
    Ok(list
        .items
        .iter()
        .flat_map(|s| s.endpoints.iter().flatten())
        .find(|e| e.addresses.iter().any(|a| a == pod_ip))
        .map(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_loses_questdb_goes_unready_and_leaves_the_service_endpoints() -> Result<()>
{
    let env = TestEnv::get();
    let upstream = env.questdb_http.trim_start_matches("http://").to_owned();
    let mut relay = Relay::start(&upstream).await?;
    let cluster = Cluster::start("node-ready", &OperatorOptions::default()).await?;
    let outcome = async {
        let topic = unique_name("ready-trades");
        create_topic(&topic, 2).await?;
        let yaml = fixed_pipeline(
            &topic,
            &unique_table("ready_trades"),
            1,
            Some(&relay.address),
        )?;
        kubectl_apply(&cluster.ns, &yaml)?;
        let pods: Api<Pod> = cluster.api();
        let pod = wait_pods_ready(&pods, SELECTOR, 1, SETTLE).await?.remove(0);
        let ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .context("pod IP")?;
        let slices: Api<EndpointSlice> = cluster.api();
        let want = |ready: bool| {
            let (slices, ip) = (&slices, ip.as_str());
            move || async move {
                match endpoint_ready(slices, EXAMPLE, ip).await? {
                    Some(r) if r == ready => Ok(()),
                    other => Err(format!("endpoint {ip}: ready {other:?}")),
                }
            }
        };
        eventually("the pod a ready endpoint", SETTLE, want(true)).await?;

        relay.cut();
        let cut = Instant::now();
        eventually("the pod out of the ready endpoints", SETTLE, want(false)).await?;
        println!(
            "figure: QuestDB cut → endpoint not ready after {:?}",
            cut.elapsed()
        );
        let p = pods.get(&pod.name_any()).await?;
        ensure!(!pod_ready(&p), "the pod is still Ready");
        ensure!(
            restart_count(&p, CONTAINER_NAME) == 0,
            "unready is not a restart: the liveness probe must pass"
        );

        relay.restore().await?;
        let restored = Instant::now();
        eventually("the pod a ready endpoint again", SETTLE, want(true)).await?;
        println!(
            "figure: QuestDB back → endpoint ready after {:?}",
            restored.elapsed()
        );
        Ok(())
    }
    .await;
    let result = cluster.finish(outcome).await;
    drop(relay);
    result
}
