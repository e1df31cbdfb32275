//! Pod status as the kubelet reports it, built from what the runner knows: the phase,
//! addresses, container states and the conditions with their transition times.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::process::Exit;

/// A container's current or last state.
#[derive(Clone, Debug, PartialEq)]
pub enum ContainerState {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: Timestamp,
    },
    Terminated(Terminated),
}

/// A finished run of a container.
#[derive(Clone, Debug, PartialEq)]
pub struct Terminated {
    pub exit: Exit,
    pub reason: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
}

/// What the status says about one container.
#[derive(Clone, Debug)]
pub struct ContainerView {
    pub name: String,
    pub image: String,
    pub image_id: String,
    pub container_id: Option<String>,
    pub restart_count: i32,
    pub state: ContainerState,
    pub last_terminated: Option<Terminated>,
    pub started: bool,
    pub ready: bool,
}

/// The pod's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Succeeded => "Succeeded",
            Phase::Failed => "Failed",
        }
    }

    /// The kubelet's rule: Running while any container runs or will be restarted; once none
    /// will run again, Succeeded when all exited 0, else Failed.
    pub fn of(containers: &[ContainerView], restarting: bool) -> Phase {
        let terminated: Vec<&Terminated> = containers
            .iter()
            .filter_map(|c| match &c.state {
                ContainerState::Terminated(t) => Some(t),
                _ => None,
            })
            .collect();
        let any_running = containers
            .iter()
            .any(|c| matches!(c.state, ContainerState::Running { .. }));
        if any_running || restarting {
            Phase::Running
        } else if !containers.is_empty() && terminated.len() == containers.len() {
            if terminated.iter().all(|t| t.exit.exit_code == 0) {
                Phase::Succeeded
            } else {
                Phase::Failed
            }
        } else {
            Phase::Pending
        }
    }
}

/// Pod conditions with the time each last changed, so `lastTransitionTime` moves only on a change.
#[derive(Clone, Debug, Default)]
pub struct Conditions {
    entries: BTreeMap<&'static str, (bool, Option<String>, Timestamp)>,
}

impl Conditions {
    /// Sets condition `kind`; `reason` accompanies a false status.
    pub fn set(&mut self, kind: &'static str, status: bool, reason: Option<&str>, now: Timestamp) {
        let reason = (!status).then(|| reason.unwrap_or("ContainersNotReady").to_owned());
        match self.entries.get_mut(kind) {
            Some((old, old_reason, since)) => {
                if *old != status {
                    *since = now;
                }
                *old = status;
                *old_reason = reason;
            }
            None => {
                self.entries.insert(kind, (status, reason, now));
            }
        }
    }

    pub fn get(&self, kind: &str) -> Option<bool> {
        self.entries.get(kind).map(|(status, _, _)| *status)
    }

    fn to_json(&self) -> Vec<Value> {
        self.entries
            .iter()
            .map(|(kind, (status, reason, since))| {
                let mut condition = json!({
                    "type": kind,
                    "status": if *status { "True" } else { "False" },
                    "lastProbeTime": null,
                    "lastTransitionTime": time(*since),
                });
                if let Some(reason) = reason {
                    condition["reason"] = json!(reason);
                }
                condition
            })
            .collect()
    }
}

/// Everything the status patch says.
#[derive(Clone, Debug)]
pub struct PodView<'a> {
    pub phase: Phase,
    pub pod_ip: Option<Ipv4Addr>,
    pub host_ip: Ipv4Addr,
    pub start_time: Timestamp,
    pub containers: &'a [ContainerView],
    pub conditions: &'a Conditions,
}

/// The strategic-merge patch of the `status` subresource for `view`.
pub fn status_patch(view: &PodView<'_>) -> Value {
    let mut status = json!({
        "phase": view.phase.as_str(),
        "hostIP": view.host_ip.to_string(),
        "hostIPs": [{ "ip": view.host_ip.to_string() }],
        "startTime": time(view.start_time),
        "conditions": view.conditions.to_json(),
        "containerStatuses": view.containers.iter().map(container_status).collect::<Vec<_>>(),
    });
    if let Some(ip) = view.pod_ip {
        status["podIP"] = json!(ip.to_string());
        status["podIPs"] = json!([{ "ip": ip.to_string() }]);
    }
    json!({ "status": status })
}

fn container_status(c: &ContainerView) -> Value {
    let mut status = json!({
        "name": c.name,
        "image": c.image,
        "imageID": c.image_id,
        "restartCount": c.restart_count,
        "started": c.started,
        "ready": c.ready,
        "state": state(&c.state),
        "lastState": c.last_terminated.as_ref().map_or(json!({}), |t| json!({ "terminated": terminated(t) })),
    });
    if let Some(id) = &c.container_id {
        status["containerID"] = json!(id);
    }
    status
}

