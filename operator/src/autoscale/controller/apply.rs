//! Applying a decision: the worker count live to every ready pod, the size and its reason
//! to the pipeline's status (the reconciler sizes the Deployment from it), and an Event.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};
use spate_consumer::runtime::pool::WorkersState;
use spate_consumer::server::{CONTROL_WORKERS_PATH, SetWorkers};

use super::Error;
use super::pods::ReadyPod;
use crate::autoscale::policy::{Decision, Direction, Reason};
use crate::crd::{AutoscalerMemory, AutoscalerStatus, IngestionPipeline};

/// The field manager of the autoscaler's part of the status (`lag`, `lagSeconds`,
/// `rateIn`, `rateOut`, `decision`, `lastScaleTime`, `lastScaleReason`, `autoscaler`,
/// `autoscalerMemory`); the
/// reconciler applies the rest under its own.
pub const FIELD_MANAGER: &str = "spate-autoscaler";

/// The autoscaler's fields of a pipeline's status, as last written.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleStatus {
    /// Records behind.
    pub lag: Option<i64>,
    /// Seconds of arrivals behind, to a tenth.
    pub lag_seconds: Option<f64>,
    /// Records arriving per second.
    pub rate_in: Option<i64>,
    /// Records done per second.
    pub rate_out: Option<i64>,
    /// The latest decision's reason.
    pub decision: Option<String>,
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
            lag_seconds: s.lag_seconds,
            rate_in: s.rate_in,
            rate_out: s.rate_out,
            decision: s.decision,
            autoscaler: s.autoscaler,
            last_scale_time: s.last_scale_time,
            last_scale_reason: s.last_scale_reason,
            memory: s.autoscaler_memory,
        }
    }

    /// What a round saw: records behind, records arriving and done per second, and the
    /// reason of its decision. A reading that failed keeps the last one.
    pub fn observed(
        &mut self,
        backlog: Option<u64>,
        arriving: Option<f64>,
        done: Option<f64>,
        reason: Reason,
    ) {
        if let Some(backlog) = backlog {
            self.lag = Some(backlog.min(i64::MAX as u64) as i64);
            self.lag_seconds = lag_seconds(backlog, arriving);
        }
        let per_second = |r: f64| r.max(0.0).round() as i64;
        if let Some(r) = arriving {
            self.rate_in = Some(per_second(r));
        }
        if let Some(r) = done {
            self.rate_out = Some(per_second(r));
        }
        self.decision = Some(reason.as_str().to_string());
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
        if let Some(seconds) = self.lag_seconds {
            status.insert("lagSeconds".into(), json!(seconds));
        }
        if let Some(rate) = self.rate_in {
            status.insert("rateIn".into(), json!(rate));
        }
        if let Some(rate) = self.rate_out {
            status.insert("rateOut".into(), json!(rate));
        }
        if let Some(reason) = &self.decision {
            status.insert("decision".into(), json!(reason));
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

/// `backlog` in seconds of `arriving` records per second, to a tenth; none while nothing
/// arrives and something is behind (no number of seconds of arrivals is that backlog).
pub fn lag_seconds(backlog: u64, arriving: Option<f64>) -> Option<f64> {
    match arriving {
        _ if backlog == 0 => Some(0.0),
        Some(rate) if rate > 0.0 => Some((backlog as f64 / rate * 10.0).round() / 10.0),
        _ => None,
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
        let url = format!("{}{CONTROL_WORKERS_PATH}", pod.url(port));
        let current = match http.get(&url).send().await {
            Ok(r) if r.status().is_success() => {
                r.json::<WorkersState>().await.ok().map(|s| s.workers)
            }
            _ => None,
        };
        if current == Some(workers as usize) {
            continue;
        }
        match http
            .put(&url)
            .bearer_auth(token)
            .json(&SetWorkers {
                workers: workers as usize,
            })
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
    use crate::autoscale::policy::PolicyState;

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
    fn lag_in_seconds_is_the_backlog_over_the_arrival_rate() {
        assert_eq!(lag_seconds(2500, Some(1000.0)), Some(2.5));
        assert_eq!(lag_seconds(1, Some(3.0)), Some(0.3));
        assert_eq!(lag_seconds(0, None), Some(0.0));
        assert_eq!(lag_seconds(10, Some(0.0)), None, "nothing arrives");
        assert_eq!(lag_seconds(10, None), None);
    }

    #[test]
    fn a_round_records_the_rates_and_its_reason_and_keeps_what_it_could_not_read() {
        let mut s = ScaleStatus::default();
        s.observed(Some(3000), Some(1500.4), Some(1200.6), Reason::AtMaximum);
        assert_eq!(
            s.apply_body()["status"],
            json!({
                "lag": 3000,
                "lagSeconds": 2.0,
                "rateIn": 1500,
                "rateOut": 1201,
                "decision": "AtMaximum"
            })
        );
        s.observed(None, None, None, Reason::MissingSignals);
        assert_eq!(
            (s.lag, s.rate_in, s.decision.as_deref()),
            (Some(3000), Some(1500), Some("MissingSignals"))
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
