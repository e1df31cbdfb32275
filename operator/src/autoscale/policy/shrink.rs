//! Pure: scaling in — only by a worthwhile step, on complete, fresh data, with the backlog
//! drained, every pod ready, the smaller size enough for the whole dwell and the rate calm;
//! otherwise hold.

use std::time::Duration;

use super::decision::{Decision, Reason};
use super::observations::PolicyState;
use super::round::{Round, dwell, longest_dwell};
use super::sizing::{Layout, layout, wanted_workers};

/// A smaller size must keep this many times the configured headroom.
const DOWN_HEADROOM_FACTOR: f64 = 1.5;

/// A smaller size that would do, and the dwell it must hold for.
struct Smaller {
    /// The size to go down to.
    to: Layout,
    /// The dwell in force for it: for pods the back-off's, for a pod's workers alone the longest.
    dwell: Duration,
    /// The state with this decision's need and the dwell's start remembered.
    pending: PolicyState,
    /// How long a smaller size has been enough.
    held: Duration,
}

impl Smaller {
    fn target(&self) -> String {
        format!("{}×{}", self.to.replicas, self.to.workers)
    }
}

/// Rule 16: the smaller size (sized with 1.5 × the headroom, never below the most wanted
/// during the last dwell nor below the pods the surge reserve keeps) once it has been enough
/// for the whole dwell — the dwell in force for pods, the longest one for a pod's workers
/// alone — and frees a pod or the headroom's share of the workers; held by
/// [`stale_signals`], [`backlog_not_drained`], [`pods_not_ready`], [`scale_down_pending`] and
/// [`rate_not_calm`], and [`steady`] when it is not smaller.
pub(super) fn scale_down(r: &Round<'_>, state: PolicyState) -> Decision {
    let Some(down) = smaller_size(r, &state) else {
        return steady(r, &state);
    };
    stale_signals(r, &state)
        .or_else(|| backlog_not_drained(r, &state))
        .or_else(|| pods_not_ready(r, &state))
        .or_else(|| scale_down_pending(r, &down))
        .or_else(|| rate_not_calm(r, &down))
        .unwrap_or_else(|| {
            let reason = if down.to.replicas < r.obs.replicas {
                Reason::ScaleDownReplicas
            } else {
                Reason::ScaleDownWorkers
            };
            r.change(
                down.to,
                reason,
                format!(
                    "headroom held {:.0}s with the backlog drained: scaling down to {}",
                    down.held.as_secs_f64(),
                    down.target()
                ),
                state.after_down(r.now),
            )
        })
}

/// The size a scale-down goes to, when it is smaller than the current one.
fn smaller_size(r: &Round<'_>, state: &PolicyState) -> Option<Smaller> {
    let (cfg, obs) = (r.cfg, r.obs);
    let (p, replicas, workers) = (obs.partitions, obs.replicas, obs.workers);
    // Hysteresis on the way down too: a smaller size must keep half as much headroom again.
    let enough = wanted_workers(
        r.load.lambda,
        cfg.headroom * DOWN_HEADROOM_FACTOR,
        r.backlog,
        cfg.drain_time.as_secs_f64(),
        r.mu,
    );
    if enough >= r.current {
        return None;
    }
    // Pods go after the dwell in force; a pod's workers alone only after the longest dwell
    // the back-off reaches: a worker held costs no pod and no rebalance, and it is the
    // capacity a returning load takes first.
    let pod_dwell = dwell(cfg, state);
    let worker_dwell = longest_dwell(cfg);
    let pending = state.with_down_need(r.now, enough, worker_dwell);
    // The reserve holds the pods that run; it never keeps workers from being trimmed.
    let floor = r.with_min_pods(r.reserve.min(replicas));
    let down = layout(
        &floor,
        p,
        replicas,
        pending.down_peak_within(r.now, pod_dwell),
        false,
    );
    let (down, dwell) = if down.replicas < replicas {
        (down, pod_dwell)
    } else {
        let peak = pending.down_peak_within(r.now, worker_dwell);
        (layout(&floor, p, replicas, peak, false), worker_dwell)
    };
    let smaller = down.replicas < replicas || (down.replicas == replicas && down.workers < workers);
    if !smaller {
        return None;
    }
    let since = state.down_since.unwrap_or(r.now);
    Some(Smaller {
        to: down,
        dwell,
        pending: pending.waiting_down(since),
        held: r.now.saturating_sub(since),
    })
}

/// Rule 13: shrink only on complete, fresh data (measured μ, λ known, nothing stale).
fn stale_signals(r: &Round<'_>, state: &PolicyState) -> Option<Decision> {
    (!r.complete).then(|| {
        r.hold(
            Reason::StaleSignals,
            "fewer would do, but signals are stale or missing: not scaling in".into(),
            state.down_cleared(),
        )
    })
}

/// Rule 14: shrink only once the backlog is drained (under a quarter of `lagSeconds` of
/// arrivals, and the queue depth under `queueDepth`).
fn backlog_not_drained(r: &Round<'_>, state: &PolicyState) -> Option<Decision> {
    (r.backlog as f64 > r.drained_below || r.queue_over).then(|| {
        r.hold(
            Reason::BacklogNotDrained,
            "fewer would do once the backlog is drained".into(),
            state.down_cleared(),
        )
    })
}

/// Rule 15: shrink only with every pod ready.
fn pods_not_ready(r: &Round<'_>, state: &PolicyState) -> Option<Decision> {
    (r.obs.ready_replicas < r.obs.replicas).then(|| {
        r.hold(
            Reason::PodsNotReady,
            "fewer would do, but pods are still starting".into(),
            state.down_cleared(),
        )
    })
}

/// Rule 16, until it applies: the smaller size must have been enough for the whole dwell,
/// and free a pod or the headroom's share of the usable workers — a smaller trim saves little
/// and is the first to be raised back, so it waits until the most wanted of the dwell falls
/// further.
fn scale_down_pending(r: &Round<'_>, down: &Smaller) -> Option<Decision> {
    let target = down.target();
    if down.held < down.dwell {
        let left = (down.dwell - down.held).as_secs_f64();
        return Some(r.hold(
            Reason::ScaleDownPending,
            format!("{target} would do if it holds {left:.0}s more"),
            down.pending.clone(),
        ));
    }
    let freed = r.current.saturating_sub(down.to.effective) as f64;
    (down.to.replicas == r.obs.replicas && freed < r.cfg.headroom * r.current as f64).then(|| {
        r.hold(
            Reason::ScaleDownPending,
            format!("{target} would free too few workers to be worth a change"),
            down.pending.clone(),
        )
    })
}

/// Rule 16a: capacity is released only on a calm rate — a falling or bursting one is likely
/// to come back (the aftershocks of a crash); the dwell goes on meanwhile.
fn rate_not_calm(r: &Round<'_>, down: &Smaller) -> Option<Decision> {
    (!r.load.calm).then(|| {
        r.hold(
            Reason::RateNotCalm,
            format!(
                "{} would do, but the arrival rate is not calm: not scaling in yet",
                down.target()
            ),
            down.pending.clone(),
        )
    })
}

/// Rule 17: otherwise hold — the size fits.
fn steady(r: &Round<'_>, state: &PolicyState) -> Decision {
    r.hold(Reason::Steady, "size fits".into(), state.down_cleared())
}
