//! One container of a running pod: its process, probes, restart back-off and the state
//! the pod status reports for it.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Container;
use k8s_openapi::jiff::Timestamp;
use nix::sys::signal::Signal;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::probe::{self, ProbeKind, ProbeSpec, Verdict};
use super::process::{self, Exit, Launch};
use super::status::{ContainerState, ContainerView, Terminated};

/// What a container's helper tasks report to its pod.
#[derive(Debug)]
pub enum ContainerEvent {
    Exited {
        index: usize,
        generation: u32,
        exit: Exit,
    },
    Probe {
        index: usize,
        generation: u32,
        kind: ProbeKind,
        ok: bool,
    },
}

/// A container and its current run.
pub struct ContainerRun {
    pub index: usize,
    pub spec: Container,
    pub image_id: String,
    /// Number of process starts so far; events of an older start are ignored.
    pub generation: u32,
    pub restart_count: i32,
    pub pid: Option<u32>,
    pub state: ContainerState,
    pub last_terminated: Option<Terminated>,
    /// The startup probe passed (or there is none).
    pub started: bool,
    pub ready: bool,
    /// When to start the process again (back-off after an exit, retry after a config error).
    pub start_at: Option<Instant>,
    pub backoff: Duration,
    /// When the SIGTERM already sent turns into SIGKILL.
    pub kill_at: Option<Instant>,
    running_since: Option<Instant>,
    verdicts: Vec<(ProbeKind, Verdict)>,
    probe_tasks: Vec<JoinHandle<()>>,
}

impl ContainerRun {
    pub fn new(index: usize, spec: Container, restart_count: i32, backoff: Duration) -> Self {
        Self {
            index,
            spec,
            image_id: String::new(),
            generation: 0,
            restart_count,
            pid: None,
            state: ContainerState::Waiting {
                reason: "ContainerCreating".to_owned(),
                message: None,
            },
            last_terminated: None,
            started: false,
            ready: false,
            start_at: Some(Instant::now()),
            backoff,
            kill_at: None,
            running_since: None,
            verdicts: Vec::new(),
            probe_tasks: Vec::new(),
        }
    }

    pub fn is_running(&self) -> bool {
        self.pid.is_some()
    }

    /// Starts `launch`: the process, a task reporting its exit, and its probes.
    pub fn start(
        &mut self,
        launch: &Launch,
        pod_ip: Ipv4Addr,
        http: &reqwest::Client,
        events: &UnboundedSender<ContainerEvent>,
    ) -> std::io::Result<u32> {
        let banner = format!(
            "start #{} of {} at {}",
            self.generation + 1,
            self.spec.name,
            Timestamp::now()
        );
        let mut child = process::spawn(launch, &banner)?;
        let pid = child.id().unwrap_or_default();
        self.generation += 1;
        if self.generation > 1 || self.last_terminated.is_some() {
            self.restart_count += 1;
        }
        let (index, generation) = (self.index, self.generation);
        let exited = events.clone();
        tokio::spawn(async move {
            let exit = match child.wait().await {
                Ok(status) => Exit::from(status),
                Err(_) => Exit {
                    exit_code: -1,
                    signal: None,
                },
            };
            let _ = exited.send(ContainerEvent::Exited {
                index,
                generation,
                exit,
            });
        });
        self.pid = Some(pid);
        self.image_id = format!("file://{}", launch.program.display());
        self.state = ContainerState::Running {
            started_at: Timestamp::now(),
        };
        self.running_since = Some(Instant::now());
        self.start_at = None;
        self.kill_at = None;
        self.ready = false;
        self.verdicts.clear();
        let env = Arc::new(launch.env.clone());
        for kind in [
            ProbeKind::Startup,
            ProbeKind::Liveness,
            ProbeKind::Readiness,
        ] {
            let Some(spec) = ProbeSpec::of(&self.spec, kind) else {
                continue;
            };
            self.verdicts.push((kind, Verdict::new(&spec)));
            let task = probe_loop(
                spec,
                index,
                generation,
                IpAddr::V4(pod_ip),
                http.clone(),
                env.clone(),
                events.clone(),
            );
            self.probe_tasks.push(tokio::spawn(task));
        }
        self.started = !self.has(ProbeKind::Startup);
        self.ready = self.started && !self.has(ProbeKind::Readiness);
        Ok(pid)
    }

