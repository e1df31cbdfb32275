//! The Argo CD health check (`manifests/argocd/health.lua`), run by gopher-lua — the
//! interpreter Argo CD embeds — against pipelines carrying the status spate-operator writes
//! (its conditions, merged as the reconciler merges them): ready is Healthy, a new
//! generation not yet observed and pods on their way are Progressing, a bad spec or a
//! refused credential is Degraded, a paused pipeline is Suspended.

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};
use spate_operator::crd::IngestionPipelineStatus;
use spate_operator::inspect::PodProblem;
use spate_operator::reconcile::conditions::merge;
use spate_operator::reconcile::status::{Outcome, conditions};
use spate_tests::{Tool, run_tool, run_tool_ok};

const HEALTH: &str = "manifests/argocd/health.lua";

/// A Deployment of `desired` pods, `ready` of them ready, all up to date.
fn deployment(desired: i32, ready: i32) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            generation: Some(1),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(desired),
            ..DeploymentSpec::default()
        }),
        status: Some(DeploymentStatus {
            observed_generation: Some(1),
            replicas: Some(desired),
            updated_replicas: Some(desired),
            ready_replicas: Some(ready),
            available_replicas: Some(ready),
            ..DeploymentStatus::default()
        }),
    }
}

/// A pipeline at `generation` with the status the reconciler writes after observing
/// `observed` with this outcome, Deployment and pod problems.
fn pipeline(
    generation: i64,
    observed: i64,
    outcome: &Outcome,
    deployment: Option<&Deployment>,
    paused: bool,
    problems: &[PodProblem],
) -> Result<Value> {
    let wants = conditions(outcome, deployment, paused, problems);
    let status = IngestionPipelineStatus {
        conditions: merge(&[], &wants, Some(observed), &Time(Timestamp::now())),
        observed_generation: Some(observed),
        ..IngestionPipelineStatus::default()
    };
    Ok(json!({
        "apiVersion": "spate.dev/v1alpha1",
        "kind": "IngestionPipeline",
        "metadata": {"name": "p", "namespace": "m", "generation": generation},
        "spec": {"paused": paused},
        "status": serde_json::to_value(status).context("status as JSON")?,
    }))
}

/// Argo CD's health of `object`: (status, message).
fn health(object: &Value) -> Result<(String, String)> {
    let out = run_tool_ok(Tool::ArgocdLuaHealth, &[HEALTH], Some(&object.to_string()))?;
    let answer: Value = serde_json::from_str(out.trim()).context("the runner's answer")?;
    Ok((
        answer["status"].as_str().unwrap_or_default().to_owned(),
        answer["message"].as_str().unwrap_or_default().to_owned(),
    ))
}

#[test]
fn a_pipeline_whose_pods_are_all_ready_is_healthy() -> Result<()> {
    let d = deployment(2, 2);
    let (status, message) = health(&pipeline(1, 1, &Outcome::Applied, Some(&d), false, &[])?)?;
    ensure!(status == "Healthy", "{status}: {message}");
    ensure!(message.contains("2/2 pods ready"), "{message}");
    Ok(())
}

#[test]
fn a_generation_the_operator_has_not_observed_is_progressing() -> Result<()> {
    let d = deployment(2, 2);
    let (status, message) = health(&pipeline(2, 1, &Outcome::Applied, Some(&d), false, &[])?)?;
    ensure!(status == "Progressing", "{status}: {message}");
    ensure!(message.contains("generation 2"), "{message}");
    Ok(())
}

#[test]
fn pods_on_their_way_are_progressing() -> Result<()> {
    let d = deployment(2, 1);
    let (status, message) = health(&pipeline(1, 1, &Outcome::Applied, Some(&d), false, &[])?)?;
    ensure!(status == "Progressing", "{status}: {message}");
    Ok(())
}

#[test]
fn a_pipeline_without_a_status_yet_is_progressing() -> Result<()> {
    let fresh = json!({
        "apiVersion": "spate.dev/v1alpha1",
        "kind": "IngestionPipeline",
        "metadata": {"name": "p", "namespace": "m", "generation": 1},
        "spec": {}
    });
    let (status, message) = health(&fresh)?;
    ensure!(status == "Progressing", "{status}: {message}");
    Ok(())
}

#[test]
fn an_invalid_spec_is_degraded_with_the_reason() -> Result<()> {
    let invalid = Outcome::InvalidSpec("workers.min > workers.max".into());
    let (status, message) = health(&pipeline(1, 1, &invalid, None, false, &[])?)?;
    ensure!(status == "Degraded", "{status}: {message}");
    ensure!(
        message == "InvalidSpec: workers.min > workers.max",
        "{message}"
    );
    Ok(())
}

#[test]
fn a_pod_refused_by_kafka_is_degraded() -> Result<()> {
    let d = deployment(1, 0);
    let refused = [PodProblem {
        pod: "p-1".into(),
        code: "kafka-authentication".into(),
        detail: "SASL authentication error".into(),
    }];
    let (status, message) = health(&pipeline(
        1,
        1,
        &Outcome::Applied,
        Some(&d),
        false,
        &refused,
    )?)?;
    ensure!(status == "Degraded", "{status}: {message}");
    ensure!(
        message.starts_with("KafkaAuthenticationFailed"),
        "{message}"
    );
    Ok(())
}

#[test]
fn a_paused_pipeline_is_suspended() -> Result<()> {
    let d = deployment(0, 0);
    let (status, message) = health(&pipeline(1, 1, &Outcome::Applied, Some(&d), true, &[])?)?;
    ensure!(status == "Suspended", "{status}: {message}");
    Ok(())
}

#[test]
fn the_runner_rejects_a_script_that_returns_no_health_code() -> Result<()> {
    let dir = spate_tests::repo_root().join(".spate");
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("argocd-health-bad.lua");
    std::fs::write(&script, "return {status = \"Fine\"}\n")?;
    let out = run_tool(
        Tool::ArgocdLuaHealth,
        &[&script.to_string_lossy()],
        Some("{}"),
    );
    let _ = std::fs::remove_file(&script);
    let out = out?;
    ensure!(!out.success, "accepted status Fine: {}", out.stdout);
    ensure!(
        out.stderr.contains("not an Argo CD health code"),
        "{}",
        out.stderr
    );
    Ok(())
}
