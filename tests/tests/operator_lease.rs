//! Two operator instances share one Lease: only the holder reconciles and writes; when
//! it dies without releasing the Lease, the other takes over and carries on.

mod operator_support;

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, Patch, PatchParams};
use operator_support::*;
use spate_operator::crd::IngestionPipeline;
use spate_tests::eventually;

#[tokio::test]
async fn only_the_lease_holder_writes_and_the_other_takes_over_when_it_dies() -> Result<()> {
    let client = client_with_crd().await?;
    let ns = namespace(&client, "op-lease").await?;
    let mut a = Instance::start(&client, &ns, "instance-a").await;
    a.wait_leading().await?;
    let mut b = Instance::start(&client, &ns, "instance-b").await;

    let outcome = async {
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        let pipelines: Api<IngestionPipeline> = Api::namespaced(client.clone(), &ns);
        kubectl_ok(&["apply", "-n", &ns, "-f", "manifests/examples/pipeline.yaml"])?;
        deployment_replicas(&deployments, EXAMPLE, 1).await?;

        // A leads and writes; B stands by and never reconciles.
        ensure!(*a.leader.borrow() && !*b.leader.borrow(), "both or neither lead");
        // The Deployment appears mid-reconcile; the count moves once the status is written.
        eventually("the holder to finish a reconcile", SETTLE, || async {
            if a.reconciliations("ok") > 0 { Ok(()) } else { Err("no reconcile finished".to_string()) }
        })
        .await
        .context("the holder did not reconcile")?;
        ensure!(b.reconciliations("ok") == 0 && b.reconciliations("error") == 0, "the standby reconciled");
        let events: Api<Event> = Api::namespaced(client.clone(), &ns);
        let instances: Vec<String> = events
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|e| e.reporting_controller.as_deref() == Some("spate-operator"))
            .filter_map(|e| e.reporting_instance)
            .collect();
        ensure!(!instances.is_empty() && instances.iter().all(|i| i == "instance-a"), "events from {instances:?}");

        // Kill A like a crash: no release. B takes over once the Lease expires.
        let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
        let killed = Instant::now();
        a.kill();
        b.wait_leading().await?;
        let handover = killed.elapsed();
        println!("figure: holder killed → standby leads after {handover:?} (lease 10 s, renew 2 s)");
        let lease = leases.get("spate-operator").await?;
        let spec = lease.spec.context("lease spec")?;
        ensure!(spec.holder_identity.as_deref() == Some("instance-b"), "holder {:?}", spec.holder_identity);
        ensure!(spec.lease_transitions == Some(1), "transitions {:?}", spec.lease_transitions);

        // B now reconciles: a spec change reaches the Deployment.
        let change = serde_json::json!({"spec": {"autoscaling": {"enabled": false}, "replicas": {"min": 1, "max": 6, "desired": 2}}});
        pipelines.patch(EXAMPLE, &PatchParams::default(), &Patch::Merge(&change)).await?;
        deployment_replicas(&deployments, EXAMPLE, 2).await?;
        ensure!(b.reconciliations("ok") > 0, "the new holder did not reconcile");
        Ok(())
    }
    .await;
    b.stop().await;
    delete_namespace(&client, &ns).await?;
    outcome
}

#[tokio::test]
async fn a_clean_shutdown_releases_the_lease_at_once() -> Result<()> {
    let client = client_with_crd().await?;
    let ns = namespace(&client, "op-release").await?;
    let mut a = Instance::start(&client, &ns, "first").await;
    a.wait_leading().await?;
    let mut b = Instance::start(&client, &ns, "second").await;
    a.stop().await;
    let stopped = Instant::now();
    let outcome = b.wait_leading().await;
    println!(
        "figure: holder stopped cleanly → standby leads after {:?}",
        stopped.elapsed()
    );
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let holder = leases
        .get("spate-operator")
        .await?
        .spec
        .and_then(|s| s.holder_identity);
    b.stop().await;
    delete_namespace(&client, &ns).await?;
    outcome?;
    ensure!(holder.as_deref() == Some("second"), "holder {holder:?}");
    Ok(())
}
