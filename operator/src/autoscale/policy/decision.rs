//! A decision of the policy: the size to run, and why.

use std::fmt;

use super::observations::PolicyState;

/// Why the policy decided what it did (an Event reason, a status field and a metric label).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Autoscaling is off; the size is left alone.
    Disabled,
    /// The size is outside the configured bounds, or beyond what the partitions can use.
    OutOfBounds,
    /// The consumer group rebalanced recently; its rates are not trustworthy yet.
    RebalanceSettling,
    /// A signal the sizing needs is missing.
    MissingSignals,
    /// Less capacity would do, but a signal is stale or missing: never scale in blind.
    StaleSignals,
    /// Neither a measured service rate nor a hint is known.
    UnknownServiceRate,
    /// QuestDB's latency rose and throughput did not follow the last scale-up.
    SinkSaturated,
    /// More capacity is wanted but has not been wanted long enough yet.
    ScaleUpPending,
    /// More workers per pod, live, without a rebalance.
    ScaleUpWorkers,
    /// More pods (and possibly a new worker count).
    ScaleUpReplicas,
    /// More pods, kept in reserve so that a surge of `surgeFactor` × the recent arrival rate
    /// is absorbed by raising the workers of running pods (live) instead of waiting for pods.
    SurgeReserve,
    /// A scheduled window (`autoscaling.schedules`) holds more capacity than runs.
    Scheduled,
    /// More capacity is wanted, but the bounds or the partitions allow no more.
    AtMaximum,
    /// Less capacity would do, but a backlog remains.
    BacklogNotDrained,
    /// Less capacity would do, but the arrival rate is not calm (rising, falling fast, bursting).
    RateNotCalm,
    /// Less capacity would do, but pods are still starting.
    PodsNotReady,
    /// Less capacity would do; waiting for it to hold for the dwell time.
    ScaleDownPending,
    /// Fewer workers per pod, live.
    ScaleDownWorkers,
    /// Fewer pods.
    ScaleDownReplicas,
    /// The size fits the load.
    Steady,
}

impl Reason {
    /// The reason in UpperCamelCase, as Kubernetes Event reasons are written.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Disabled => "Disabled",
            Reason::OutOfBounds => "OutOfBounds",
            Reason::RebalanceSettling => "RebalanceSettling",
            Reason::MissingSignals => "MissingSignals",
            Reason::StaleSignals => "StaleSignals",
            Reason::UnknownServiceRate => "UnknownServiceRate",
            Reason::SinkSaturated => "SinkSaturated",
            Reason::ScaleUpPending => "ScaleUpPending",
            Reason::ScaleUpWorkers => "ScaleUpWorkers",
            Reason::ScaleUpReplicas => "ScaleUpReplicas",
            Reason::SurgeReserve => "SurgeReserve",
            Reason::Scheduled => "Scheduled",
            Reason::AtMaximum => "AtMaximum",
            Reason::BacklogNotDrained => "BacklogNotDrained",
            Reason::RateNotCalm => "RateNotCalm",
            Reason::PodsNotReady => "PodsNotReady",
            Reason::ScaleDownPending => "ScaleDownPending",
            Reason::ScaleDownWorkers => "ScaleDownWorkers",
            Reason::ScaleDownReplicas => "ScaleDownReplicas",
            Reason::Steady => "Steady",
        }
    }

    /// Whether a decision with this reason changes the size.
    pub fn is_scale(self) -> bool {
        matches!(
            self,
            Reason::OutOfBounds
                | Reason::ScaleUpWorkers
                | Reason::ScaleUpReplicas
                | Reason::SurgeReserve
                | Reason::Scheduled
                | Reason::ScaleDownWorkers
                | Reason::ScaleDownReplicas
        )
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way a change of size goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// More capacity.
    Up,
    /// Less capacity.
    Down,
}

/// The size the pipeline should run at, why, and the state for the next decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// Consumer pods.
    pub replicas: u32,
    /// Workers per pod.
    pub workers: u32,
    /// Total workers the rates call for (N), before bounds and layout; 0 when not computed.
    pub wanted: u32,
    /// Machine-readable reason.
    pub reason: Reason,
    /// A sentence for people: what was seen and what was done.
    pub message: String,
    /// What the policy remembers for its next decision.
    pub state: PolicyState,
}

impl Decision {
    /// Whether the decision differs from the size currently asked for.
    pub fn changes(&self, replicas: u32, workers: u32) -> bool {
        self.replicas != replicas || self.workers != workers
    }
}
