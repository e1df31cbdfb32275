//! The pod runner against the real API server: a Deployment's pods are bound to the
//! runner's node, run as local processes on their own loopback addresses with the
//! environment the kubelet would give them, become Ready through their readiness probe,
//! restart after a crash, get SIGTERM when scaled away, and vanish with their namespace —
//! leaving no process behind. A stopped runner leaves its pods Running but unready, and a
//! new runner for the node restarts their containers on the same addresses.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Pod, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use spate_tests::podrunner::{AddressRange, ImageMap, PodRunner, PodRunnerConfig};
use spate_tests::{TestEnv, eventually, kube_client, unique_name};

/// How long the control plane and the runner get to act; a bound, not a measurement.
const SETTLE: Duration = Duration::from_secs(90);
const IMAGE: &str = "registry.example/spate/podrunner-http:1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployments_pods_run_as_local_processes_and_follow_scaling_and_deletion() -> Result<()> {
    let (scenario, work_dir) = Scenario::create(1).await?;
    let targets_file = work_dir.join("targets.json");
    std::fs::write(&targets_file, "[]")?;
    let mut config = scenario.runner_config();
    config.prometheus_targets_file = Some(targets_file.clone());
    config.delete_node_on_shutdown = true;
    let runner = PodRunner::start(scenario.client.clone(), config)
        .await
        .context("start the pod runner")?;

    let outcome = scenario.run(&targets_file).await;

    runner.shutdown().await;
    scenario.finish(outcome, &work_dir).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_runner_leaves_its_pods_unready_and_a_new_one_takes_them_back() -> Result<()> {
    let (scenario, work_dir) = Scenario::create(2).await?;
    let first = PodRunner::start(scenario.client.clone(), scenario.runner_config())
        .await
        .context("start the first pod runner")?;
    let outcome = async {
        scenario.create_workload(2).await?;
        let before = scenario.ready_pods(2).await?;
        first.shutdown().await;

        // The processes are gone; the pods stay, bound and Running, but not Ready.
        ensure!(
            processes_with_marker(&scenario.namespace).is_empty(),
            "processes outlived the runner"
        );
        let pods = scenario.pods().list(&ListParams::default()).await?.items;
        let mut names: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
        names.sort();
        let mut expected: Vec<String> = before.iter().map(|(n, _)| n.clone()).collect();
        expected.sort();
        ensure!(
            names == expected,
            "pods were replaced: {names:?} vs {expected:?}"
        );
        for pod in &pods {
            let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
            ensure!(
                phase.as_deref() == Some("Running") && !is_ready(pod),
                "{}",
                summary(&pods).join(", ")
            );
        }

        // A new runner for the node restarts their containers on the same addresses, even
        // with another address block of its own (a pod's IP never changes).
        let mut config = scenario.runner_config();
        config.delete_node_on_shutdown = true;
        config.addresses = format!("127.{}.200.0/24", 1 + std::process::id() % 254).parse()?;
        let second = PodRunner::start(scenario.client.clone(), config)
            .await
            .context("start the second pod runner")?;
        let after = scenario.ready_pods(2).await;
        let restarts = scenario
            .pods()
            .list(&ListParams::default())
            .await
            .map(|l| l.items.iter().filter_map(restart_count).collect::<Vec<_>>());
        Api::<Namespace>::all(scenario.client.clone())
            .delete(&scenario.namespace, &DeleteParams::default())
            .await?;
        let emptied = scenario.all_pods_gone().await;
        second.shutdown().await;
        let mut after = after?;
        after.sort();
        let mut before = before;
        before.sort();
        ensure!(
            after == before,
            "pods or addresses changed: {after:?} vs {before:?}"
        );
        ensure!(restarts? == vec![1, 1], "each container counts its restart");
        emptied
    }
    .await;
    scenario.finish(outcome, &work_dir).await
}

struct Scenario {
    client: Client,
    namespace: String,
    node: String,
    log_dir: PathBuf,
    addresses: AddressRange,
}

