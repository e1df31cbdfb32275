//! One reconcile: read and dereference → validate → build → apply → status → next action.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use tracing::{debug, info, warn};

pub mod apply;
pub mod children;
pub mod conditions;
pub mod controller;
pub mod events;
pub mod status;
pub mod watched;

use self::apply::apply_status;
use self::children::{apply_child, apply_child_against};
use self::conditions::{DEGRADED, Want, merge};
use self::events::{events, failure as failure_event};
use self::status::{Outcome, conditions, failed_status};
use self::watched::Watched;
use crate::build::names::selector_string;
use crate::build::{desired, sizing};
use crate::context::Context;
use crate::crd::{IngestionPipeline, IngestionPipelineStatus};
use crate::error::Error;
use crate::inspect::pod_problems;
use crate::validate::validate;

/// How many of a pipeline's pods that are not ready are asked why, per reconcile.
const PODS_ASKED: usize = 3;
/// How soon a pipeline whose pods are not all ready is looked at again.
const NOT_READY_RECHECK: Duration = Duration::from_secs(10);

/// Reconciles one pipeline (the `Controller`'s reconcile function).
pub async fn reconcile(
    pipeline: Arc<IngestionPipeline>,
    ctx: Arc<Context>,
    watched: Arc<Watched>,
) -> Result<Action, Error> {
    if !ctx.is_leader() {
        ctx.metrics
            .reconciliations
            .with_label_values(&["standby"])
            .inc();
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    if pipeline.meta().deletion_timestamp.is_some() {
        // The garbage collector removes the children through their owner references.
        return Ok(Action::await_change());
    }
    let started = Instant::now();
    let result = reconcile_inner(&pipeline, &ctx, &watched).await;
    ctx.metrics
        .duration
        .observe(started.elapsed().as_secs_f64());
    let key = key(&pipeline);
    match &result {
        Ok((label, _)) => {
            ctx.metrics
                .reconciliations
                .with_label_values(&[label])
                .inc();
            ctx.succeeded(&key);
        }
        Err(e) => {
            ctx.metrics
                .reconciliations
                .with_label_values(&["error"])
                .inc();
            ctx.metrics.failures.with_label_values(&[e.reason()]).inc();
            report_failure(&pipeline, &ctx, e).await;
        }
    }
    result.map(|(_, action)| action)
}

/// Shows a failed reconcile on the pipeline: Degraded with the failure, and a Warning
/// Event when it is new, so that a permission the operator lacks or an API error is seen
/// with `kubectl describe`, not only in the operator's log. Best effort: the reconcile is
/// retried with backoff either way, and Degraded clears on the next success.
async fn report_failure(pipeline: &IngestionPipeline, ctx: &Context, error: &Error) {
    if matches!(error, Error::PatchStatus(_) | Error::MissingNamespace(_)) {
        return;
    }
    let Some(ns) = pipeline.namespace() else {
        return;
    };
    let name = pipeline.name_any();
    let failure = Want::new(DEGRADED, true, error.condition_reason(), error.to_string());
    let old = pipeline.status.clone().unwrap_or_default();
    let now = Time(Timestamp::now());
    let Some(status) = failed_status(&old, failure, pipeline.meta().generation, &now) else {
        return;
    };
    let pipelines: Api<IngestionPipeline> = Api::namespaced(ctx.client.clone(), &ns);
    if let Err(e) = apply_status(&pipelines, &name, &status).await {
        warn!(pipeline = %name, namespace = %ns, error = %e, "recording the failure in the status failed");
    }
    let event = failure_event(error.condition_reason(), error.to_string());
    if let Err(e) = ctx
        .recorder
        .publish(&event, &pipeline.object_ref(&()))
        .await
    {
        warn!(pipeline = %name, namespace = %ns, error = %e, "publishing the failure event failed");
    }
}

/// The `Controller`'s error policy: back off exponentially per pipeline.
pub fn error_policy(pipeline: Arc<IngestionPipeline>, error: &Error, ctx: Arc<Context>) -> Action {
    let delay = ctx.backoff(&key(&pipeline));
    warn!(pipeline = %pipeline.name_any(), namespace = ?pipeline.namespace(), %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

fn key(p: &IngestionPipeline) -> String {
    format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any())
}

async fn reconcile_inner(
    pipeline: &IngestionPipeline,
    ctx: &Context,
    watched: &Watched,
) -> Result<(&'static str, Action), Error> {
    let name = pipeline.name_any();
    let ns = pipeline
        .namespace()
        .ok_or_else(|| Error::MissingNamespace(name.clone()))?;
    let client = ctx.client.clone();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);

    let old_deployment = deployments
        .get_opt(&name)
        .await
        .map_err(Error::GetDeployment)?;
    let valid = validate(pipeline);
    let outcome = match &valid {
        Err(invalid) => Outcome::InvalidSpec(invalid.0.join("; ")),
        Ok(_) => Outcome::Applied,
    };

    let (deployment, action, label) = if let Ok(valid) = &valid {
        let control = ctx.control_trust().await;
        let want = desired(valid, &ctx.config.default_image, control.as_ref());
        apply_child(ctx, watched, &ns, &want.config_map).await?;
        apply_child(ctx, watched, &ns, &want.service_account).await?;
        apply_child(ctx, watched, &ns, &want.service).await?;
        apply_child(ctx, watched, &ns, &want.pod_disruption_budget).await?;
        // The Deployment is compared with the fresh read above, and its status comes from
        // that read when the apply is skipped.
        let live = old_deployment.as_ref().map(|d| &d.metadata);
        let deployment = apply_child_against(ctx, watched, &ns, &want.deployment, live)
            .await?
            .or_else(|| old_deployment.clone());
        debug!(pipeline = %name, namespace = %ns, replicas = want.sizing.replicas, workers = want.sizing.workers, "applied children");
        (deployment, Action::requeue(ctx.config.resync), "ok")
    } else {
        info!(pipeline = %name, namespace = %ns, outcome = ?outcome, "not applying: waiting for a change");
        (old_deployment.clone(), Action::await_change(), "invalid")
    };

    // Pods that are not ready say why: ask them, and look again soon while they are not.
    let counts = deployment.as_ref().and_then(|d| d.status.as_ref());
    let not_ready = outcome == Outcome::Applied
        && counts.and_then(|s| s.ready_replicas).unwrap_or(0)
            < deployment
                .as_ref()
                .and_then(|d| d.spec.as_ref())
                .and_then(|s| s.replicas)
                .unwrap_or(0);
    let (problems, action) = if not_ready {
        (
            pod_problems(&client, &ctx.http, &ns, &name, PODS_ASKED).await,
            Action::requeue(NOT_READY_RECHECK),
        )
    } else {
        (Vec::new(), action)
    };
    let wants = conditions(
        &outcome,
        deployment.as_ref(),
        pipeline.spec.paused,
        &problems,
    );
    let old_status = pipeline.status.clone().unwrap_or_default();
    let now = Time(Timestamp::now());
    let replicas = counts.and_then(|s| s.replicas).unwrap_or(0);
    // A refused spec is not sized: its pods run with the workers last reported.
    let workers = match &valid {
        Ok(valid) => Some(sizing(valid).workers_i32()),
        Err(_) => old_status.workers,
    };
    let status = IngestionPipelineStatus {
        conditions: merge(
            &old_status.conditions,
            &wants,
            pipeline.meta().generation,
            &now,
        ),
        observed_generation: pipeline.meta().generation,
        replicas: Some(replicas),
        ready_replicas: Some(counts.and_then(|s| s.ready_replicas).unwrap_or(0)),
        workers,
        size: Some(format!("{}x{replicas}", workers.unwrap_or(0))),
        selector: Some(selector_string(&name)),
        ..IngestionPipelineStatus::default()
    };
    let pipelines: Api<IngestionPipeline> = Api::namespaced(client, &ns);
    if !same_reconciler_status(&old_status, &status) {
        apply_status(&pipelines, &name, &status)
            .await
            .map_err(Error::PatchStatus)?;
    }

    let reference = pipeline.object_ref(&());
    let new_deployment = if outcome == Outcome::Applied {
        deployment.as_ref()
    } else {
        old_deployment.as_ref()
    };
    for event in events(
        &old_status.conditions,
        &wants,
        old_deployment.as_ref(),
        new_deployment,
    ) {
        if let Err(error) = ctx.recorder.publish(&event, &reference).await {
            warn!(pipeline = %name, %error, reason = %event.reason, "publishing an event failed");
        }
    }
    Ok((label, action))
}

/// Whether the reconciler's fields of two statuses are equal (skip a no-op write).
fn same_reconciler_status(old: &IngestionPipelineStatus, new: &IngestionPipelineStatus) -> bool {
    old.conditions == new.conditions
        && old.observed_generation == new.observed_generation
        && old.replicas == new.replicas
        && old.ready_replicas == new.ready_replicas
        && old.workers == new.workers
        && old.size == new.size
        && old.selector == new.selector
}