    fn has(&self, kind: ProbeKind) -> bool {
        self.verdicts.iter().any(|(k, _)| *k == kind)
    }

    /// Records a probe result; returns the reason to kill the container when it failed out.
    pub fn observe_probe(&mut self, kind: ProbeKind, ok: bool) -> Option<&'static str> {
        if !self.is_running() || (kind != ProbeKind::Startup && !self.started) {
            return None;
        }
        let verdict = &mut self.verdicts.iter_mut().find(|(k, _)| *k == kind)?.1;
        let changed = verdict.observe(ok);
        match kind {
            ProbeKind::Startup if changed == Some(true) => {
                self.started = true;
                self.ready = !self.has(ProbeKind::Readiness);
                None
            }
            ProbeKind::Startup if verdict.failed_out() => Some("startup probe failed"),
            ProbeKind::Startup => None,
            ProbeKind::Liveness => (changed == Some(false)).then_some("liveness probe failed"),
            ProbeKind::Readiness => {
                self.ready = verdict.passing();
                None
            }
        }
    }

    /// Sends SIGTERM now and SIGKILL once `grace` has passed (see [`Self::enforce_kill`]).
    pub fn stop(&mut self, grace: Duration) {
        let Some(pid) = self.pid else { return };
        if self.kill_at.is_none() {
            signal(pid, Signal::SIGTERM);
            self.kill_at = Some(Instant::now() + grace);
        }
    }

    /// SIGKILL for a container whose grace period has run out.
    pub fn enforce_kill(&mut self, now: Instant) {
        if let (Some(pid), Some(kill_at)) = (self.pid, self.kill_at)
            && now >= kill_at
        {
            signal(pid, Signal::SIGKILL);
            self.kill_at = Some(now + Duration::from_secs(3600));
        }
    }

    /// Records the end of the current run; `restart` schedules the next start after the back-off.
    pub fn exited(&mut self, exit: Exit, restart: bool, initial: Duration, max: Duration) {
        let finished_at = Timestamp::now();
        let started_at = match &self.state {
            ContainerState::Running { started_at } => *started_at,
            _ => finished_at,
        };
        for task in self.probe_tasks.drain(..) {
            task.abort();
        }
        let ran = self
            .running_since
            .take()
            .map(|since| since.elapsed())
            .unwrap_or_default();
        let terminated = Terminated {
            exit,
            reason: exit.reason().to_owned(),
            started_at,
            finished_at,
        };
        self.pid = None;
        self.kill_at = None;
        self.ready = false;
        self.started = false;
        if restart {
            if ran >= Duration::from_secs(60) {
                self.backoff = initial;
            }
            let delay = self.backoff;
            self.backoff = (self.backoff * 2).min(max);
            self.start_at = Some(Instant::now() + delay);
            self.state = ContainerState::Waiting {
                reason: "CrashLoopBackOff".to_owned(),
                message: Some(format!(
                    "back-off {}s restarting failed container={}",
                    delay.as_secs(),
                    self.spec.name
                )),
            };
            self.last_terminated = Some(terminated);
        } else {
            self.start_at = None;
            self.state = ContainerState::Terminated(terminated);
        }
    }

    /// The container cannot start yet (config error, unmapped image): retry after `retry`.
    pub fn waiting(&mut self, reason: &str, message: String, retry: Duration) {
        self.state = ContainerState::Waiting {
            reason: reason.to_owned(),
            message: Some(message),
        };
        self.start_at = Some(Instant::now() + retry);
    }

    pub fn view(&self) -> ContainerView {
        ContainerView {
            name: self.spec.name.clone(),
            image: self.spec.image.clone().unwrap_or_default(),
            image_id: self.image_id.clone(),
            container_id: self.pid.map(|pid| format!("podrunner://{pid}")),
            restart_count: self.restart_count,
            state: self.state.clone(),
            last_terminated: self.last_terminated.clone(),
            started: self.started,
            ready: self.ready,
        }
    }
}

