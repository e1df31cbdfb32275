//! Leader election on a coordination.k8s.io Lease: only the holder reconciles and writes.
//!
//! The holder renews every `renew_every`; a candidate takes the Lease once it has not
//! been renewed for `duration`. With the defaults (10 s, 2 s) a dead holder is replaced
//! within 12 s plus one API round trip. Writes go through optimistic concurrency
//! (`resourceVersion`), so two candidates never both win.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// Where the Lease lives and who this instance is.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    /// The Lease's namespace.
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This instance's identity (the pod name in a cluster).
    pub identity: String,
    /// How long a Lease holds without renewal.
    pub duration: Duration,
    /// How often the holder renews and a candidate retries.
    pub renew_every: Duration,
}

impl LeaseConfig {
    /// The defaults: 10 s lease, renewed every 2 s.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            duration: Duration::from_secs(10),
            renew_every: Duration::from_secs(2),
        }
    }
}

/// What to do with the Lease as found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// We hold it: renew.
    Renew,
    /// Nobody holds it, or the holder stopped renewing: take it.
    Take,
    /// Another instance holds it and renews it.
    Wait { holder: String },
}

/// Decides from the Lease spec, our identity and the time.
pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> Step {
    let Some(spec) = spec else { return Step::Take };
    match spec.holder_identity.as_deref() {
        None | Some("") => Step::Take,
        Some(holder) if holder == identity => Step::Renew,
        Some(holder) => {
            let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(0));
            let renewed = spec
                .renew_time
                .as_ref()
                .or(spec.acquire_time.as_ref())
                .map(|t| t.0);
            match renewed {
                Some(at) if at + SignedDuration::from_secs(seconds) > now => Step::Wait {
                    holder: holder.into(),
                },
                _ => Step::Take,
            }
        }
    }
}

/// The Lease spec after `step` by `identity` at `now`.
fn next_spec(old: Option<&LeaseSpec>, step: &Step, cfg: &LeaseConfig, now: Timestamp) -> LeaseSpec {
    let mut spec = old.cloned().unwrap_or_default();
    if *step == Step::Take {
        spec.holder_identity = Some(cfg.identity.clone());
        spec.acquire_time = Some(MicroTime(now));
        spec.lease_transitions =
            Some(spec.lease_transitions.unwrap_or(0) + i32::from(old.is_some()));
    }
    spec.lease_duration_seconds = Some(i32::try_from(cfg.duration.as_secs()).unwrap_or(i32::MAX));
    spec.renew_time = Some(MicroTime(now));
    spec
}

