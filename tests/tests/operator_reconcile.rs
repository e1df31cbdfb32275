//! The example pipeline, applied with kubectl as a user would (addresses patched), becomes
//! its children through the operator running from its image under the shipped RBAC; its
//! consumer pods run on the node and write every trade to QuestDB once; a spec change rolls
//! them; the status and Events say what happened; deleting it removes everything.

mod operator_support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use operator_support::*;
use serde_json::json;
use spate_consumer::loadgen::OutputFormat;
use spate_operator::build::names::CONFIG_HASH_ANNOTATION;
use spate_operator::crd::IngestionPipeline;
use spate_tests::demo::{Load, Phase, Schedule};
use spate_tests::operator::OperatorOptions;
use spate_tests::{
    Images, create_topic, eventually, questdb_distinct_trades, unique_name, unique_table,
    wait_for_questdb_count,
};

fn config_hash(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(CONFIG_HASH_ANNOTATION))
        .cloned()
        .unwrap_or_default()
}

async fn wait_for<K>(api: &Api<K>, name: &str) -> Result<K>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    Ok(eventually(&format!("{name} to exist"), SETTLE, || async {
        api.get_opt(name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "absent".to_string())
    })
    .await?)
}

async fn wait_gone<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    eventually(&format!("{name} to be deleted"), SETTLE, || async {
        match api.get_opt(name).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(_) => Err("still there".to_string()),
        }
    })
    .await?;
    Ok(())
}