impl Scenario {
    /// A fresh namespace, node name and work directory; `slot` keeps the address blocks of
    /// tests running side by side apart.
    async fn create(slot: u32) -> Result<(Self, PathBuf)> {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info".into()),
            )
            .with_test_writer()
            .try_init();
        let _ = TestEnv::get();
        let client = kube_client().await?;
        let namespace = unique_name("podrunner");
        let work_dir = std::env::temp_dir().join(&namespace);
        std::fs::create_dir_all(&work_dir)?;
        spate_tests::create_namespace(&client, &namespace)
            .await
            .context("create the namespace")?;
        let addresses = format!("127.{}.{slot}.0/24", 1 + std::process::id() % 254).parse()?;
        let scenario = Scenario {
            client,
            namespace,
            node: unique_name("node"),
            log_dir: work_dir.join("pods"),
            addresses,
        };
        Ok((scenario, work_dir))
    }

    fn runner_config(&self) -> PodRunnerConfig {
        let mut images = ImageMap::default();
        images.insert("podrunner-http", script());
        let mut config = PodRunnerConfig::new(&self.node, images, &self.log_dir);
        config.namespace = Some(self.namespace.clone());
        config.addresses = self.addresses;
        config.restart_backoff_initial = Duration::from_millis(500);
        config.heartbeat_interval = Duration::from_secs(2);
        config
    }

    /// Removes what the test made and checks that no process and no node is left.
    async fn finish(&self, outcome: Result<()>, work_dir: &Path) -> Result<()> {
        let _ = Api::<Namespace>::all(self.client.clone())
            .delete(&self.namespace, &DeleteParams::default())
            .await;
        let leftovers = processes_with_marker(&self.namespace);
        let node_left = Api::<Node>::all(self.client.clone())
            .get_opt(&self.node)
            .await?;
        outcome?;
        ensure!(
            leftovers.is_empty(),
            "processes outlived the runner: {leftovers:?}"
        );
        ensure!(node_left.is_none(), "the node was not removed on shutdown");
        std::fs::remove_dir_all(work_dir)?;
        Ok(())
    }

    async fn all_pods_gone(&self) -> Result<()> {
        eventually("every pod removed", SETTLE, || async {
            let pods = self
                .pods()
                .list(&ListParams::default())
                .await
                .map_err(|e| e.to_string())?;
            pods.items
                .is_empty()
                .then_some(())
                .ok_or(format!("{} pods left", pods.items.len()))
        })
        .await?;
        Ok(())
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn run(&self, targets_file: &Path) -> Result<()> {
        self.create_workload(3).await?;
        // A pod whose image has no local program is left for another node.
        let stranger: Pod = serde_json::from_value(json!({
            "metadata": { "name": "stranger" },
            "spec": { "containers": [{ "name": "c", "image": "registry.example/nginx:1" }] },
        }))?;
        self.pods()
            .create(&PostParams::default(), &stranger)
            .await?;

        // Bound, Running, Ready through the probe, on distinct loopback addresses, reachable.
        let ready = self.ready_pods(3).await?;
        let ips: BTreeSet<Ipv4Addr> = ready.iter().map(|(_, ip)| *ip).collect();
        ensure!(ips.len() == 3, "pods share addresses: {ready:?}");
        for (name, ip) in &ready {
            ensure!(
                ip.is_loopback() && *ip != Ipv4Addr::LOCALHOST,
                "{name} got {ip}"
            );
            let env = http_get(*ip, "/env.txt").await?;
            for expected in [
                format!("POD_IP={ip}"),
                "GREETING=hello".into(),
                "TOKEN=s3cret".into(),
                format!("HOSTNAME={name}"),
            ] {
                ensure!(
                    env.lines().any(|l| l == expected),
                    "{name} lacks {expected:?} in its environment:\n{env}"
                );
            }
            ensure!(
                env.lines().any(|l| l == "GREETING_AGAIN=hello!"),
                "$(VAR) not expanded:\n{env}"
            );
        }
        let stranger = self.pods().get("stranger").await?;
        ensure!(
            stranger.spec.and_then(|s| s.node_name).is_none(),
            "a pod with an unmapped image was bound"
        );
        let node = Api::<Node>::all(self.client.clone())
            .get(&self.node)
            .await?;
        let node_ready = node.status.and_then(|s| s.conditions).unwrap_or_default();
        ensure!(
            node_ready
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True"),
            "node not Ready"
        );

        // The Prometheus targets list the three pods.
        let listed = eventually("three scrape targets", SETTLE, || async {
            let groups: Vec<serde_json::Value> =
                serde_json::from_slice(&std::fs::read(targets_file).map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            let targets: BTreeSet<String> = groups
                .iter()
                .filter_map(|g| g["targets"][0].as_str().map(str::to_owned))
                .collect();
            let pipelines = groups.iter().all(|g| {
                g["labels"]["pipeline"] == "web" && g["labels"]["namespace"] == self.namespace
            });
            (targets.len() == 3 && pipelines)
                .then_some(targets)
                .ok_or(format!("{groups:?}"))
        })
        .await?;
        ensure!(
            listed == ips.iter().map(|ip| format!("{ip}:9464")).collect(),
            "targets {listed:?} vs {ips:?}"
        );

        // A crashed container is restarted in place: same pod, same address, restartCount 1.
        let (crashed, crashed_ip) = ready[0].clone();
        let server_pid: i32 = http_get(crashed_ip, "/server.pid").await?.trim().parse()?;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(server_pid),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        eventually(
            "the crashed container restarted and Ready again",
            SETTLE,
            || async {
                let pod = self.pods().get(&crashed).await.map_err(|e| e.to_string())?;
                let restarts = restart_count(&pod);
                let new_pid = http_get(crashed_ip, "/server.pid")
                    .await
                    .map_err(|e| e.to_string())?;
                (restarts == Some(1) && is_ready(&pod) && new_pid.trim() != server_pid.to_string())
                    .then_some(())
                    .ok_or(format!("restarts {restarts:?}, ready {}", is_ready(&pod)))
            },
        )
        .await?;

        // A failing liveness probe gets the container stopped (SIGTERM first) and restarted.
        self.create_sick().await?;
        let sick = eventually("the unhealthy container restarted", SETTLE, || async {
            let pods = self
                .pods()
                .list(&ListParams::default().labels("app=sick"))
                .await
                .map_err(|e| e.to_string())?;
            let restarts = pods.items.first().and_then(restart_count);
            match (pods.items.first(), restarts) {
                (Some(pod), Some(n)) if n >= 1 => Ok(pod.name_any()),
                _ => Err(format!("restarts {restarts:?}")),
            }
        })
        .await?;
        let log = std::fs::read_to_string(
            self.log_dir
                .join(format!("{}_{sick}", self.namespace))
                .join("http.log"),
        )?;
        ensure!(
            log.contains("received SIGTERM"),
            "the unhealthy container was not sent SIGTERM:\n{log}"
        );

        // Scaled down: the extra pods get SIGTERM, exit, and their objects disappear.
        self.scale(1).await?;
        let remaining = eventually("one pod left", SETTLE, || async {
            let pods = self
                .pods()
                .list(&ListParams::default().labels("app=web"))
                .await
                .map_err(|e| e.to_string())?;
            let names: Vec<String> = pods.items.iter().map(|p| p.name_any()).collect();
            (names.len() == 1)
                .then(|| names[0].clone())
                .ok_or(format!("{names:?}"))
        })
        .await?;
        for (name, ip) in ready.iter().filter(|(name, _)| *name != remaining) {
            let log = std::fs::read_to_string(
                self.log_dir
                    .join(format!("{}_{name}", self.namespace))
                    .join("http.log"),
            )?;
            ensure!(
                log.contains("received SIGTERM"),
                "{name} was not sent SIGTERM; its log:\n{log}"
            );
            ensure!(
                http_get(*ip, "/").await.is_err(),
                "{name} still answers on {ip}"
            );
        }

        // Scaled up again: a new pod on a fresh address.
        self.scale(2).await?;
        let again = self.ready_pods(2).await?;
        ensure!(
            again.iter().any(|(name, _)| *name == remaining),
            "the surviving pod was replaced: {again:?}"
        );

        // The namespace goes: every pod is stopped and removed by the runner.
        Api::<Namespace>::all(self.client.clone())
            .delete(&self.namespace, &DeleteParams::default())
            .await?;
        self.all_pods_gone().await?;
        ensure!(
            processes_with_marker(&self.namespace).is_empty(),
            "processes left after the namespace went"
        );
        Ok(())
    }

    async fn create_workload(&self, replicas: i32) -> Result<()> {
        let pp = PostParams::default();
        let config_map: ConfigMap = serde_json::from_value(
            json!({ "metadata": { "name": "web-config" }, "data": { "GREETING": "hello" } }),
        )?;
        Api::<ConfigMap>::namespaced(self.client.clone(), &self.namespace)
            .create(&pp, &config_map)
            .await?;
        let secret: Secret = serde_json::from_value(
            json!({ "metadata": { "name": "web-secret" }, "stringData": { "token": "s3cret" } }),
        )?;
        Api::<Secret>::namespaced(self.client.clone(), &self.namespace)
            .create(&pp, &secret)
            .await?;
        let labels = json!({ "app": "web", "app.kubernetes.io/instance": "web" });
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": { "name": "web" },
            "spec": {
                "replicas": replicas,
                "selector": { "matchLabels": labels },
                "template": {
                    "metadata": { "labels": labels },
                    "spec": {
                        "terminationGracePeriodSeconds": 10,
                        "containers": [{
                            "name": "http",
                            "image": IMAGE,
                            "ports": [{ "name": "metrics", "containerPort": 9464 }],
                            "envFrom": [{ "configMapRef": { "name": "web-config" } }],
                            "env": [
                                { "name": "PORT", "value": "9464" },
                                { "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
                                { "name": "TOKEN", "valueFrom": { "secretKeyRef": { "name": "web-secret", "key": "token" } } },
                                { "name": "GREETING_AGAIN", "value": "$(GREETING)!" },
                                { "name": "PODRUNNER_TEST_RUN", "value": self.namespace },
                            ],
                            "readinessProbe": { "httpGet": { "path": "/", "port": "metrics" }, "periodSeconds": 1 },
                            "livenessProbe": { "tcpSocket": { "port": 9464 }, "periodSeconds": 2, "failureThreshold": 5 },
                        }],
                    },
                },
            },
        }))?;
        Api::<Deployment>::namespaced(self.client.clone(), &self.namespace)
            .create(&pp, &deployment)
            .await?;
        Ok(())
    }

    /// A Deployment whose liveness probe asks for a page its server does not have.
    async fn create_sick(&self) -> Result<()> {
        let labels = json!({ "app": "sick" });
        let deployment: Deployment = serde_json::from_value(json!({
            "metadata": { "name": "sick" },
            "spec": {
                "replicas": 1,
                "selector": { "matchLabels": labels },
                "template": {
                    "metadata": { "labels": labels },
                    "spec": {
                        "terminationGracePeriodSeconds": 5,
                        "containers": [{
                            "name": "http",
                            "image": IMAGE,
                            "ports": [{ "containerPort": 9464 }],
                            "env": [
                                { "name": "PORT", "value": "9464" },
                                { "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
                                { "name": "PODRUNNER_TEST_RUN", "value": self.namespace },
                            ],
                            "livenessProbe": {
                                "httpGet": { "path": "/missing", "port": 9464 },
                                "initialDelaySeconds": 1, "periodSeconds": 1, "failureThreshold": 2,
                            },
                        }],
                    },
                },
            },
        }))?;
        Api::<Deployment>::namespaced(self.client.clone(), &self.namespace)
            .create(&PostParams::default(), &deployment)
            .await?;
        Ok(())
    }

    async fn scale(&self, replicas: i32) -> Result<()> {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        let patch = json!({ "spec": { "replicas": replicas } });
        deployments
            .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// Waits until exactly `count` pods exist, all bound to the runner's node, Running,
    /// Ready and answering HTTP on their pod IP; returns their names and addresses.
    async fn ready_pods(&self, count: usize) -> Result<Vec<(String, Ipv4Addr)>> {
        let found = eventually(&format!("{count} ready pods"), SETTLE, || async {
            let pods = self
                .pods()
                .list(&ListParams::default().labels("app=web"))
                .await
                .map_err(|e| e.to_string())?;
            let mut ready = Vec::new();
            for pod in &pods.items {
                let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
                let status = pod.status.clone().unwrap_or_default();
                let ip: Option<Ipv4Addr> = status.pod_ip.as_deref().and_then(|ip| ip.parse().ok());
                let (Some(node), Some("Running"), Some(ip)) = (node, status.phase.as_deref(), ip)
                else {
                    continue;
                };
                let serving = node == self.node
                    && is_ready(pod)
                    && pod.metadata.deletion_timestamp.is_none()
                    && http_get(ip, "/").await.is_ok();
                if serving {
                    ready.push((pod.name_any(), ip));
                }
            }
            (ready.len() == count && pods.items.len() == count)
                .then_some(ready)
                .ok_or_else(|| {
                    format!(
                        "{} pods, ready: {:?}",
                        pods.items.len(),
                        summary(&pods.items)
                    )
                })
        })
        .await?;
        Ok(found)
    }
}

/// Restarts of the pod's (single) container, once it has a status.
fn restart_count(pod: &Pod) -> Option<i32> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()
        .map(|c| c.restart_count)
}

fn is_ready(pod: &Pod) -> bool {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn summary(pods: &[Pod]) -> Vec<String> {
    pods.iter()
        .map(|p| {
            let status = p.status.clone().unwrap_or_default();
            format!(
                "{} {:?} {:?} ready={}",
                p.name_any(),
                status.phase,
                status.pod_ip,
                is_ready(p)
            )
        })
        .collect()
}

async fn http_get(ip: Ipv4Addr, path: &str) -> Result<String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()?;
    let response = client.get(format!("http://{ip}:9464{path}")).send().await?;
    if !response.status().is_success() {
        bail!("GET {path} on {ip}: {}", response.status());
    }
    Ok(response.text().await?)
}

/// Processes of this machine whose environment carries the test's marker.
fn processes_with_marker(marker: &str) -> Vec<u32> {
    let needle = format!("PODRUNNER_TEST_RUN={marker}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            environ
                .split(|b| *b == 0)
                .any(|var| var == needle.as_bytes())
        })
        .collect()
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/podrunner/http-pod.sh")
}