fn state(state: &ContainerState) -> Value {
    match state {
        ContainerState::Waiting { reason, message } => match message {
            Some(message) => json!({ "waiting": { "reason": reason, "message": message } }),
            None => json!({ "waiting": { "reason": reason } }),
        },
        ContainerState::Running { started_at } => {
            json!({ "running": { "startedAt": time(*started_at) } })
        }
        ContainerState::Terminated(t) => json!({ "terminated": terminated(t) }),
    }
}

fn terminated(t: &Terminated) -> Value {
    let mut value = json!({
        "exitCode": t.exit.exit_code,
        "reason": t.reason,
        "startedAt": time(t.started_at),
        "finishedAt": time(t.finished_at),
    });
    if let Some(signal) = t.exit.signal {
        value["signal"] = json!(signal);
    }
    value
}

/// A timestamp the way the API server stores `Time`: RFC 3339, whole seconds.
pub fn time(at: Timestamp) -> Value {
    serde_json::to_value(Time(at)).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(state: ContainerState, ready: bool) -> ContainerView {
        ContainerView {
            name: "consumer".into(),
            image: "spate-consumer:1".into(),
            image_id: "file:///bin/consumer".into(),
            container_id: Some("podrunner://42".into()),
            restart_count: 1,
            state,
            last_terminated: None,
            started: true,
            ready,
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn exited(code: i32) -> ContainerState {
        ContainerState::Terminated(Terminated {
            exit: Exit {
                exit_code: code,
                signal: None,
            },
            reason: "Error".into(),
            started_at: at(0),
            finished_at: at(1),
        })
    }

    #[test]
    fn a_transition_time_moves_only_when_the_status_changes() {
        let mut conditions = Conditions::default();
        conditions.set("Ready", false, None, at(0));
        conditions.set("Ready", false, None, at(5));
        assert_eq!(conditions.to_json()[0]["lastTransitionTime"], time(at(0)));
        conditions.set("Ready", true, None, at(9));
        assert_eq!(conditions.to_json()[0]["lastTransitionTime"], time(at(9)));
        assert_eq!(conditions.to_json()[0]["status"], "True");
        assert!(conditions.to_json()[0].get("reason").is_none());
    }

    #[test]
    fn the_phase_follows_the_containers() {
        let running = container(ContainerState::Running { started_at: at(0) }, true);
        assert_eq!(Phase::of(&[running], false), Phase::Running);
        assert_eq!(
            Phase::of(&[container(exited(1), false)], true),
            Phase::Running,
            "a crash loop is Running"
        );
        assert_eq!(
            Phase::of(&[container(exited(0), false)], false),
            Phase::Succeeded
        );
        assert_eq!(
            Phase::of(
                &[container(exited(0), false), container(exited(2), false)],
                false
            ),
            Phase::Failed
        );
        let waiting = ContainerState::Waiting {
            reason: "CreateContainerConfigError".into(),
            message: None,
        };
        assert_eq!(
            Phase::of(&[container(waiting, false)], false),
            Phase::Pending
        );
    }

    #[test]
    fn the_patch_carries_addresses_states_and_conditions() {
        let mut conditions = Conditions::default();
        conditions.set("Ready", true, None, at(3));
        let containers = [container(
            ContainerState::Running { started_at: at(2) },
            true,
        )];
        let patch = status_patch(&PodView {
            phase: Phase::Running,
            pod_ip: Some(Ipv4Addr::new(127, 7, 0, 1)),
            host_ip: Ipv4Addr::LOCALHOST,
            start_time: at(1),
            containers: &containers,
            conditions: &conditions,
        });
        let status = &patch["status"];
        assert_eq!(status["phase"], "Running");
        assert_eq!(status["podIP"], "127.7.0.1");
        assert_eq!(status["podIPs"], json!([{ "ip": "127.7.0.1" }]));
        assert_eq!(status["startTime"], "2023-11-14T22:13:21Z");
        assert_eq!(
            status["containerStatuses"][0]["state"]["running"]["startedAt"],
            time(at(2))
        );
        assert_eq!(status["containerStatuses"][0]["ready"], true);
        assert_eq!(status["conditions"][0]["type"], "Ready");
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(patch).unwrap();
        assert_eq!(
            pod.status.unwrap().container_statuses.unwrap()[0].restart_count,
            1
        );
    }
}
