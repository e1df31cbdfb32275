//! Status conditions: what a pipeline's state means, and merging without churn.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// The condition saying every desired consumer pod is ready.
pub const READY: &str = "Ready";
/// The condition saying the Deployment is rolling out or scaling.
pub const PROGRESSING: &str = "Progressing";
/// The condition saying something needs a person: a bad spec, a missing Secret, a stuck rollout.
pub const DEGRADED: &str = "Degraded";
/// kstatus' abnormal-true condition for work in progress (mirrors Progressing), read by
/// Flux and other kstatus-based tools.
pub const RECONCILING: &str = "Reconciling";
/// kstatus' abnormal-true condition for a pipeline that cannot progress until something
/// changes: an invalid spec, a missing Secret, a rollout past its deadline or a replica
/// failure.
pub const STALLED: &str = "Stalled";

/// A condition without its timestamps, as the reconciler decides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Want {
    /// Ready, Progressing or Degraded.
    pub type_: &'static str,
    /// True or False.
    pub status: bool,
    /// A PascalCase reason.
    pub reason: &'static str,
    /// A sentence for people.
    pub message: String,
}

impl Want {
    /// A condition of `type_` with `status`, `reason` and `message`.
    pub fn new(
        type_: &'static str,
        status: bool,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            type_,
            status,
            reason,
            message: message.into(),
        }
    }
}

fn status_str(status: bool) -> &'static str {
    if status { "True" } else { "False" }
}

/// Merges the wanted conditions into the existing ones: `lastTransitionTime` moves only
/// when the status flips; reason, message and observedGeneration always follow.
pub fn merge(
    existing: &[Condition],
    wanted: &[Want],
    generation: Option<i64>,
    now: &Time,
) -> Vec<Condition> {
    wanted
        .iter()
        .map(|w| {
            let previous = existing.iter().find(|c| c.type_ == w.type_);
            let status = status_str(w.status);
            let last_transition_time = match previous {
                Some(p) if p.status == status => p.last_transition_time.clone(),
                _ => now.clone(),
            };
            Condition {
                type_: w.type_.into(),
                status: status.into(),
                reason: w.reason.into(),
                message: w.message.clone(),
                observed_generation: generation,
                last_transition_time,
            }
        })
        .collect()
}

/// The condition of `type_`, if present and True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn transition_time_moves_only_when_the_status_flips() {
        let first = merge(
            &[],
            &[Want::new(READY, false, "PodsNotReady", "0/1 pods ready")],
            Some(1),
            &at(100),
        );
        assert_eq!(first[0].last_transition_time, at(100));

        let same = merge(
            &first,
            &[Want::new(READY, false, "PodsNotReady", "0/2 pods ready")],
            Some(2),
            &at(200),
        );
        assert_eq!(same[0].last_transition_time, at(100));
        assert_eq!(
            (same[0].message.as_str(), same[0].observed_generation),
            ("0/2 pods ready", Some(2))
        );

        let flipped = merge(
            &same,
            &[Want::new(READY, true, "AllPodsReady", "2/2 pods ready")],
            Some(2),
            &at(300),
        );
        assert_eq!(flipped[0].last_transition_time, at(300));
        assert!(is_true(&flipped, READY));
    }
}
