//! The life of one pod on the runner's node: bind, address, start its containers, follow
//! their probes and exits, report status, and on deletion stop them within the grace period
//! and remove the pod object.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Binding, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::Error;
use super::container::{ContainerEvent, ContainerRun};
use super::envvars::{self, PodAddresses};
use super::launch::{self, LaunchContext};
use super::runner::Shared;
use super::status::{Conditions, ContainerView, Phase, PodView, status_patch};
use super::targets::Target;

const TICK: Duration = Duration::from_millis(200);
const CONFIG_RETRY: Duration = Duration::from_secs(2);

/// Why a pod's supervision ends.
enum Ending {
    /// The pod is being deleted: stop within its grace period, then remove the object.
    Deleted,
    /// The runner stops.
    RunnerStopped,
    /// Every container finished and none restarts.
    Completed,
}

/// Runs the pod in `updates` until it is deleted, completes or the runner stops.
pub(crate) async fn supervise(
    shared: Arc<Shared>,
    mut updates: watch::Receiver<Option<Pod>>,
    mut stop: watch::Receiver<bool>,
) {
    let Some(mut pod) = updates.borrow_and_update().clone() else {
        return;
    };
    let namespace = pod.namespace().unwrap_or_default();
    let name = pod.name_any();
    let api: Api<Pod> = Api::namespaced(shared.client.clone(), &namespace);

    if pod.metadata.deletion_timestamp.is_some() {
        finish_deletion(&api, &pod).await;
        return;
    }
    if is_terminal(&pod) {
        return;
    }
    if pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_none()
    {
        match bind(&api, &pod, &shared.config.node_name).await {
            Ok(()) => info!(node = %shared.config.node_name, "bound pod"),
            Err(error) => {
                warn!(error = %error, "binding failed; leaving the pod to others");
                return;
            }
        }
    }
    let Some(ip) = allocate_address(&shared, &pod) else {
        warn!("no free address in {}", shared.config.addresses);
        return;
    };
    info!(ip = %ip, "pod sandbox ready");

    let mut supervisor = Supervisor::new(shared.clone(), api, &pod, ip);
    debug_assert_eq!(supervisor.name, name);
    let ending = supervisor.run(&mut pod, &mut updates, &mut stop).await;
    let grace = grace_period(&pod);
    match ending {
        Ending::Deleted => {
            supervisor.terminate(grace).await;
            finish_deletion(&supervisor.api, &pod).await;
        }
        Ending::RunnerStopped => {
            supervisor
                .terminate(grace.min(shared.config.shutdown_grace))
                .await;
            // A stopped node's pods stay Running in the API (the node controller takes it
            // from there) unless the runner is told to fail them for their owners to replace.
            supervisor.phase_override = Some(if shared.config.fail_pods_on_shutdown {
                Phase::Failed
            } else {
                Phase::Running
            });
            supervisor.post_status().await;
        }
        Ending::Completed => supervisor.post_status().await,
    }
    supervisor.release();
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

fn grace_period(pod: &Pod) -> Duration {
    let seconds = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| {
            pod.spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
        })
        .unwrap_or(30);
    Duration::from_secs(seconds.max(0) as u64)
}

/// Binds the pod to `node` through the `pods/binding` subresource, as a scheduler does.
async fn bind(api: &Api<Pod>, pod: &Pod, node: &str) -> Result<(), Error> {
    let binding: Binding = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": { "name": pod.name_any(), "uid": pod.metadata.uid },
        "target": { "apiVersion": "v1", "kind": "Node", "name": node },
    }))
    .map_err(|e| Error::BindPod {
        pod: pod.name_any(),
        source: kube::Error::SerdeError(e),
    })?;
    api.create_subresource::<_, Value>(
        "binding",
        &pod.name_any(),
        &PostParams::default(),
        &binding,
    )
    .await
    .map_err(|source| Error::BindPod {
        pod: pod.name_any(),
        source,
    })?;
    Ok(())
}

