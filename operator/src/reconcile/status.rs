//! What the reconciler reports: conditions from the outcome and the Deployment's real state.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::conditions::{DEGRADED, PROGRESSING, READY, RECONCILING, STALLED, Want, merge};
use crate::crd::IngestionPipelineStatus;
use crate::inspect::{PodProblem, reason_of};

/// How far the reconcile got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The children are applied; the Deployment as the API server returned it.
    Applied,
    /// The spec is invalid; nothing was applied.
    InvalidSpec(String),
}

/// Pod counts read from a Deployment's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PodCounts {
    /// Pods wanted.
    pub desired: i32,
    /// Pods that exist.
    pub current: i32,
    /// Pods of the current template.
    pub updated: i32,
    /// Pods ready.
    pub ready: i32,
    /// Pods available (ready for minReadySeconds).
    pub available: i32,
}

/// Reads the pod counts of a Deployment; `None` until its controller observed the latest spec.
pub fn pod_counts(deployment: &Deployment) -> Option<PodCounts> {
    let spec = deployment.spec.as_ref()?;
    let status = deployment.status.clone().unwrap_or_default();
    let observed =
        status.observed_generation.unwrap_or(0) >= deployment.metadata.generation.unwrap_or(0);
    observed.then(|| PodCounts {
        desired: spec.replicas.unwrap_or(1),
        current: status.replicas.unwrap_or(0),
        updated: status.updated_replicas.unwrap_or(0),
        ready: status.ready_replicas.unwrap_or(0),
        available: status.available_replicas.unwrap_or(0),
    })
}

/// The reason of a Deployment condition of `type_` whose status is `status`, if any.
fn deployment_condition(
    deployment: &Deployment,
    type_: &str,
    status: &str,
) -> Option<(String, String)> {
    deployment
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find_map(|c| {
            (c.type_ == type_ && c.status == status).then(|| {
                (
                    c.reason.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default(),
                )
            })
        })
}

/// Degraded reasons that wait for a change (a spec, a credential, an image, a rollout past
/// its deadline): kstatus calls the pipeline Stalled. The others (an unreachable server, a
/// crash loop) may pass on their own.
const STALLED_REASONS: [&str; 9] = [
    "InvalidSpec",
    "SecretNotFound",
    "KafkaAuthenticationFailed",
    "KafkaTLSFailed",
    "QuestDBAuthenticationFailed",
    "ConsumerConfigError",
    "ImageUnavailable",
    "ProgressDeadlineExceeded",
    "ReplicaFailure",
];

/// The conditions for an outcome and, when applied, the Deployment's state and what the
/// pods that are not ready say about it (see [`crate::inspect`]): Ready, Progressing and
/// Degraded, then kstatus' Reconciling and Stalled derived from them.
pub fn conditions(
    outcome: &Outcome,
    deployment: Option<&Deployment>,
    paused: bool,
    problems: &[PodProblem],
) -> Vec<Want> {
    with_kstatus(own_conditions(outcome, deployment, paused, problems))
}

/// Appends Reconciling (Progressing, as kstatus names it) and Stalled (Degraded for a
/// reason that waits for a change) to Ready, Progressing and Degraded.
fn with_kstatus(mut wants: Vec<Want>) -> Vec<Want> {
    let find = |t: &str| wants.iter().find(|w| w.type_ == t).cloned();
    let reconciling = match find(PROGRESSING) {
        Some(p) if p.status => Want::new(RECONCILING, true, p.reason, p.message),
        Some(p) => Want::new(RECONCILING, false, p.reason, p.message),
        None => Want::new(RECONCILING, false, "Idle", "nothing to do"),
    };
    let stalled = match find(DEGRADED) {
        Some(d) if d.status && STALLED_REASONS.contains(&d.reason) => {
            Want::new(STALLED, true, d.reason, d.message)
        }
        _ => Want::new(STALLED, false, "AsExpected", "the pipeline can progress"),
    };
    wants.push(reconciling);
    wants.push(stalled);
    wants
}

