//! What every reconcile shares: the client, the event recorder, metrics, leadership.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use tokio::sync::watch;
use tracing::warn;

use crate::build::ControlTrust;
use crate::metrics::Metrics;

/// Settings of the reconciler.
#[derive(Clone, Debug)]
pub struct ReconcilerConfig {
    /// The consumer image used when a pipeline names none.
    pub default_image: String,
    /// How often a healthy pipeline is reconciled again without any change.
    pub resync: Duration,
    /// The operator's ServiceAccount (`system:serviceaccount:<ns>:<name>`), whose tokens
    /// the consumers' control endpoint accepts; the endpoint stays closed without it.
    pub control_subject: Option<String>,
}

/// Shared state of the reconciler.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// Publishes Kubernetes Events about pipelines.
    pub recorder: Recorder,
    /// The operator's metrics.
    pub metrics: Metrics,
    /// Reconciler settings.
    pub config: ReconcilerConfig,
    /// Whether this instance holds the Lease; writes happen only while it does.
    pub leader: watch::Receiver<bool>,
    /// Asks the consumer pods why they are not ready.
    pub http: reqwest::Client,
    failures: Mutex<HashMap<String, u32>>,
    /// The consumers' control trust, read once per resync.
    control: Mutex<Option<(Instant, ControlTrust)>>,
}

impl Context {
    /// A context whose Events name `identity` as the reporting instance.
    pub fn new(
        client: Client,
        identity: &str,
        metrics: Metrics,
        config: ReconcilerConfig,
        leader: watch::Receiver<bool>,
    ) -> Self {
        let reporter = Reporter {
            controller: "spate-operator".into(),
            instance: Some(identity.into()),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            config,
            leader,
            http: crate::inspect::http_client(),
            failures: Mutex::new(HashMap::new()),
            control: Mutex::new(None),
        }
    }

    /// What the consumers' control endpoint trusts: the issuer's keys for the operator's
    /// ServiceAccount, re-read after a resync period; `None` without a ServiceAccount
    /// (an operator run outside the cluster) or while the issuer cannot be read.
    pub async fn control_trust(&self) -> Option<ControlTrust> {
        let subject = self.config.control_subject.as_deref()?;
        {
            let cached = self.control.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, trust)) = cached.as_ref()
                && at.elapsed() < self.config.resync
            {
                return Some(trust.clone());
            }
        }
        match crate::issuer::control_trust(&self.client, subject).await {
            Ok(trust) => {
                *self.control.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((Instant::now(), trust.clone()));
                Some(trust)
            }
            Err(error) => {
                warn!(%error, "the consumers' control endpoint stays as it was: the issuer's keys are unreadable");
                self.control
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .map(|(_, t)| t.clone())
            }
        }
    }

    /// Whether this instance may write now.
    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Records a failure of `key` and returns the backoff before the next attempt
    /// (1 s, 2 s, 4 s … up to 5 min).
    pub fn backoff(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(key.to_string()).or_insert(0);
        *n = n.saturating_add(1);
        backoff_after(*n)
    }

    /// Forgets the failures of `key` after a successful reconcile.
    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// The delay after `failures` consecutive failures.
pub fn backoff_after(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(9)).min(Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::backoff_after;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let secs: Vec<u64> = (1..=11).map(|n| backoff_after(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(backoff_after(u32::MAX), Duration::from_secs(300));
    }
}