/// The pod's earlier address when it had one (the API server never lets a pod's IP
/// change), else a fresh one where none of the container ports is taken.
fn allocate_address(shared: &Shared, pod: &Pod) -> Option<Ipv4Addr> {
    let mut pool = shared.pool.lock().unwrap_or_else(|e| e.into_inner());
    let previous = pod
        .status
        .as_ref()
        .and_then(|s| s.pod_ip.as_deref())
        .and_then(|ip| ip.parse().ok());
    if let Some(ip) = previous {
        if !pool.adopt(ip) {
            warn!(ip = %ip, "the pod's address is already in use here");
        }
        return Some(ip);
    }
    let ports: Vec<u16> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| u16::try_from(p.container_port).ok())
        .collect();
    pool.allocate(16, |ip| {
        ports
            .iter()
            .all(|port| TcpListener::bind(SocketAddr::from((ip, *port))).is_ok())
    })
}

/// Deletes the pod object for good (grace 0), as the kubelet does once its containers are gone.
async fn finish_deletion(api: &Api<Pod>, pod: &Pod) {
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&pod.name_any(), &params).await {
        Ok(_) => info!("pod deleted"),
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => debug!("pod already gone"),
        Err(error) => warn!(error = %error, "deleting the pod failed"),
    }
}

struct Supervisor {
    shared: Arc<Shared>,
    namespace: String,
    name: String,
    api: Api<Pod>,
    ip: Ipv4Addr,
    start_time: Timestamp,
    containers: Vec<ContainerRun>,
    conditions: Conditions,
    restart_policy: String,
    events_tx: mpsc::UnboundedSender<ContainerEvent>,
    events: mpsc::UnboundedReceiver<ContainerEvent>,
    posted: Option<Value>,
    post_retry_at: Instant,
    /// SIGTERM to SIGKILL when a probe kills a container: the pod's termination grace period.
    kill_grace: Duration,
    phase_override: Option<Phase>,
}

