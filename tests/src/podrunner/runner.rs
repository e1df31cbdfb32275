//! The runner's main loop: watch the pods in scope, hand each pod that is unbound or bound
//! to this node to its own supervising task, and on stop wind every pod down.

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{Instrument, info, warn};

use super::address::AddressPool;
use super::config::PodRunnerConfig;
use super::targets::TargetsFile;
use super::{Error, claim, node, pod};

/// What every pod task shares.
pub(crate) struct Shared {
    pub client: Client,
    pub config: PodRunnerConfig,
    pub host_ip: Ipv4Addr,
    pub pool: Mutex<AddressPool>,
    pub targets: Option<Mutex<TargetsFile>>,
    pub http: reqwest::Client,
}

impl Shared {
    pub fn new(client: Client, config: PodRunnerConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(Error::BuildHttpClient)?;
        let targets = config
            .prometheus_targets_file
            .clone()
            .map(|path| Mutex::new(TargetsFile::new(path, config.node_name.clone())));
        Ok(Self {
            client,
            pool: Mutex::new(AddressPool::new(config.addresses)),
            targets,
            config,
            host_ip: Ipv4Addr::LOCALHOST,
            http,
        })
    }
}

/// Runs until `stop` turns true, then stops every pod and (if configured) removes the node.
pub(crate) async fn run(shared: Arc<Shared>, started: Timestamp, mut stop: watch::Receiver<bool>) {
    let config = &shared.config;
    let heartbeat = tokio::spawn(node::keep_alive(
        shared.client.clone(),
        config.node_name.clone(),
        shared.host_ip,
        started,
        config.heartbeat_interval,
        stop.clone(),
    ));
    let api: Api<Pod> = match &config.namespace {
        Some(namespace) => Api::namespaced(shared.client.clone(), namespace),
        None => Api::all(shared.client.clone()),
    };
    let mut watch_config = watcher::Config::default();
    if let Some(selector) = &config.label_selector {
        watch_config = watch_config.labels(selector);
    }
    let mut events = std::pin::pin!(watcher::watcher(api, watch_config).default_backoff());
    let (pods_stop_tx, pods_stop) = watch::channel(false);
    let mut pods: HashMap<String, watch::Sender<Option<Pod>>> = HashMap::new();
    let mut tasks: JoinSet<String> = JoinSet::new();
    let mut relisted: Option<HashSet<String>> = None;
    info!(node = %config.node_name, addresses = %config.addresses, "pod runner watching pods");

    loop {
        tokio::select! {
            _ = super::stopped(&mut stop) => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(uid) = done {
                    pods.remove(&uid);
                }
            }
            event = events.next() => match event {
                Some(Ok(Event::Init)) => relisted = Some(HashSet::new()),
                Some(Ok(Event::InitApply(pod))) => {
                    if let Some(seen) = &mut relisted {
                        seen.insert(pod.uid().unwrap_or_default());
                    }
                    dispatch(&shared, &mut pods, &mut tasks, &pods_stop, pod);
                }
                Some(Ok(Event::InitDone)) => {
                    // Pods that vanished while the watch was down.
                    let seen = relisted.take().unwrap_or_default();
                    for (uid, updates) in &pods {
                        if !seen.contains(uid) {
                            updates.send_replace(None);
                        }
                    }
                }
                Some(Ok(Event::Apply(pod))) => dispatch(&shared, &mut pods, &mut tasks, &pods_stop, pod),
                Some(Ok(Event::Delete(pod))) => {
                    if let Some(updates) = pods.get(&pod.uid().unwrap_or_default()) {
                        updates.send_replace(None);
                    }
                }
                Some(Err(error)) => warn!(error = %error, "pod watch failed; retrying"),
                None => break,
            },
        }
    }

    info!(pods = pods.len(), "pod runner stopping");
    pods_stop_tx.send_replace(true);
    while tasks.join_next().await.is_some() {}
    heartbeat.abort();
    if config.delete_node_on_shutdown
        && let Err(error) = node::unregister(&shared.client, &config.node_name).await
    {
        warn!(error = %error, "removing the node failed");
    }
    info!(node = %config.node_name, "pod runner stopped");
}

/// Hands `pod` to its task, starting one for a pod this node should run.
fn dispatch(
    shared: &Arc<Shared>,
    pods: &mut HashMap<String, watch::Sender<Option<Pod>>>,
    tasks: &mut JoinSet<String>,
    stop: &watch::Receiver<bool>,
    pod: Pod,
) {
    let uid = pod.uid().unwrap_or_default();
    if let Some(updates) = pods.get(&uid) {
        updates.send_replace(Some(pod));
        return;
    }
    let config = &shared.config;
    if !claim::should_claim(
        &pod,
        &config.node_name,
        &config.images,
        config.claim_unmapped,
    ) {
        return;
    }
    let span = tracing::info_span!("pod", namespace = %pod.namespace().unwrap_or_default(), pod = %pod.name_any());
    let (updates, receiver) = watch::channel(Some(pod));
    pods.insert(uid.clone(), updates);
    let task = pod::supervise(shared.clone(), receiver, stop.clone());
    tasks.spawn(
        async move {
            task.await;
            uid
        }
        .instrument(span),
    );
}