/// Takes part in the election until `stop` resolves; `leader` says whether we hold the Lease.
pub async fn run(
    api: Api<Lease>,
    cfg: LeaseConfig,
    leader: watch::Sender<bool>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut last_renewed: Option<tokio::time::Instant> = None;
    loop {
        match try_once(&api, &cfg).await {
            Ok(true) => {
                if !*leader.borrow() {
                    info!(identity = %cfg.identity, lease = %cfg.name, "acquired the lease");
                }
                last_renewed = Some(tokio::time::Instant::now());
                leader.send_replace(true);
            }
            Ok(false) => {
                if *leader.borrow() {
                    warn!(identity = %cfg.identity, "lost the lease");
                }
                leader.send_replace(false);
            }
            Err(error) => {
                warn!(identity = %cfg.identity, %error, "lease update failed");
                // Step down before another instance may legally take over.
                let stale =
                    last_renewed.is_none_or(|t| t.elapsed() + cfg.renew_every >= cfg.duration);
                if stale {
                    leader.send_replace(false);
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(cfg.renew_every) => {}
            () = &mut stop => break,
        }
    }
    if *leader.borrow() {
        leader.send_replace(false);
        release(&api, &cfg).await;
    }
}

/// One election round: `Ok(true)` when we hold the Lease afterwards.
async fn try_once(api: &Api<Lease>, cfg: &LeaseConfig) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
    let current = api.get_opt(&cfg.name).await?;
    let step = decide(
        current.as_ref().and_then(|l| l.spec.as_ref()),
        &cfg.identity,
        now,
    );
    if let Step::Wait { holder } = &step {
        debug!(identity = %cfg.identity, %holder, "lease held by another instance");
        return Ok(false);
    }
    let spec = next_spec(
        current.as_ref().and_then(|l| l.spec.as_ref()),
        &step,
        cfg,
        now,
    );
    let result = match current {
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(cfg.name.clone()),
                    namespace: Some(cfg.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec),
            };
            api.create(&PostParams::default(), &lease).await
        }
        Some(mut lease) => {
            lease.spec = Some(spec);
            api.replace(&cfg.name, &PostParams::default(), &lease).await
        }
    };
    match result {
        Ok(_) => Ok(true),
        // Another candidate wrote first (resourceVersion or name conflict).
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives the Lease up on a clean shutdown so the next instance takes over at once.
async fn release(api: &Api<Lease>, cfg: &LeaseConfig) {
    let Ok(Some(mut lease)) = api.get_opt(&cfg.name).await else {
        return;
    };
    if let Some(spec) = lease
        .spec
        .as_mut()
        .filter(|s| s.holder_identity.as_deref() == Some(&cfg.identity))
    {
        spec.holder_identity = None;
        spec.renew_time = None;
        match api.replace(&cfg.name, &PostParams::default(), &lease).await {
            Ok(_) => info!(identity = %cfg.identity, "released the lease"),
            Err(error) => warn!(identity = %cfg.identity, %error, "releasing the lease failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(holder: &str, renewed_at: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(10),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed_at).unwrap())),
            ..LeaseSpec::default()
        }
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn a_free_or_missing_lease_is_taken() {
        assert_eq!(decide(None, "b", t(0)), Step::Take);
        let mut free = held_by("a", 0);
        free.holder_identity = None;
        assert_eq!(decide(Some(&free), "b", t(1)), Step::Take);
    }

    #[test]
    fn the_holder_renews_and_others_wait_until_it_expires() {
        let lease = held_by("a", 100);
        assert_eq!(decide(Some(&lease), "a", t(105)), Step::Renew);
        assert_eq!(
            decide(Some(&lease), "b", t(109)),
            Step::Wait { holder: "a".into() }
        );
        assert_eq!(decide(Some(&lease), "b", t(110)), Step::Take);
    }

    #[test]
    fn a_dead_holder_is_replaced_within_fifteen_seconds() {
        // The holder renews every 2 s; it dies just after renewing at t=100. A candidate
        // polling every 2 s, at any phase, takes over by 100 + 10 + 2.
        let cfg = LeaseConfig::new("ns", "l", "b");
        let lease = held_by("a", 100);
        for phase in 0..2 {
            let taken_at = (100..200)
                .filter(|s| (s - 100) % 2 == phase)
                .find(|s| decide(Some(&lease), "b", t(*s)) == Step::Take)
                .unwrap();
            let bound = 100 + cfg.duration.as_secs() as i64 + cfg.renew_every.as_secs() as i64;
            assert!(taken_at <= bound && bound <= 115, "taken at {taken_at}");
        }
    }

    #[test]
    fn taking_counts_a_transition_and_renewing_does_not() {
        let cfg = LeaseConfig::new("ns", "l", "b");
        let old = held_by("a", 0);
        let taken = next_spec(Some(&old), &Step::Take, &cfg, t(20));
        assert_eq!(
            (taken.holder_identity.as_deref(), taken.lease_transitions),
            (Some("b"), Some(1))
        );
        let renewed = next_spec(Some(&taken), &Step::Renew, &cfg, t(22));
        assert_eq!(
            (renewed.lease_transitions, renewed.renew_time),
            (Some(1), Some(MicroTime(t(22))))
        );
    }
}