impl Supervisor {
    fn new(shared: Arc<Shared>, api: Api<Pod>, pod: &Pod, ip: Ipv4Addr) -> Self {
        let spec = pod.spec.clone().unwrap_or_default();
        let previous = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.clone())
            .unwrap_or_default();
        let backoff = shared.config.restart_backoff_initial;
        let containers = spec
            .containers
            .into_iter()
            .enumerate()
            .map(|(index, c)| {
                // A pod taken over from an earlier run counts the restart it is getting.
                let restarts = previous
                    .iter()
                    .find(|s| s.name == c.name)
                    .map_or(0, |s| s.restart_count + 1);
                ContainerRun::new(index, c, restarts, backoff)
            })
            .collect();
        let (events_tx, events) = mpsc::unbounded_channel();
        let now = Timestamp::now();
        let mut conditions = Conditions::default();
        for kind in ["PodScheduled", "PodReadyToStartContainers", "Initialized"] {
            conditions.set(kind, true, None, now);
        }
        Self {
            shared,
            namespace: pod.namespace().unwrap_or_default(),
            name: pod.name_any(),
            api,
            ip,
            start_time: now,
            containers,
            conditions,
            restart_policy: spec.restart_policy.unwrap_or_else(|| "Always".to_owned()),
            events_tx,
            events,
            posted: None,
            post_retry_at: Instant::now(),
            kill_grace: grace_period(pod),
            phase_override: None,
        }
    }

    async fn run(
        &mut self,
        pod: &mut Pod,
        updates: &mut watch::Receiver<Option<Pod>>,
        stop: &mut watch::Receiver<bool>,
    ) -> Ending {
        let mut ticker = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                changed = updates.changed() => {
                    match (changed, updates.borrow_and_update().clone()) {
                        (Ok(()), Some(latest)) => *pod = latest,
                        (Ok(()), None) => return Ending::Deleted,
                        (Err(_), _) => return Ending::RunnerStopped,
                    }
                }
                Some(event) = self.events.recv() => self.handle(event),
                _ = ticker.tick() => {}
                _ = super::stopped(stop) => return Ending::RunnerStopped,
            }
            if pod.metadata.deletion_timestamp.is_some() {
                return Ending::Deleted;
            }
            let now = Instant::now();
            for index in 0..self.containers.len() {
                self.containers[index].enforce_kill(now);
                if self.containers[index].start_at.is_some_and(|at| at <= now) {
                    self.start_container(index, pod).await;
                }
            }
            self.post_status().await;
            self.sync_target(pod);
            if self.phase() != Phase::Running && self.phase() != Phase::Pending {
                return Ending::Completed;
            }
        }
    }

    fn handle(&mut self, event: ContainerEvent) {
        let (initial, max) = (
            self.shared.config.restart_backoff_initial,
            self.shared.config.restart_backoff_max,
        );
        match event {
            ContainerEvent::Exited {
                index,
                generation,
                exit,
            } => {
                let container = &mut self.containers[index];
                if generation != container.generation {
                    return;
                }
                let restart = match self.restart_policy.as_str() {
                    "Never" => false,
                    "OnFailure" => exit.exit_code != 0,
                    _ => true,
                };
                info!(
                    container = %container.spec.name,
                    ip = %self.ip,
                    exit_code = exit.exit_code,
                    signal = ?exit.signal,
                    restart,
                    "container exited"
                );
                container.exited(exit, restart, initial, max);
            }
            ContainerEvent::Probe {
                index,
                generation,
                kind,
                ok,
            } => {
                let container = &mut self.containers[index];
                if generation != container.generation {
                    return;
                }
                if let Some(reason) = container.observe_probe(kind, ok) {
                    info!(container = %container.spec.name, ip = %self.ip, reason, "killing container");
                    container.stop(self.kill_grace);
                }
            }
        }
    }

    async fn start_container(&mut self, index: usize, pod: &Pod) {
        let shared = self.shared.clone();
        let config = &shared.config;
        let container = &mut self.containers[index];
        let image = container.spec.image.clone().unwrap_or_default();
        let Some(program) = config.images.lookup(&image) else {
            let message = format!("no --image-map entry for image {image:?}");
            warn!(container = %container.spec.name, "{message}");
            container.waiting("ErrImagePull", message, config.restart_backoff_max);
            return;
        };
        let namespace = pod.namespace().unwrap_or_default();
        let env = match envvars::fetch(&shared.client, &namespace, &container.spec).await {
            Ok(sources) => {
                let addresses = PodAddresses {
                    pod_ip: self.ip.to_string(),
                    host_ip: shared.host_ip.to_string(),
                };
                envvars::resolve(pod, &container.spec, &sources, &addresses)
                    .map_err(|e| e.to_string())
            }
            Err(error) => Err(error.to_string()),
        };
        let env = match env {
            Ok(env) => env,
            Err(message) => {
                warn!(container = %container.spec.name, error = %message, "container config error");
                container.waiting("CreateContainerConfigError", message, CONFIG_RETRY);
                return;
            }
        };
        let passed = config
            .pass_env
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|v| (name.clone(), v)))
            .collect();
        let log_file = config
            .log_dir
            .join(format!("{namespace}_{}", pod.name_any()))
            .join(format!("{}.log", container.spec.name));
        let launch = launch::build(
            &container.spec,
            LaunchContext {
                pod_name: &pod.name_any(),
                pod_ip: self.ip,
                program,
                env,
                passed,
                listen_env: &config.listen_env,
                log_file,
            },
        );
        match container.start(&launch, self.ip, &shared.http, &self.events_tx) {
            Ok(pid) => {
                info!(
                    container = %container.spec.name,
                    ip = %self.ip,
                    pid,
                    program = %launch.program.display(),
                    log = %launch.log_file.display(),
                    "container started"
                )
            }
            Err(error) => {
                warn!(container = %container.spec.name, error = %error, "starting the container failed");
                let delay = container.backoff;
                container.backoff = (delay * 2).min(config.restart_backoff_max);
                container.waiting("RunContainerError", error.to_string(), delay);
            }
        }
    }

    fn restarting(&self) -> bool {
        self.containers.iter().any(|c| c.start_at.is_some())
    }

    fn phase(&self) -> Phase {
        if let Some(phase) = self.phase_override {
            return phase;
        }
        let views: Vec<ContainerView> = self.containers.iter().map(ContainerRun::view).collect();
        Phase::of(&views, self.restarting())
    }

    /// Patches the pod status when it changed since the last successful patch.
    async fn post_status(&mut self) {
        let now = Timestamp::now();
        let all_ready = !self.containers.is_empty() && self.containers.iter().all(|c| c.ready);
        self.conditions.set("ContainersReady", all_ready, None, now);
        self.conditions.set("Ready", all_ready, None, now);
        let views: Vec<ContainerView> = self.containers.iter().map(ContainerRun::view).collect();
        let phase = self.phase();
        let patch = status_patch(&PodView {
            phase,
            pod_ip: Some(self.ip),
            host_ip: self.shared.host_ip,
            start_time: self.start_time,
            containers: &views,
            conditions: &self.conditions,
        });
        if self.posted.as_ref() == Some(&patch) || Instant::now() < self.post_retry_at {
            return;
        }
        match self
            .api
            .patch_status(
                &self.name,
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await
        {
            Ok(_) => {
                debug!(
                    phase = phase.as_str(),
                    ready = all_ready,
                    "pod status posted"
                );
                self.posted = Some(patch);
            }
            Err(error) => {
                warn!(error = %error, "posting the pod status failed");
                self.post_retry_at = Instant::now() + Duration::from_secs(1);
            }
        }
    }

    /// Keeps the pod's scrape target listed while a container runs.
    fn sync_target(&self, pod: &Pod) {
        let Some(targets) = &self.shared.targets else {
            return;
        };
        let port = metrics_port(pod);
        let running = self.containers.iter().any(ContainerRun::is_running);
        let mut targets = targets.lock().unwrap_or_else(|e| e.into_inner());
        let namespace = pod.namespace().unwrap_or_default();
        let result = match (running, port) {
            (true, Some(port)) => targets.upsert(Target {
                namespace,
                pod: pod.name_any(),
                pipeline: pod
                    .labels()
                    .get(&self.shared.config.pipeline_label)
                    .cloned(),
                address: SocketAddr::from((self.ip, port)),
            }),
            _ => targets.remove(&namespace, &pod.name_any()),
        };
        if let Err(error) = result {
            warn!(error = %error, "writing the Prometheus targets file failed");
        }
    }

    /// Stops every running container: SIGTERM, SIGKILL after `grace`, and waits for the exits.
    async fn terminate(&mut self, grace: Duration) {
        for container in &mut self.containers {
            container.start_at = None;
            container.stop(grace);
        }
        let deadline = Instant::now() + grace + Duration::from_secs(10);
        while self.containers.iter().any(ContainerRun::is_running) && Instant::now() < deadline {
            tokio::select! {
                Some(event) = self.events.recv() => {
                    if let ContainerEvent::Exited { index, generation, exit } = event
                        && generation == self.containers[index].generation
                    {
                        info!(container = %self.containers[index].spec.name, ip = %self.ip, exit_code = exit.exit_code, "container stopped");
                        self.containers[index].exited(exit, false, Duration::ZERO, Duration::ZERO);
                    }
                }
                _ = tokio::time::sleep(TICK) => {}
            }
            let now = Instant::now();
            self.containers.iter_mut().for_each(|c| c.enforce_kill(now));
        }
    }

    /// Frees the pod's address and scrape target.
    fn release(&mut self) {
        if let Some(targets) = &self.shared.targets {
            let mut targets = targets.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(error) = targets.remove(&self.namespace, &self.name) {
                warn!(error = %error, "writing the Prometheus targets file failed");
            }
        }
        self.shared
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .release(self.ip);
        info!(ip = %self.ip, "pod address released");
    }
}

/// The port Prometheus scrapes: a container port named `metrics`, else the first declared.
fn metrics_port(pod: &Pod) -> Option<u16> {
    let ports: Vec<_> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .flat_map(|c| c.ports.iter().flatten())
        .collect();
    ports
        .iter()
        .find(|p| p.name.as_deref() == Some("metrics"))
        .or(ports.first())
        .and_then(|p| u16::try_from(p.container_port).ok())
}