impl Drop for ContainerRun {
    fn drop(&mut self) {
        for task in self.probe_tasks.drain(..) {
            task.abort();
        }
        if let Some(pid) = self.pid {
            signal(pid, Signal::SIGKILL);
        }
    }
}

fn signal(pid: u32, signal: Signal) {
    if let Err(error) = process::signal_group(pid, signal) {
        tracing::warn!(pid, signal = %signal, error = %error, "signalling a container failed");
    }
}

async fn probe_loop(
    spec: ProbeSpec,
    index: usize,
    generation: u32,
    ip: IpAddr,
    http: reqwest::Client,
    env: Arc<Vec<(String, String)>>,
    events: UnboundedSender<ContainerEvent>,
) {
    tokio::time::sleep(spec.initial_delay).await;
    let mut ticker = tokio::time::interval(spec.period);
    loop {
        ticker.tick().await;
        let ok = probe::check(&spec.action, ip, spec.timeout, &http, &env).await;
        if events
            .send(ContainerEvent::Probe {
                index,
                generation,
                kind: spec.kind,
                ok,
            })
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> ContainerRun {
        let spec =
            serde_json::from_value(serde_json::json!({ "name": "c", "image": "i" })).unwrap();
        ContainerRun::new(0, spec, 0, Duration::from_secs(1))
    }

    #[test]
    fn a_crash_waits_in_back_off_that_doubles_up_to_its_bound() {
        let mut container = run();
        let crash = Exit {
            exit_code: 2,
            signal: None,
        };
        let (initial, max) = (Duration::from_secs(1), Duration::from_secs(3));
        let mut delays = Vec::new();
        for _ in 0..4 {
            let before = Instant::now();
            container.exited(crash, true, initial, max);
            delays.push((container.start_at.unwrap() - before).as_secs_f64().round() as u64);
        }
        assert_eq!(delays, [1, 2, 3, 3]);
        assert!(
            matches!(&container.state, ContainerState::Waiting { reason, .. } if reason == "CrashLoopBackOff")
        );
        assert_eq!(
            container.last_terminated.as_ref().map(|t| t.exit.exit_code),
            Some(2)
        );
        assert!(!container.ready && !container.is_running());
    }

    #[test]
    fn an_exit_without_restart_is_terminal() {
        let mut container = run();
        container.exited(
            Exit {
                exit_code: 0,
                signal: None,
            },
            false,
            Duration::ZERO,
            Duration::ZERO,
        );
        assert!(
            matches!(&container.state, ContainerState::Terminated(t) if t.reason == "Completed")
        );
        assert_eq!(container.start_at, None);
    }

    #[tokio::test]
    async fn a_started_container_without_probes_is_ready_and_reports_its_exit() {
        let mut container = run();
        let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
        let dir = std::env::temp_dir().join(format!("podrunner-container-{}", std::process::id()));
        let launch = Launch {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), "exit 3".into()],
            env: vec![],
            log_file: dir.join("c.log"),
        };
        let http = reqwest::Client::new();
        container
            .start(&launch, Ipv4Addr::LOCALHOST, &http, &events)
            .unwrap();
        assert!(container.ready && container.started && container.is_running());
        let event = received.recv().await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            event,
            ContainerEvent::Exited {
                generation: 1,
                exit: Exit { exit_code: 3, .. },
                ..
            }
        ));
    }
}
