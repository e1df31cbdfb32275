//! The operator as a whole: lease election, and the controller while this instance leads.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Client;
use kube::api::Api;
use tokio::sync::watch;
use tracing::info;

use crate::context::{Context, ReconcilerConfig};
use crate::lease::{self, LeaseConfig};
use crate::metrics::Metrics;

/// A task that runs only while this instance leads (the autoscaler's loop, for one);
/// it is dropped when leadership is lost.
pub type LeaderTask = Box<dyn Fn(Arc<Context>) -> BoxFuture<'static, ()> + Send + Sync>;

/// Settings of one operator instance.
pub struct OperatorConfig {
    /// The Lease this instance competes for, and its identity.
    pub lease: LeaseConfig,
    /// Watch only these namespaces; all namespaces when empty.
    pub watch_namespaces: Vec<String>,
    /// Reconciler settings.
    pub reconciler: ReconcilerConfig,
    /// Tasks started next to the controller while this instance leads.
    pub leader_tasks: Vec<LeaderTask>,
}

impl OperatorConfig {
    /// An instance named `identity` using the Lease `spate-operator` in `lease_namespace`.
    pub fn new(identity: &str, lease_namespace: &str, default_image: &str) -> Self {
        Self {
            lease: LeaseConfig::new(lease_namespace, "spate-operator", identity),
            watch_namespaces: Vec::new(),
            reconciler: ReconcilerConfig {
                default_image: default_image.into(),
                resync: Duration::from_secs(300),
                control_subject: None,
            },
            leader_tasks: Vec::new(),
        }
    }
}

/// Runs one operator instance until `shutdown` resolves, then releases the Lease.
/// `leader` reports whether the instance leads; `metrics` collects its figures.
pub async fn run(
    client: Client,
    cfg: OperatorConfig,
    metrics: Metrics,
    leader: watch::Sender<bool>,
    shutdown: impl Future<Output = ()>,
) {
    let leases: Api<Lease> = Api::namespaced(client.clone(), &cfg.lease.namespace);
    let identity = cfg.lease.identity.clone();
    let ctx = Arc::new(Context::new(
        client,
        &identity,
        metrics.clone(),
        cfg.reconciler.clone(),
        leader.subscribe(),
    ));
    let mut leading = leader.subscribe();
    let election = lease::run(leases, cfg.lease.clone(), leader, shutdown);
    let namespaces: Vec<Option<String>> = if cfg.watch_namespaces.is_empty() {
        vec![None]
    } else {
        cfg.watch_namespaces.iter().cloned().map(Some).collect()
    };
    let work = async move {
        loop {
            if leading.wait_for(|l| *l).await.is_err() {
                return;
            }
            info!(%identity, "leading: starting the controller");
            metrics.leader.set(1);
            let tasks = cfg.leader_tasks.iter().map(|t| t(ctx.clone()));
            let controllers = namespaces
                .iter()
                .map(|ns| crate::reconcile::controller::run(ctx.clone(), ns.as_deref()));
            let lead = futures::future::join(
                futures::future::join_all(controllers),
                futures::future::join_all(tasks),
            );
            tokio::select! {
                _ = lead => {}
                _ = leading.wait_for(|l| !*l) => {}
            }
            metrics.leader.set(0);
            info!(%identity, "not leading: controller stopped");
        }
    };
    tokio::select! {
        () = election => {}
        () = work => {}
    }
}
