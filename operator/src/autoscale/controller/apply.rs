//! Applying a decision: the worker count live to every ready pod, the size and its reason
//! to the pipeline's status (the reconciler sizes the Deployment from it), and an Event.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Error;
use super::pods::ReadyPod;
use crate::autoscale::policy::{Decision, Direction};
use crate::crd::{AutoscalerMemory, AutoscalerStatus, IngestionPipeline};

/// The field manager of the autoscaler's part of the status (`lag`, `lastScaleTime`,
/// `lastScaleReason`, `autoscaler`); the reconciler applies the rest under its own.
pub const FIELD_MANAGER: &str = "spate-autoscaler";

/// The autoscaler's fields of a pipeline's status, as last written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleStatus {
    /// Records behind.
    pub lag: Option<i64>,
    /// The latest decision that changed the size.
    pub autoscaler: Option<AutoscalerStatus>,
    /// When the size last changed.
    pub last_scale_time: Option<Time>,
    /// Why, as `Reason: message`.
    pub last_scale_reason: Option<String>,
    /// What the policy remembers, for the next leader.
    pub memory: Option<AutoscalerMemory>,
}

impl ScaleStatus {
    /// The fields as found on a pipeline (so a restarted loop keeps what it wrote before).
    pub fn of(pipeline: &IngestionPipeline) -> Self {
        let s = pipeline.status.clone().unwrap_or_default();
        Self {
            lag: s.lag,
            autoscaler: s.autoscaler,
            last_scale_time: s.last_scale_time,
            last_scale_reason: s.last_scale_reason,
            memory: s.autoscaler_memory,
        }
    }

    /// After `decision` changed the size at `at`.
    pub fn scaled(&mut self, decision: &Decision, at: Timestamp) {
        let time = Time(at);
        self.autoscaler = Some(AutoscalerStatus {
            desired_replicas: Some(decision.replicas as i32),
            desired_workers: Some(decision.workers as i32),
            reason: Some(decision.reason.as_str().to_string()),
            decision_time: Some(time.clone()),
        });
        self.last_scale_time = Some(time);
        self.last_scale_reason = Some(format!("{}: {}", decision.reason, decision.message));
    }

    /// The server-side apply body: every field the autoscaler owns, each time (a field left
    /// out of an apply would be removed).
    pub fn apply_body(&self) -> Value {
        let mut status = serde_json::Map::new();
        if let Some(lag) = self.lag {
            status.insert("lag".into(), json!(lag));
        }
        if let Some(a) = &self.autoscaler {
            status.insert("autoscaler".into(), json!(a));
        }
        if let Some(t) = &self.last_scale_time {
            status.insert("lastScaleTime".into(), json!(t));
        }
        if let Some(r) = &self.last_scale_reason {
            status.insert("lastScaleReason".into(), json!(r));
        }
        if let Some(m) = &self.memory {
            status.insert("autoscalerMemory".into(), json!(m));
        }
        json!({
            "apiVersion": IngestionPipeline::api_version(&()),
            "kind": IngestionPipeline::kind(&()),
            "status": Value::Object(status),
        })
    }
}

/// Writes the autoscaler's part of the status.
pub async fn write_status(
    api: &Api<IngestionPipeline>,
    name: &str,
    status: &ScaleStatus,
) -> Result<(), Error> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(name, &params, &Patch::Apply(status.apply_body()))
        .await
        .map(|_| ())
        .map_err(|source| Error::PatchStatus {
            pipeline: name.to_string(),
            source,
        })
}

/// Which way `decision` moves a pipeline running `replicas`×`workers`.
pub fn direction(decision: &Decision, replicas: u32, workers: u32) -> Direction {
    let before = u64::from(replicas) * u64::from(workers);
    let after = u64::from(decision.replicas) * u64::from(decision.workers);
    if decision.replicas > replicas || (decision.replicas == replicas && after > before) {
        Direction::Up
    } else {
        Direction::Down
    }
}

