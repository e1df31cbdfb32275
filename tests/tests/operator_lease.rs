//! The operator's two replicas, running from its image on the node, share one Lease: only
//! the holder reconciles and writes; when the holder hangs (its container frozen, so it
//! neither renews nor releases), the standby takes over once the Lease expires and carries
//! on, and the frozen one stands down when it wakes; a clean shutdown releases the Lease,
//! so another replica takes it without waiting for it to expire.

mod operator_support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use operator_support::*;
use spate_operator::crd::IngestionPipeline;
use spate_tests::node::{container_id, ctr, restart_count};
use spate_tests::operator::{LEASE, OperatorOptions};
use spate_tests::{create_topic, eventually, unique_name, unique_table};

/// The value of `series` (name and labels, as exposed) on an operator pod's /metrics.
async fn metric(pod: &Pod, series: &str) -> Result<f64, String> {
    let ip = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.clone())
        .ok_or("no pod IP")?;
    let text = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?
        .get(format!("http://{ip}:8080/metrics"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0))
}

async fn holder(leases: &Api<Lease>) -> Result<(Option<String>, Option<i32>)> {
    let spec = leases.get(LEASE).await?.spec.context("lease spec")?;
    Ok((spec.holder_identity, spec.lease_transitions))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_lease_holder_writes_and_the_standby_takes_over_when_it_hangs() -> Result<()> {
    let cluster = Cluster::start("op-lease", &OperatorOptions::default()).await?;
    let outcome = hang_and_take_over(&cluster).await;
    cluster.finish(outcome).await
}

async fn hang_and_take_over(c: &Cluster) -> Result<()> {
    let ns = c.ns.as_str();
    let deployments: Api<Deployment> = c.api();
    let pipelines: Api<IngestionPipeline> = c.api();
    let leases: Api<Lease> = c.api();
    let topic = unique_name("lease-trades");
    create_topic(&topic, 2).await?;
    kubectl_apply(
        ns,
        &example_pipeline(&topic, &unique_table("lease_trades"), |_| {})?,
    )?;
    deployment_replicas(&deployments, EXAMPLE, 1).await?;

    // One pod leads and writes; the other stands by and never reconciles.
    let leader_name = c.operator.leader().await?;
    let pods = c.operator.pods().await?;
    let leader = pods
        .iter()
        .find(|p| p.name_any() == leader_name)
        .context("the holder is not an operator pod")?
        .clone();
    let standby = pods
        .iter()
        .find(|p| p.name_any() != leader_name)
        .context("no standby pod")?
        .clone();
    let ok = "spate_operator_reconciliations_total{result=\"ok\"}";
    let failed = "spate_operator_reconciliations_total{result=\"error\"}";
    eventually("the holder to finish a reconcile", SETTLE, || async {
        if metric(&leader, ok).await? > 0.0 {
            Ok(())
        } else {
            Err("no reconcile finished".to_string())
        }
    })
    .await?;
    let (standby_ok, standby_failed) = (
        metric(&standby, ok).await.map_err(anyhow::Error::msg)?,
        metric(&standby, failed).await.map_err(anyhow::Error::msg)?,
    );
    ensure!(
        standby_ok == 0.0 && standby_failed == 0.0,
        "the standby reconciled ({standby_ok} ok, {standby_failed} failed)"
    );
    let events: Api<Event> = c.api();
    let instances: Vec<String> = events
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|e| e.reporting_controller.as_deref() == Some("spate-operator"))
        .filter_map(|e| e.reporting_instance)
        .collect();
    ensure!(
        !instances.is_empty() && instances.iter().all(|i| *i == leader_name),
        "events from {instances:?}, the holder is {leader_name}"
    );

    // Freeze the holder: it neither renews nor releases. The standby takes over once the
    // Lease has not been renewed for its duration.
    let id = container_id(&leader, "operator").context("the holder's container")?;
    ctr(&["tasks", "pause", &id])?;
    let frozen = Instant::now();
    let standby_name = standby.name_any();
    let outcome = async {
        eventually("the standby to hold the Lease", SETTLE, || async {
            match holder(&leases).await {
                Ok((Some(h), _)) if h == standby_name => Ok(()),
                other => Err(format!("{other:?}")),
            }
        })
        .await?;
        println!(
            "figure: holder frozen → standby leads after {:?} (lease 10 s, renew 2 s)",
            frozen.elapsed()
        );
        let (_, transitions) = holder(&leases).await?;
        ensure!(transitions == Some(1), "transitions {transitions:?}");

        // The new holder reconciles: a spec change reaches the Deployment.
        let change = serde_json::json!({"spec": {"autoscaling": {"enabled": false},
            "replicas": {"min": 1, "max": 6, "desired": 2}}});
        pipelines
            .patch(EXAMPLE, &PatchParams::default(), &Patch::Merge(&change))
            .await?;
        deployment_replicas(&deployments, EXAMPLE, 2).await?;
        let new_ok = metric(&standby, ok).await.map_err(anyhow::Error::msg)?;
        ensure!(new_ok > 0.0, "the new holder did not reconcile");
        Ok(())
    }
    .await;
    ctr(&["tasks", "resume", &id])?;
    outcome?;

    // Woken up, the old holder finds the Lease taken and stands down, without a restart.
    eventually("the old holder to stand down", SETTLE, || async {
        let leading = metric(&leader, "spate_operator_leader").await?;
        if leading == 0.0 {
            Ok(())
        } else {
            Err(format!("spate_operator_leader {leading}"))
        }
    })
    .await?;
    let pods: Api<Pod> = c.api();
    let restarts = restart_count(&pods.get(&leader_name).await?, "operator");
    ensure!(
        restarts == 0,
        "the frozen holder was restarted {restarts} times"
    );
    let (holder_now, _) = holder(&leases).await?;
    ensure!(
        holder_now.as_deref() == Some(standby_name.as_str()),
        "holder {holder_now:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_holder_pod_releases_the_lease_to_another_replica() -> Result<()> {
    let cluster = Cluster::start("op-release", &OperatorOptions::default()).await?;
    let outcome = async {
        let leases: Api<Lease> = cluster.api();
        let leader = cluster.operator.leader().await?;
        // A graceful delete: SIGTERM, and the holder releases the Lease on its way out.
        let before = leases.get(LEASE).await?.spec.context("lease spec")?;
        let renewed = before.renew_time.context("renewTime")?.0;
        let duration = i64::from(before.lease_duration_seconds.unwrap_or(10));
        let deleted = Instant::now();
        kubectl_ok(&["delete", "pod", "-n", &cluster.ns, &leader, "--wait=false"])?;
        // The standby, or the pod replacing the deleted one if it is quicker: any other.
        let next = eventually("another replica to hold the Lease", SETTLE, || async {
            match holder(&leases).await {
                Ok((Some(h), _)) if !h.is_empty() && h != leader => Ok(h),
                other => Err(format!("{other:?}")),
            }
        })
        .await?;
        println!(
            "figure: holder pod deleted (graceful) → {next} leads after {:?}",
            deleted.elapsed()
        );
        // Taken before the old holder's last renewal could have expired: it was released.
        let after = leases.get(LEASE).await?.spec.context("lease spec")?;
        let acquired = after.acquire_time.context("acquireTime")?.0;
        ensure!(
            acquired.as_second() < renewed.as_second() + duration,
            "the standby acquired at {acquired}, not before {renewed} + {duration} s: \
             the old holder did not release the Lease"
        );
        // The Deployment replaces the deleted pod, which stands by.
        cluster.operator.wait_available(2).await?;
        Ok(())
    }
    .await;
    cluster.finish(outcome).await
}