fn own_conditions(
    outcome: &Outcome,
    deployment: Option<&Deployment>,
    paused: bool,
    problems: &[PodProblem],
) -> Vec<Want> {
    let (degraded, reason) = match outcome {
        Outcome::InvalidSpec(msg) => (Some(msg.clone()), "InvalidSpec"),
        Outcome::Applied => (None, ""),
    };
    if let Some(msg) = degraded {
        return vec![
            Want::new(
                READY,
                false,
                reason,
                "the pipeline cannot run until its spec is fixed",
            ),
            Want::new(PROGRESSING, false, reason, "waiting for a change"),
            Want::new(DEGRADED, true, reason, msg),
        ];
    }

    let stuck = deployment.and_then(|d| {
        deployment_condition(d, "Progressing", "False")
            .filter(|(r, _)| r == "ProgressDeadlineExceeded")
            .or_else(|| deployment_condition(d, "ReplicaFailure", "True"))
    });
    let pod_problem = problems
        .iter()
        .find_map(|p| reason_of(&p.code).map(|reason| (reason, p)));
    let degraded = match (&stuck, pod_problem) {
        (_, Some((reason, p))) => Want::new(
            DEGRADED,
            true,
            reason,
            if p.detail.is_empty() {
                format!("pod {}: {}", p.pod, p.code)
            } else {
                format!("pod {}: {}: {}", p.pod, p.code, p.detail)
            },
        ),
        (Some((r, m)), None) if r == "ProgressDeadlineExceeded" => {
            Want::new(DEGRADED, true, "ProgressDeadlineExceeded", m.clone())
        }
        (Some((_, m)), None) => Want::new(DEGRADED, true, "ReplicaFailure", m.clone()),
        (None, None) => Want::new(DEGRADED, false, "AsExpected", "no problem found"),
    };

    let Some(counts) = deployment.and_then(pod_counts) else {
        return vec![
            Want::new(
                READY,
                false,
                "DeploymentPending",
                "the Deployment controller has not observed the latest spec yet",
            ),
            Want::new(
                PROGRESSING,
                true,
                "DeploymentPending",
                "the Deployment is being updated",
            ),
            degraded,
        ];
    };
    let pods = format!(
        "{}/{} pods ready, {} up to date",
        counts.ready, counts.desired, counts.updated
    );
    if paused && counts.current == 0 {
        return vec![
            Want::new(
                READY,
                false,
                "Paused",
                "the pipeline is paused: no consumer pod runs",
            ),
            Want::new(PROGRESSING, false, "Paused", "the pipeline is paused"),
            degraded,
        ];
    }
    let rolled_out = counts.updated >= counts.desired && counts.current == counts.updated;
    let all_ready = counts.available >= counts.desired && counts.ready >= counts.desired;
    let ready = if all_ready && rolled_out {
        Want::new(READY, true, "AllPodsReady", pods.clone())
    } else {
        Want::new(READY, false, "PodsNotReady", pods.clone())
    };
    let progressing = if !rolled_out {
        Want::new(PROGRESSING, true, "RollingOut", pods)
    } else if !all_ready {
        Want::new(PROGRESSING, true, "WaitingForPods", pods)
    } else {
        Want::new(PROGRESSING, false, "RolloutComplete", pods)
    };
    vec![ready, progressing, degraded]
}