/// Publishes the Event of a decision that changed the size.
pub async fn publish_event(
    recorder: &Recorder,
    pipeline: &IngestionPipeline,
    decision: &Decision,
    direction: Direction,
) {
    let event = Event {
        type_: EventType::Normal,
        reason: decision.reason.as_str().to_string(),
        note: Some(truncate(&decision.message, 1000)),
        action: match direction {
            Direction::Up => "ScaleUp".into(),
            Direction::Down => "ScaleDown".into(),
        },
        secondary: None,
    };
    if let Err(error) = recorder.publish(&event, &pipeline.object_ref(&())).await {
        tracing::warn!(pipeline = %pipeline.name_any(), %error, reason = %event.reason, "publishing a scaling event failed");
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[derive(Deserialize)]
struct WorkersState {
    workers: u32,
}

/// Makes every pod in `pods` run `workers` workers: asks each for its count and sets it
/// where it differs (a pod that just started runs `workers.initial`). Returns the pods
/// changed; failures are logged and retried on the next round.
pub async fn set_workers(
    http: &reqwest::Client,
    pods: &[ReadyPod],
    port: u16,
    token: &str,
    workers: u32,
) -> Result<Vec<String>, Error> {
    let mut changed = Vec::new();
    let mut unauthorized = false;
    for pod in pods {
        let url = format!("{}/control/workers", pod.url(port));
        let current = match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => {
                r.json::<WorkersState>().await.ok().map(|s| s.workers)
            }
            _ => None,
        };
        if current == Some(workers) {
            continue;
        }
        match http
            .put(&url)
            .bearer_auth(token)
            .json(&json!({ "workers": workers }))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => {
                tracing::info!(pod = %pod.name, from = ?current, to = workers, "set workers");
                changed.push(pod.name.clone());
            }
            Ok(r) if r.status() == reqwest::StatusCode::UNAUTHORIZED => unauthorized = true,
            Ok(r) => {
                tracing::warn!(pod = %pod.name, status = %r.status(), "setting workers refused")
            }
            Err(error) => tracing::warn!(pod = %pod.name, %error, "setting workers failed"),
        }
    }
    if unauthorized {
        return Err(Error::SetWorkers {
            message: "a pod refused the control token (401)".into(),
        });
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscale::policy::{PolicyState, Reason};

    fn decision(replicas: u32, workers: u32, reason: Reason) -> Decision {
        Decision {
            replicas,
            workers,
            wanted: 0,
            reason,
            message: "why".into(),
            state: PolicyState::default(),
        }
    }

    #[test]
    fn more_pods_or_more_workers_is_up_fewer_is_down() {
        assert_eq!(
            direction(&decision(1, 4, Reason::ScaleUpWorkers), 1, 1),
            Direction::Up
        );
        assert_eq!(
            direction(&decision(2, 4, Reason::ScaleUpReplicas), 1, 4),
            Direction::Up
        );
        assert_eq!(
            direction(&decision(2, 2, Reason::ScaleDownWorkers), 2, 4),
            Direction::Down
        );
        assert_eq!(
            direction(&decision(1, 4, Reason::ScaleDownReplicas), 2, 4),
            Direction::Down
        );
    }

    #[test]
    fn the_status_body_carries_every_field_the_autoscaler_owns() {
        let mut s = ScaleStatus {
            lag: Some(42),
            ..ScaleStatus::default()
        };
        assert_eq!(s.apply_body()["status"], json!({ "lag": 42 }));
        let at: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        s.scaled(&decision(2, 4, Reason::ScaleUpReplicas), at);
        let body = s.apply_body();
        assert_eq!(body["kind"], "IngestionPipeline");
        assert_eq!(body["apiVersion"], "spate.dev/v1alpha1");
        assert_eq!(
            body["status"],
            json!({
                "lag": 42,
                "autoscaler": {
                    "desiredReplicas": 2,
                    "desiredWorkers": 4,
                    "reason": "ScaleUpReplicas",
                    "decisionTime": "2026-01-02T03:04:05Z"
                },
                "lastScaleTime": "2026-01-02T03:04:05Z",
                "lastScaleReason": "ScaleUpReplicas: why"
            })
        );
    }
}