async fn wait_ready(pipelines: &Api<IngestionPipeline>, generation: i64) -> Result<()> {
    eventually("the pipeline Ready", SETTLE, || async {
        let p = pipelines.get(EXAMPLE).await.map_err(|e| e.to_string())?;
        let observed = p.status.as_ref().and_then(|s| s.observed_generation);
        match condition(&p, "Ready") {
            Some((s, reason, _))
                if s == "True" && reason == "AllPodsReady" && observed == Some(generation) =>
            {
                Ok(())
            }
            other => Err(format!("{other:?} at generation {observed:?}")),
        }
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_pipeline_runs_on_the_node_and_follows_changes() -> Result<()> {
    let cluster = Cluster::start("op-reconcile", &OperatorOptions::default()).await?;
    let outcome = story(&cluster).await;
    cluster.finish(outcome).await
}

async fn story(c: &Cluster) -> Result<()> {
    let ns = c.ns.as_str();
    let pipelines: Api<IngestionPipeline> = c.api();
    let deployments: Api<Deployment> = c.api();
    let config_maps: Api<ConfigMap> = c.api();
    let topic = unique_name("reconcile-trades");
    let table = unique_table("reconcile_trades");
    create_topic(&topic, 4).await?;

    // Apply the example exactly as a user would, with this environment's addresses.
    let applied = Instant::now();
    kubectl_apply(ns, &example_pipeline(&topic, &table, |_| {})?)?;
    let deployment = wait_for(&deployments, EXAMPLE).await?;
    let pipeline = pipelines.get(EXAMPLE).await?;

    // Every child exists, is owned by the pipeline, and says what the spec says.
    let cm = wait_for(&config_maps, EXAMPLE).await?;
    let svc = wait_for(&c.api::<Service>(), EXAMPLE).await?;
    let sa = wait_for(&c.api::<ServiceAccount>(), EXAMPLE).await?;
    let pdb = wait_for(&c.api::<PodDisruptionBudget>(), EXAMPLE).await?;
    for (kind, owners) in [
        ("Deployment", deployment.owner_references()),
        ("ConfigMap", cm.owner_references()),
        ("Service", svc.owner_references()),
        ("ServiceAccount", sa.owner_references()),
        ("PodDisruptionBudget", pdb.owner_references()),
    ] {
        ensure!(
            owners
                .iter()
                .any(|o| o.uid == pipeline.uid().unwrap_or_default() && o.controller == Some(true)),
            "{kind} lacks the controller owner reference: {owners:?}"
        );
    }
    let data = cm.data.clone().unwrap_or_default();
    ensure!(
        data.get("SPATE_INPUT_FORMAT").map(String::as_str) == Some("coinbase-market-trades"),
        "{data:?}"
    );
    ensure!(data.get("KAFKA_TOPICS") == Some(&topic), "{data:?}");
    ensure!(
        data.get("SPATE_MAX_WORKERS").map(String::as_str) == Some("8"),
        "{data:?}"
    );
    let pod = deployment
        .spec
        .clone()
        .and_then(|s| s.template.spec)
        .context("pod spec")?;
    ensure!(
        pod.containers[0].image.as_deref() == Some(Images::get().consumer.as_str()),
        "the operator's default image is the one its overlay names: {:?}",
        pod.containers[0].image
    );
    ensure!(sa.automount_service_account_token == Some(false));

    // The kubelet runs the pod; the pipeline becomes Ready from the real pod's readiness.
    wait_ready(&pipelines, 1).await?;
    println!(
        "figure: kubectl apply → pipeline Ready (pod running and ready): {:?}",
        applied.elapsed()
    );

    // Trades in the example's format land in QuestDB, each once.
    let n = 20_000;
    let schedule = Schedule(vec![Phase {
        rate: 5_000.0,
        seconds: 4.0,
    }]);
    let mut load = Load::start_in(&topic, schedule, 16, OutputFormat::CoinbaseMarketTrades)?;
    while !load.is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    load.finish()?;
    let produced = load.acked.load(std::sync::atomic::Ordering::Relaxed);
    ensure!(produced >= n, "Kafka acknowledged {produced} of {n} trades");
    wait_for_questdb_count(&table, produced as i64, SETTLE).await?;
    let distinct = questdb_distinct_trades(&table).await?;
    ensure!(
        distinct == produced as i64,
        "{distinct} distinct of {produced}"
    );
    println!(
        "figure: kubectl apply → {produced} trades in QuestDB: {:?}",
        applied.elapsed()
    );

    // A spec change updates the ConfigMap and rolls the pod, which becomes Ready again.
    let before = config_hash(&deployments.get(EXAMPLE).await?);
    let change = json!({"spec": {"workers": {"min": 1, "max": 12, "initial": 2}}});
    pipelines
        .patch(EXAMPLE, &PatchParams::default(), &Patch::Merge(&change))
        .await?;
    eventually("ConfigMap and template follow the spec", SETTLE, || async {
        let cm = config_maps.get(EXAMPLE).await.map_err(|e| e.to_string())?;
        let d = deployments.get(EXAMPLE).await.map_err(|e| e.to_string())?;
        let data = cm.data.unwrap_or_default();
        let ok = data.get("SPATE_MAX_WORKERS").map(String::as_str) == Some("12")
            && config_hash(&d) != before;
        if ok {
            Ok(())
        } else {
            Err(format!("{data:?} hash {}", config_hash(&d)))
        }
    })
    .await?;
    wait_ready(&pipelines, 2).await?;

    // The consumers trust the operator's ServiceAccount tokens, not a shared Secret.
    let data = config_maps.get(EXAMPLE).await?.data.unwrap_or_default();
    ensure!(
        data.get("SPATE_CONTROL_SUBJECTS").map(String::as_str)
            == Some(format!("system:serviceaccount:{ns}:spate-operator").as_str())
            && data.contains_key("SPATE_CONTROL_JWKS")
            && data.contains_key("SPATE_CONTROL_ISSUER"),
        "the control endpoint's trust: {:?}",
        data.get("SPATE_CONTROL_SUBJECTS")
    );

    // Events name what happened and who did it: the operator's pod.
    let events: Api<Event> = c.api();
    let operator_pods: Vec<String> = c
        .operator
        .pods()
        .await?
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    let reasons: Vec<String> = eventually("events recorded", SETTLE, || async {
        let list = events
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let ours: Vec<&Event> = list
            .items
            .iter()
            .filter(|e| e.reporting_controller.as_deref() == Some("spate-operator"))
            .collect();
        let reasons: Vec<String> = ours.iter().filter_map(|e| e.reason.clone()).collect();
        let by_pod = ours.iter().all(|e| {
            e.reporting_instance
                .as_ref()
                .is_some_and(|i| operator_pods.contains(i))
        });
        if by_pod
            && ["CreatedWorkload", "PipelineReady", "RollingOut"]
                .iter()
                .all(|r| reasons.iter().any(|x| x == r))
        {
            Ok(reasons)
        } else {
            Err(format!("{reasons:?} (by an operator pod: {by_pod})"))
        }
    })
    .await?;
    println!("events: {reasons:?}");
    ensure!(
        pipeline.meta().generation == Some(1),
        "generation {:?}",
        pipeline.meta().generation
    );

    // Deleting the pipeline lets the garbage collector remove its children.
    pipelines.delete(EXAMPLE, &Default::default()).await?;
    wait_gone(&deployments, EXAMPLE).await?;
    wait_gone(&config_maps, EXAMPLE).await?;
    wait_gone(&c.api::<Service>(), EXAMPLE).await?;
    Ok(())
}
