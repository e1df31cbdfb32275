//! What one decision has read and worked out, shared by the rules that follow the sizing.

use std::time::Duration;

use super::config::{Bounds, PolicyConfig};
use super::decision::{Decision, Reason};
use super::load::Load;
use super::observations::{Observations, PolicyState, ScaleUpMark};
use super::sizing::Layout;

/// The dwell is doubled at most this many times (×4).
pub(super) const MAX_DWELL_DOUBLINGS: u32 = 2;

/// The dwell in force: the configured one, doubled once per recent reversal.
pub(super) fn dwell(cfg: &PolicyConfig, state: &PolicyState) -> Duration {
    cfg.scale_down_stabilization * (1 << state.dwell_doublings.min(MAX_DWELL_DOUBLINGS))
}

/// The longest dwell the back-off reaches.
pub(super) fn longest_dwell(cfg: &PolicyConfig) -> Duration {
    cfg.scale_down_stabilization * (1 << MAX_DWELL_DOUBLINGS)
}

/// What one decision has read and worked out, shared by its rules.
pub(super) struct Round<'a> {
    pub cfg: &'a PolicyConfig,
    pub obs: &'a Observations,
    pub now: Duration,
    pub load: Load,
    /// Pods the surge reserve asks for, at its calm base (0: none).
    pub reserve: u32,
    pub backlog: u64,
    pub mu: f64,
    /// Every signal present, measured, fresh: only then may the policy scale in.
    pub complete: bool,
    /// Total workers wanted (N).
    pub wanted: u32,
    /// N for the load seen now, not ahead of a ramp.
    pub seen: u32,
    /// The load seen now no longer fits in the current pods at their most workers.
    pub pods_needed: bool,
    /// Workers usable now.
    pub current: u32,
    /// N at half the headroom: grow once it exceeds the usable workers.
    pub trigger: u32,
    /// The backlog counts as drained below this many records.
    pub drained_below: f64,
    /// A pod's queue is over its target.
    pub queue_over: bool,
    /// The numbers behind the decision, for its message.
    pub rates: String,
}

impl Round<'_> {
    /// The size asked for now, kept.
    pub fn hold(&self, reason: Reason, message: String, state: PolicyState) -> Decision {
        Decision {
            replicas: self.obs.replicas,
            workers: self.obs.workers,
            wanted: self.wanted,
            reason,
            message: format!("{}; {message}", self.rates),
            state,
        }
    }

    /// A new size.
    pub fn change(
        &self,
        to: Layout,
        reason: Reason,
        message: String,
        state: PolicyState,
    ) -> Decision {
        Decision {
            replicas: to.replicas,
            workers: to.workers,
            wanted: self.wanted,
            reason,
            message: format!("{}; {message}", self.rates),
            state,
        }
    }

    /// The sink and throughput now, for the saturation guard after a scale-up.
    pub fn mark(&self) -> ScaleUpMark {
        ScaleUpMark {
            at: self.now,
            flush_latency: self.obs.flush_latency.unwrap_or(0.0),
            throughput: self.obs.throughput.unwrap_or(0.0),
        }
    }

    /// The configuration with at least `pods` pods.
    pub fn with_min_pods(&self, pods: u32) -> PolicyConfig {
        PolicyConfig {
            replicas: Bounds {
                min: self.cfg.replicas.min.max(pods),
                max: self.cfg.replicas.max,
            },
            ..self.cfg.clone()
        }
    }
}