/// The reconciler's status after a failed reconcile: the old one with Degraded set to the
/// failure (Ready and Progressing as they were, since the pods keep running); `None` when
/// the status already says exactly that.
pub fn failed_status(
    old: &IngestionPipelineStatus,
    failure: Want,
    generation: Option<i64>,
    now: &Time,
) -> Option<IngestionPipelineStatus> {
    let already = old.conditions.iter().any(|c| {
        c.type_ == DEGRADED
            && c.status == "True"
            && c.reason == failure.reason
            && c.message == failure.message
    });
    if already {
        return None;
    }
    let mut conditions: Vec<_> = old
        .conditions
        .iter()
        .filter(|c| c.type_ != DEGRADED)
        .cloned()
        .collect();
    conditions.extend(merge(&old.conditions, &[failure], generation, now));
    Some(IngestionPipelineStatus {
        conditions,
        observed_generation: old.observed_generation,
        replicas: old.replicas,
        ready_replicas: old.ready_replicas,
        workers: old.workers,
        size: old.size.clone(),
        selector: old.selector.clone(),
        ..IngestionPipelineStatus::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentSpec, DeploymentStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn deployment(desired: i32, status: DeploymentStatus) -> Deployment {
        Deployment {
            metadata: ObjectMeta {
                generation: Some(2),
                ..ObjectMeta::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(desired),
                ..DeploymentSpec::default()
            }),
            status: Some(DeploymentStatus {
                observed_generation: Some(2),
                ..status
            }),
        }
    }

    /// A Deployment of one pod, up to date and not ready.
    fn one_pod_not_ready() -> Deployment {
        deployment(
            1,
            DeploymentStatus {
                observed_generation: Some(2),
                replicas: Some(1),
                updated_replicas: Some(1),
                ..DeploymentStatus::default()
            },
        )
    }

    fn reasons(w: &[Want]) -> Vec<(&str, bool, &str)> {
        w.iter().map(|w| (w.type_, w.status, w.reason)).collect()
    }

    #[test]
    fn pods_not_ready_means_progressing_and_not_ready() {
        let d = deployment(
            2,
            DeploymentStatus {
                replicas: Some(2),
                updated_replicas: Some(2),
                ..Default::default()
            },
        );
        assert_eq!(
            reasons(&conditions(&Outcome::Applied, Some(&d), false, &[])),
            [
                (READY, false, "PodsNotReady"),
                (PROGRESSING, true, "WaitingForPods"),
                (DEGRADED, false, "AsExpected"),
                (RECONCILING, true, "WaitingForPods"),
                (STALLED, false, "AsExpected")
            ]
        );
    }

    #[test]
    fn all_pods_available_means_ready() {
        let d = deployment(
            2,
            DeploymentStatus {
                replicas: Some(2),
                updated_replicas: Some(2),
                ready_replicas: Some(2),
                available_replicas: Some(2),
                ..Default::default()
            },
        );
        let w = conditions(&Outcome::Applied, Some(&d), false, &[]);
        assert_eq!(
            reasons(&w)[..2],
            [
                (READY, true, "AllPodsReady"),
                (PROGRESSING, false, "RolloutComplete")
            ]
        );
        assert_eq!(
            reasons(&w)[3..],
            [
                (RECONCILING, false, "RolloutComplete"),
                (STALLED, false, "AsExpected")
            ]
        );
        assert_eq!(w[0].message, "2/2 pods ready, 2 up to date");
    }

    #[test]
    fn an_unobserved_generation_is_pending_and_a_stuck_rollout_is_degraded() {
        let mut d = deployment(1, DeploymentStatus::default());
        d.status.as_mut().unwrap().observed_generation = Some(1);
        d.status.as_mut().unwrap().conditions = Some(vec![DeploymentCondition {
            type_: "Progressing".into(),
            status: "False".into(),
            reason: Some("ProgressDeadlineExceeded".into()),
            message: Some("ReplicaSet has timed out progressing".into()),
            ..Default::default()
        }]);
        assert_eq!(
            reasons(&conditions(&Outcome::Applied, Some(&d), false, &[])),
            [
                (READY, false, "DeploymentPending"),
                (PROGRESSING, true, "DeploymentPending"),
                (DEGRADED, true, "ProgressDeadlineExceeded"),
                (RECONCILING, true, "DeploymentPending"),
                (STALLED, true, "ProgressDeadlineExceeded")
            ]
        );
    }

    #[test]
    fn an_invalid_spec_is_degraded_and_waits() {
        let w = conditions(
            &Outcome::InvalidSpec("workers.min > workers.max".into()),
            None,
            false,
            &[],
        );
        assert_eq!(reasons(&w)[2], (DEGRADED, true, "InvalidSpec"));
        assert_eq!(w[2].message, "workers.min > workers.max");
        assert_eq!(
            reasons(&w)[3..],
            [
                (RECONCILING, false, "InvalidSpec"),
                (STALLED, true, "InvalidSpec")
            ]
        );
        assert_eq!(w[4].message, "workers.min > workers.max");
    }

    #[test]
    fn a_pod_refused_by_kafka_makes_the_pipeline_degraded_with_the_pods_words() {
        let d = one_pod_not_ready();
        let problems = [
            PodProblem {
                pod: "c-1".into(),
                code: "starting".into(),
                detail: String::new(),
            },
            PodProblem {
                pod: "c-2".into(),
                code: "kafka-authentication".into(),
                detail: "SASL authentication error".into(),
            },
        ];
        let w = conditions(&Outcome::Applied, Some(&d), false, &problems);
        assert_eq!(reasons(&w)[0], (READY, false, "PodsNotReady"));
        assert_eq!(
            reasons(&w)[2],
            (DEGRADED, true, "KafkaAuthenticationFailed")
        );
        assert_eq!(
            w[2].message,
            "pod c-2: kafka-authentication: SASL authentication error"
        );
        let starting_only = conditions(&Outcome::Applied, Some(&d), false, &problems[..1]);
        assert_eq!(reasons(&starting_only)[2], (DEGRADED, false, "AsExpected"));
    }

    #[test]
    fn a_refused_credential_stalls_the_pipeline_and_an_unreachable_server_does_not() {
        let d = one_pod_not_ready();
        let problem = |code: &str| PodProblem {
            pod: "c-1".into(),
            code: code.into(),
            detail: String::new(),
        };
        let refused = conditions(&Outcome::Applied, Some(&d), false, &[problem("kafka-tls")]);
        assert_eq!(reasons(&refused)[4], (STALLED, true, "KafkaTLSFailed"));
        let unreachable = conditions(
            &Outcome::Applied,
            Some(&d),
            false,
            &[problem("questdb-unreachable")],
        );
        assert_eq!(
            reasons(&unreachable)[2],
            (DEGRADED, true, "QuestDBUnreachable")
        );
        assert_eq!(reasons(&unreachable)[4], (STALLED, false, "AsExpected"));
    }

    #[test]
    fn a_paused_pipeline_with_no_pods_is_paused() {
        let d = deployment(0, DeploymentStatus::default());
        assert_eq!(
            reasons(&conditions(&Outcome::Applied, Some(&d), true, &[]))[0],
            (READY, false, "Paused")
        );
    }

    fn running_status(now: &Time) -> IngestionPipelineStatus {
        let d = deployment(
            1,
            DeploymentStatus {
                observed_generation: Some(2),
                replicas: Some(1),
                updated_replicas: Some(1),
                ready_replicas: Some(1),
                available_replicas: Some(1),
                ..DeploymentStatus::default()
            },
        );
        IngestionPipelineStatus {
            conditions: merge(
                &[],
                &conditions(&Outcome::Applied, Some(&d), false, &[]),
                Some(1),
                now,
            ),
            observed_generation: Some(1),
            ready_replicas: Some(1),
            ..IngestionPipelineStatus::default()
        }
    }

    #[test]
    fn a_failed_reconcile_is_degraded_and_keeps_ready_as_it_was() {
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let old = running_status(&now);
        let failure = Want::new(DEGRADED, true, "Forbidden", "cannot patch services");
        let new = failed_status(&old, failure, Some(1), &now).expect("a change");
        let get = |t: &str| new.conditions.iter().find(|c| c.type_ == t).cloned();
        let degraded = get(DEGRADED).expect("Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "Forbidden")
        );
        assert_eq!(degraded.message, "cannot patch services");
        assert_eq!(get(READY).map(|c| c.status), Some("True".to_string()));
        assert_eq!(new.ready_replicas, Some(1));
    }

    #[test]
    fn the_same_failure_again_writes_nothing() {
        let now = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let failure = || Want::new(DEGRADED, true, "Forbidden", "cannot patch services");
        let once = failed_status(&running_status(&now), failure(), Some(1), &now).expect("change");
        assert_eq!(failed_status(&once, failure(), Some(1), &now), None);
    }
}
