//! Pure: scaling up — in one step, workers first, unless nothing more is usable, QuestDB
//! saturates, the scale-up stabilization has not passed, or pods are still starting.

use std::ops::ControlFlow::{self, Break, Continue};

use super::config::{Bounds, PolicyConfig};
use super::decision::{Decision, Reason};
use super::observations::PolicyState;
use super::reserve;
use super::round::{MAX_DWELL_DOUBLINGS, Round, dwell};
use super::sizing::{Layout, effective_workers, layout};

/// A flush latency rise counts when it is this many times the one at the last scale-up …
const LATENCY_RISE_FACTOR: f64 = 1.5;
/// … and at least this much higher, in seconds (noise on a fast sink is not saturation).
const LATENCY_RISE_FLOOR: f64 = 0.05;
/// Throughput counts as having followed a scale-up when it grew by this factor.
const THROUGHPUT_GAIN_FACTOR: f64 = 1.1;
/// A scale-up this many dwells (or fewer) after a scale-down undoes it: the load came back
/// sooner than the dwell could tell, so the next dwell is doubled.
const FLAP_WINDOW_DWELLS: u32 = 2;

/// Rule 8: grow in one step, workers first, when `N` at half the headroom exceeds the usable
/// workers, or as soon as `N` at full headroom for the load seen no longer fits in the current
/// pods — unless [`at_maximum`], [`sink_saturated`], [`scale_up_pending`] or, for pods,
/// [`pods_starting`] holds it. Where a ramp leads adds workers to the running pods, never
/// pods by itself. `None`: no growth.
pub(super) fn scale_up(r: &Round<'_>, state: &PolicyState) -> Option<Decision> {
    let up = grown(r)?;
    if let Some(hold) = at_maximum(r, state, &up)
        .or_else(|| sink_saturated(r, state))
        .or_else(|| scale_up_pending(r, state))
    {
        return Some(hold);
    }
    // When the reserve's pods may join and the running pods could carry the load with more
    // workers, the reserve brings those workers instead.
    if !r.pods_needed && reserve::brings_workers(r) {
        return None;
    }
    let up = match pods_starting(r, state, up) {
        Continue(up) => up,
        Break(hold) => return Some(hold),
    };
    let reason = if up.replicas > r.obs.replicas {
        Reason::ScaleUpReplicas
    } else {
        Reason::ScaleUpWorkers
    };
    Some(r.change(
        up,
        reason,
        format!("scaling up to {}×{}", up.replicas, up.workers),
        scaled_up(r, state),
    ))
}

/// The size a scale-up grows to, `None` when it does not grow: workers are instant, so they grow
/// once half the headroom is used; pods take time to start, so they are ordered as soon as
/// the full headroom no longer fits in the current ones.
fn grown(r: &Round<'_>) -> Option<Layout> {
    let (cfg, p, replicas) = (r.cfg, r.obs.partitions, r.obs.replicas);
    let pods_needed = r.pods_needed;
    if r.trigger <= r.current && !pods_needed {
        return None;
    }
    // Pods that must be added anyway bring the reserve with them (one rebalance, not two);
    // otherwise only the workers of the running pods grow.
    let sizing = if pods_needed {
        r.with_min_pods(r.reserve)
    } else {
        fixed_pods(cfg, replicas)
    };
    let up = layout(&sizing, p, replicas, r.wanted, true);
    if !pods_needed && up.effective <= r.current && r.seen <= r.current {
        // The load seen fits; only where a ramp leads would not, and pods are not added for that.
        return None;
    }
    if up.replicas <= replicas {
        return Some(up);
    }
    // The running pods go to their most workers at once, while the new ones start; the
    // surplus is trimmed after the dwell like any other.
    let w = cfg.workers.max.max(cfg.workers.min);
    Some(Layout {
        workers: w,
        effective: effective_workers(p, up.replicas, w),
        ..up
    })
}

