//! Which transitions deserve a Kubernetes Event (pure: old state and new state in, events out).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::runtime::events::{Event, EventType};

use super::conditions::{DEGRADED, READY, Want};
use crate::build::names::CONFIG_HASH_ANNOTATION;

fn event(type_: EventType, reason: &str, action: &str, note: String) -> Event {
    Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    }
}

/// The Warning Event of a failed reconcile, named like its Degraded condition.
pub fn failure(reason: &str, message: String) -> Event {
    event(EventType::Warning, reason, "Reconcile", message)
}

fn replicas(d: &Deployment) -> Option<i32> {
    d.spec.as_ref()?.replicas
}

fn config_hash(d: &Deployment) -> Option<&String> {
    d.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(CONFIG_HASH_ANNOTATION)
}

/// Events for the changes between the previous and the new state of a pipeline.
pub fn events(
    old_conditions: &[Condition],
    new_conditions: &[Want],
    old_deployment: Option<&Deployment>,
    new_deployment: Option<&Deployment>,
) -> Vec<Event> {
    let mut out = Vec::new();
    let was = |type_: &str| old_conditions.iter().find(|c| c.type_ == type_);
    let now = |type_: &str| new_conditions.iter().find(|w| w.type_ == type_);

    if let Some(d) = now(DEGRADED).filter(|d| d.status) {
        let same = was(DEGRADED)
            .is_some_and(|c| c.status == "True" && c.reason == d.reason && c.message == d.message);
        if !same {
            out.push(event(
                EventType::Warning,
                d.reason,
                "Reconcile",
                d.message.clone(),
            ));
        }
    }
    if let Some(r) = now(READY) {
        let was_ready = was(READY).is_some_and(|c| c.status == "True");
        if r.status && !was_ready {
            out.push(event(
                EventType::Normal,
                "PipelineReady",
                "Reconcile",
                r.message.clone(),
            ));
        } else if !r.status && was_ready {
            out.push(event(
                EventType::Warning,
                "PipelineNotReady",
                "Reconcile",
                r.message.clone(),
            ));
        }
    }
    match (old_deployment, new_deployment) {
        (None, Some(new)) => out.push(event(
            EventType::Normal,
            "CreatedWorkload",
            "Apply",
            format!(
                "created the Deployment ({} replicas), Service, ConfigMap, ServiceAccount and PodDisruptionBudget",
                replicas(new).unwrap_or(0)
            ),
        )),
        (Some(old), Some(new)) => {
            if replicas(old) != replicas(new) {
                out.push(event(
                    EventType::Normal,
                    "ScaledDeployment",
                    "Scale",
                    format!("replicas {} → {}", replicas(old).unwrap_or(0), replicas(new).unwrap_or(0)),
                ));
            }
            if config_hash(old).is_some() && config_hash(old) != config_hash(new) {
                out.push(event(EventType::Normal, "RollingOut", "Apply", "the consumer configuration changed: rolling the pods".into()));
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::DeploymentSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn dep(replicas: i32) -> Deployment {
        Deployment {
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn cond(type_: &str, status: &str, reason: &str) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: "m".into(),
            observed_generation: None,
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
        }
    }

    fn reasons(e: &[Event]) -> Vec<&str> {
        e.iter().map(|e| e.reason.as_str()).collect()
    }

    #[test]
    fn creation_and_scaling_are_announced() {
        assert_eq!(
            reasons(&events(&[], &[], None, Some(&dep(1)))),
            ["CreatedWorkload"]
        );
        assert_eq!(
            reasons(&events(&[], &[], Some(&dep(1)), Some(&dep(3)))),
            ["ScaledDeployment"]
        );
        assert!(events(&[], &[], Some(&dep(3)), Some(&dep(3))).is_empty());
    }

    #[test]
    fn a_degradation_is_announced_once() {
        let wants = [Want::new(DEGRADED, true, "InvalidSpec", "m")];
        assert_eq!(reasons(&events(&[], &wants, None, None)), ["InvalidSpec"]);
        let old = [cond(DEGRADED, "True", "InvalidSpec")];
        assert!(events(&old, &wants, None, None).is_empty());
    }

    #[test]
    fn readiness_flips_are_announced() {
        let ready = [Want::new(READY, true, "AllPodsReady", "1/1")];
        assert_eq!(
            reasons(&events(&[cond(READY, "False", "x")], &ready, None, None)),
            ["PipelineReady"]
        );
        let not_ready = [Want::new(READY, false, "PodsNotReady", "0/1")];
        assert_eq!(
            reasons(&events(&[cond(READY, "True", "x")], &not_ready, None, None)),
            ["PipelineNotReady"]
        );
    }
}
