//! Pure: rules 13–17, scaling in — only by a worthwhile step, on complete, fresh data, with the
//! backlog drained, every pod ready, the smaller size enough for the whole dwell and the rate
//! calm; otherwise hold.

use super::decide::{Round, dwell, longest_dwell};
use super::decision::{Decision, Reason};
use super::observe::PolicyState;
use super::sizing::{layout, wanted_workers};

/// A smaller size must keep this many times the configured headroom.
const DOWN_HEADROOM_FACTOR: f64 = 1.5;

/// Rules 13–17: the smaller size (sized with 1.5 × the headroom, never below the most wanted
/// during the last dwell nor below the pods the surge reserve keeps) once it has been enough
/// for the whole dwell — the dwell in force for pods, the longest one for a pod's workers
/// alone — and frees a pod or the headroom's share of the workers; until then, or when it is
/// not smaller, hold.
pub(super) fn shrink(r: &Round<'_>, state: PolicyState) -> Decision {
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
    let reset = PolicyState {
        down_since: None,
        down_needs: Vec::new(),
        ..state.clone()
    };
    if enough >= r.current {
        return r.hold(Reason::Steady, "size fits".into(), reset);
    }
    // Pods go after the dwell in force; a pod's workers alone only after the longest dwell
    // the back-off reaches: a worker held costs no pod and no rebalance, and it is the
    // capacity a returning load takes first.
    let pod_dwell = dwell(cfg, &state);
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
        return r.hold(Reason::Steady, "size fits".into(), reset);
    }
    if !r.complete {
        return r.hold(
            Reason::StaleSignals,
            "fewer would do, but signals are stale or missing: not scaling in".into(),
            reset,
        );
    }
    if r.backlog as f64 > r.drained_below || r.queue_over {
        return r.hold(
            Reason::BacklogNotDrained,
            "fewer would do once the backlog is drained".into(),
            reset,
        );
    }
    if obs.ready_replicas < replicas {
        return r.hold(
            Reason::PodsNotReady,
            "fewer would do, but pods are still starting".into(),
            reset,
        );
    }
    let since = state.down_since.unwrap_or(r.now);
    let pending = PolicyState {
        down_since: Some(since),
        ..pending
    };
    let held = r.now.saturating_sub(since);
    let target = format!("{}×{}", down.replicas, down.workers);
    if held < dwell {
        let left = (dwell - held).as_secs_f64();
        return r.hold(
            Reason::ScaleDownPending,
            format!("{target} would do if it holds {left:.0}s more"),
            pending,
        );
    }
    // A trim that frees neither a pod nor the headroom's share of the workers saves little
    // and is the first to be raised back: wait until the most wanted of the dwell falls further.
    let freed = r.current.saturating_sub(down.effective) as f64;
    if down.replicas == replicas && freed < cfg.headroom * r.current as f64 {
        return r.hold(
            Reason::ScaleDownPending,
            format!("{target} would free too few workers to be worth a change"),
            pending,
        );
    }
    // Released only on a calm rate: a falling or bursting one is likely to come back (the
    // aftershocks of a crash); the dwell goes on meanwhile.
    if !r.load.calm {
        return r.hold(
            Reason::RateNotCalm,
            format!("{target} would do, but the arrival rate is not calm: not scaling in yet"),
            pending,
        );
    }
    let reason = if down.replicas < replicas {
        Reason::ScaleDownReplicas
    } else {
        Reason::ScaleDownWorkers
    };
    r.change(
        down,
        reason,
        format!(
            "headroom held {:.0}s with the backlog drained: scaling down to {target}",
            held.as_secs_f64()
        ),
        PolicyState {
            up_since: None,
            down_since: None,
            down_needs: Vec::new(),
            last_up: None,
            last_scale: Some(r.now),
            last_down: Some(r.now),
            ..state
        },
    )
}
