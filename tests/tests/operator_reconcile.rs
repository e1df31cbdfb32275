//! The operator against the real API server and controller manager: the example pipeline
//! becomes its children, spec changes roll the pods, status changes only resize them,
//! the status follows the Deployment, and deleting the pipeline lets the GC clean up.

mod operator_support;

use std::time::Instant;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use operator_support::*;
use serde_json::json;
use spate_operator::build::names::CONFIG_HASH_ANNOTATION;
use spate_operator::crd::IngestionPipeline;
use spate_tests::eventually;

fn config_hash(d: &Deployment) -> String {
    d.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(CONFIG_HASH_ANNOTATION))
        .cloned()
        .unwrap_or_default()
}

fn condition(p: &IngestionPipeline, type_: &str) -> Option<(String, String, String)> {
    p.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

async fn wait_for<K>(api: &Api<K>, name: &str) -> Result<K>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    Ok(eventually(&format!("{name} exists"), SETTLE, || async {
        api.get_opt(name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "absent".to_string())
    })
    .await?)
}

async fn wait_gone<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    eventually(&format!("{name} removed"), SETTLE, || async {
        match api.get_opt(name).await.map_err(|e| e.to_string())? {
            None => Ok(()),
            Some(_) => Err("still there".to_string()),
        }
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn the_example_pipeline_becomes_its_children_and_follows_changes() -> Result<()> {
    let client = client_with_crd().await?;
    let ns = namespace(&client, "op-reconcile").await?;
    let mut op = Instance::start(&client, &ns, "reconcile-a").await;
    op.wait_leading().await?;
    let outcome = story(&client, &ns).await;
    op.stop().await;
    delete_namespace(&client, &ns).await?;
    outcome
}

async fn story(client: &Client, ns: &str) -> Result<()> {
    let pipelines: Api<IngestionPipeline> = Api::namespaced(client.clone(), ns);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);

    // Apply the example exactly as a user would.
    let applied = Instant::now();
    kubectl_ok(&["apply", "-n", ns, "-f", "manifests/examples/pipeline.yaml"])?;
    let deployment = wait_for(&deployments, EXAMPLE).await?;
    println!(
        "figure: kubectl apply → Deployment present: {:?}",
        applied.elapsed()
    );
    let pipeline = pipelines.get(EXAMPLE).await?;

    // Every child exists, is owned by the pipeline, and says what the spec says.
    let cm = wait_for(&config_maps, EXAMPLE).await?;
    let svc = wait_for(&Api::<Service>::namespaced(client.clone(), ns), EXAMPLE).await?;
    let sa = wait_for(
        &Api::<ServiceAccount>::namespaced(client.clone(), ns),
        EXAMPLE,
    )
    .await?;
    let pdb = wait_for(
        &Api::<PodDisruptionBudget>::namespaced(client.clone(), ns),
        EXAMPLE,
    )
    .await?;
    let token_secret = wait_for(&secrets, &format!("{EXAMPLE}-control")).await?;
    println!(
        "figure: kubectl apply → all children present: {:?}",
        applied.elapsed()
    );
    for (kind, owners) in [
        ("Deployment", deployment.owner_references()),
        ("ConfigMap", cm.owner_references()),
        ("Service", svc.owner_references()),
        ("ServiceAccount", sa.owner_references()),
        ("PodDisruptionBudget", pdb.owner_references()),
        ("Secret", token_secret.owner_references()),
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
    ensure!(
        data.get("KAFKA_TOPICS").map(String::as_str) == Some("trades.coinbase"),
        "{data:?}"
    );
    ensure!(
        data.get("SPATE_MAX_WORKERS").map(String::as_str) == Some("8"),
        "{data:?}"
    );
    let dspec = deployment.spec.clone().context("deployment spec")?;
    ensure!(dspec.replicas == Some(1), "replicas {:?}", dspec.replicas);
    let pod = dspec.template.spec.clone().context("pod spec")?;
    ensure!(pod.containers[0].image.as_deref() == Some("spate-consumer:test"));
    ensure!(
        pod.containers[0]
            .security_context
            .as_ref()
            .and_then(|s| s.read_only_root_filesystem)
            == Some(true)
    );
    ensure!(
        svc.spec
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .map(|p| p[0].port)
            == Some(9464)
    );
    ensure!(sa.automount_service_account_token == Some(false));
    ensure!(
        pdb.spec
            .as_ref()
            .and_then(|s| s.max_unavailable.clone())
            .is_some()
    );
    let token = token_secret
        .data
        .clone()
        .unwrap_or_default()
        .get("token")
        .cloned()
        .context("token key")?;

    // The status follows the Deployment: created by the controller manager, no pod ready.
    let p = eventually("status: waiting for pods", SETTLE, || async {
        let p = pipelines.get(EXAMPLE).await.map_err(|e| e.to_string())?;
        match (
            condition(&p, "Ready"),
            condition(&p, "Progressing"),
            p.status.as_ref().and_then(|s| s.observed_generation),
        ) {
            (Some((r, _, _)), Some((g, reason, _)), Some(1))
                if r == "False" && g == "True" && reason == "WaitingForPods" =>
            {
                Ok(p)
            }
            other => Err(format!("{other:?}")),
        }
    })
    .await?;
    println!(
        "status after apply: {:?}",
        p.status.as_ref().map(|s| &s.conditions)
    );
    ensure!(
        p.status
            .as_ref()
            .and_then(|s| s.selector.clone())
            .is_some_and(|s| s.contains("spate.dev/pipeline=coinbase-trades"))
    );

    // Mark the pod Ready as a kubelet would; the ReplicaSet and Deployment controllers
    // count it, and the pipeline becomes Ready.
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod = eventually("the controller manager creates the pod", SETTLE, || async {
        let list = pods
            .list(&ListParams::default().labels("spate.dev/pipeline=coinbase-trades"))
            .await
            .map_err(|e| e.to_string())?;
        list.items
            .into_iter()
            .next()
            .ok_or_else(|| "no pod yet".to_string())
    })
    .await?;
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let ready = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": now},
        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now}]}});
    pods.patch_status(
        &pod.name_any(),
        &PatchParams::default(),
        &Patch::Strategic(&ready),
    )
    .await
    .context("mark pod ready")?;
    eventually("pipeline Ready", SETTLE, || async {
        let p = pipelines.get(EXAMPLE).await.map_err(|e| e.to_string())?;
        match condition(&p, "Ready") {
            Some((s, reason, _)) if s == "True" && reason == "AllPodsReady" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await?;

    // A spec change updates the ConfigMap and rolls the pod template.
    let before = config_hash(&deployments.get(EXAMPLE).await?);
    let change = json!({"spec": {"format": "coinbase-match", "workers": {"min": 1, "max": 12, "initial": 2}}});
    pipelines
        .patch(EXAMPLE, &PatchParams::default(), &Patch::Merge(&change))
        .await?;
    eventually("ConfigMap and template follow the spec", SETTLE, || async {
        let cm = config_maps.get(EXAMPLE).await.map_err(|e| e.to_string())?;
        let d = deployments.get(EXAMPLE).await.map_err(|e| e.to_string())?;
        let data = cm.data.unwrap_or_default();
        let ok = data.get("SPATE_INPUT_FORMAT").map(String::as_str) == Some("coinbase-match")
            && data.get("SPATE_MAX_WORKERS").map(String::as_str) == Some("12")
            && config_hash(&d) != before;
        if ok {
            Ok(())
        } else {
            Err(format!("{data:?} hash {}", config_hash(&d)))
        }
    })
    .await?;
    eventually("observedGeneration 2", SETTLE, || async {
        let p = pipelines.get(EXAMPLE).await.map_err(|e| e.to_string())?;
        let g = p.status.as_ref().and_then(|s| s.observed_generation);
        if g == Some(2) {
            Ok(())
        } else {
            Err(format!("{g:?}"))
        }
    })
    .await?;

    // A status change (the autoscaler's decision) resizes without rolling.
    let rolled = config_hash(&deployments.get(EXAMPLE).await?);
    let decision = json!({"apiVersion": "spate.dev/v1alpha1", "kind": "IngestionPipeline",
        "status": {"autoscaler": {"desiredReplicas": 3, "desiredWorkers": 5, "reason": "test"}}});
    pipelines
        .patch_status(
            EXAMPLE,
            &PatchParams::apply("spate-autoscaler").force(),
            &Patch::Apply(&decision),
        )
        .await?;
    eventually("Deployment scaled to 3", SETTLE, || async {
        let d = deployments.get(EXAMPLE).await.map_err(|e| e.to_string())?;
        let r = d.spec.as_ref().and_then(|s| s.replicas);
        if r == Some(3) {
            Ok(())
        } else {
            Err(format!("{r:?}"))
        }
    })
    .await?;
    ensure!(
        config_hash(&deployments.get(EXAMPLE).await?) == rolled,
        "a status change rolled the pods"
    );
    let p = pipelines.get(EXAMPLE).await?;
    ensure!(
        p.status.as_ref().and_then(|s| s.workers) == Some(5),
        "status.workers {:?}",
        p.status
    );
    ensure!(
        p.status
            .as_ref()
            .and_then(|s| s.autoscaler.as_ref())
            .and_then(|a| a.desired_replicas)
            == Some(3),
        "the reconciler dropped the autoscaler's status"
    );

    // The control token was created once and never rotated.
    let again = secrets
        .get(&format!("{EXAMPLE}-control"))
        .await?
        .data
        .unwrap_or_default()
        .get("token")
        .cloned();
    ensure!(again.as_ref() == Some(&token), "the control token changed");

    // Events name what happened and who did it.
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    let reasons: Vec<String> = eventually("events recorded", SETTLE, || async {
        let list = events
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let reasons: Vec<String> = list.items.iter().filter_map(|e| e.reason.clone()).collect();
        if [
            "CreatedWorkload",
            "PipelineReady",
            "ScaledDeployment",
            "RollingOut",
        ]
        .iter()
        .all(|r| reasons.iter().any(|x| x == r))
        {
            Ok(reasons)
        } else {
            Err(format!("{reasons:?}"))
        }
    })
    .await?;
    println!("events: {reasons:?}");

    // Deleting the pipeline lets the garbage collector remove its children.
    pipelines.delete(EXAMPLE, &Default::default()).await?;
    wait_gone(&deployments, EXAMPLE).await?;
    wait_gone(&config_maps, EXAMPLE).await?;
    wait_gone(&secrets, &format!("{EXAMPLE}-control")).await?;
    wait_gone(&Api::<Service>::namespaced(client.clone(), ns), EXAMPLE).await?;
    Ok(())
}