/// Rule 12: nothing more is usable (bounds, one worker per partition) → hold.
fn at_maximum(r: &Round<'_>, state: &PolicyState, up: &Layout) -> Option<Decision> {
    (up.effective <= r.current).then(|| {
        r.hold(
            Reason::AtMaximum,
            "no more usable workers within the bounds and partitions".into(),
            state.cleared(),
        )
    })
}

/// Rule 9: adding workers would not help when QuestDB saturates — its flush latency rose
/// ×1.5 (and by 50 ms) or passed `latencyMs` since the last scale-up, and throughput did not
/// grow 10 %. Judged only once that scale-up had `rebalanceSettleSeconds` and its pods ready.
fn sink_saturated(r: &Round<'_>, state: &PolicyState) -> Option<Decision> {
    let (cfg, obs) = (r.cfg, r.obs);
    let mark = state.last_up?;
    let latency = obs.flush_latency?;
    let throughput = obs.throughput?;
    if obs.ready_replicas < obs.replicas || r.now < mark.at + cfg.rebalance_settle {
        return None;
    }
    let rose = latency > mark.flush_latency * LATENCY_RISE_FACTOR
        && latency > mark.flush_latency + LATENCY_RISE_FLOOR;
    let over_target = latency * 1000.0 > cfg.targets.latency_ms;
    let flat = throughput < mark.throughput * THROUGHPUT_GAIN_FACTOR;
    ((rose || over_target) && flat).then(|| {
        r.hold(
            Reason::SinkSaturated,
            format!(
                "not adding workers: QuestDB flush latency {:.0}ms (was {:.0}ms) while throughput stayed at {throughput:.0}/s (was {:.0}/s)",
                latency * 1000.0,
                mark.flush_latency * 1000.0,
                mark.throughput
            ),
            state.cleared(),
        )
    })
}

/// Rule 10: a bigger size is added only once it has been wanted for `scaleUpSeconds`; until
/// then, hold.
fn scale_up_pending(r: &Round<'_>, state: &PolicyState) -> Option<Decision> {
    let since = state.up_since.unwrap_or(r.now);
    (r.now.saturating_sub(since) < r.cfg.scale_up_stabilization).then(|| {
        r.hold(
            Reason::ScaleUpPending,
            "waiting for the scale-up stabilization window".into(),
            state.waiting_up(since),
        )
    })
}

/// Rule 11: while new pods are still starting, only workers grow: the size with the pods held,
/// or a hold when that adds nothing.
fn pods_starting(r: &Round<'_>, state: &PolicyState, up: Layout) -> ControlFlow<Decision, Layout> {
    let (p, replicas) = (r.obs.partitions, r.obs.replicas);
    if up.replicas <= replicas || r.obs.ready_replicas >= replicas {
        return Continue(up);
    }
    let up = layout(&fixed_pods(r.cfg, replicas), p, replicas, r.wanted, true);
    if up.effective <= r.current {
        return Break(r.hold(
            Reason::PodsNotReady,
            "pods are still starting, holding until they are ready".into(),
            state.up_cleared(),
        ));
    }
    Continue(up)
}

/// The configuration with the pod count held at `replicas`.
fn fixed_pods(cfg: &PolicyConfig, replicas: u32) -> PolicyConfig {
    PolicyConfig {
        replicas: Bounds {
            min: replicas,
            max: replicas,
        },
        ..cfg.clone()
    }
}

/// The state after a scale-up: the saturation guard's mark, and the dwell back-off — capacity
/// released within twice the dwell and wanted back means the next dwell is doubled. Only the
/// first scale-up after a scale-down undoes it: one reversal, one doubling.
fn scaled_up(r: &Round<'_>, state: &PolicyState) -> PolicyState {
    let undoes_down = state.last_down.is_some_and(|t| {
        state.last_scale == Some(t)
            && r.now.saturating_sub(t) <= dwell(r.cfg, state) * FLAP_WINDOW_DWELLS
    });
    let doublings = if undoes_down {
        (state.dwell_doublings + 1).min(MAX_DWELL_DOUBLINGS)
    } else if state.last_scale == state.last_down {
        0
    } else {
        state.dwell_doublings
    };
    state.after_up(r.mark(), r.now, doublings)
}
