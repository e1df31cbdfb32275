//! Pure: the surge reserve's pods joining — only on a calm rate at its base.

use super::decision::{Decision, Reason};
use super::observations::PolicyState;
use super::round::Round;
use super::sizing::{Layout, effective_workers, layout};

/// The reserve is short: the rate is calm at its base (see [`super::load::read_load`]) and
/// fewer pods run than the reserve for that base asks for.
fn short(r: &Round<'_>) -> bool {
    r.load.at_base && r.reserve > r.obs.replicas
}

/// The reserve's pods may join now: short, on fresh signals, with no backlog draining and no
/// pod starting, so the rebalance they cause never delays a drain.
fn may_join(r: &Round<'_>) -> bool {
    short(r)
        && r.complete
        && r.backlog as f64 <= r.drained_below
        && !r.queue_over
        && r.obs.ready_replicas >= r.obs.replicas
}

/// Part of rule 12a: when the reserve may join and the running pods could carry the load with
/// more workers,
/// the reserve brings those workers instead of a scale-up: raising the running pods for the
/// start-up only to trim the surplus over every pod after the dwell would turn capacity up and
/// then down.
/// Only while the backlog the running pods leave until the reserve consumes stays within
/// `lagSeconds` of arrivals; beyond it, lag comes first.
pub(super) fn brings_workers(r: &Round<'_>) -> bool {
    let lambda = r.load.lambda;
    let short_until_joined = r.backlog as f64
        + (lambda - r.current as f64 * r.mu).max(0.0) * r.cfg.pod_ready_estimate.as_secs_f64();
    may_join(r) && short_until_joined <= lambda * r.cfg.targets.lag_seconds
}

/// Rule 12a: the reserve's pods join when it is short, each pod running the load's workers
/// spread over all of them; held (`Steady`) while the signals are stale, a backlog drains
/// or a pod starts. `None` when the reserve is not short.
pub(super) fn surge_reserve(r: &Round<'_>, state: &PolicyState) -> Option<Decision> {
    if !short(r) {
        return None;
    }
    let (cfg, obs) = (r.cfg, r.obs);
    let pods = r.reserve;
    let why = format!(
        "surge reserve: {} × the calm base {:.0}/s needs {pods} pods of {} workers",
        cfg.surge_factor, r.load.reference, cfg.workers.max
    );
    if !may_join(r) {
        return Some(r.hold(
            Reason::Steady,
            format!(
                "{why}, added once the signals are fresh, the backlog drained and every pod ready"
            ),
            state.down_cleared(),
        ));
    }
    // The load's workers spread over every pod, `ceil(N / pods)` each, so that no trim
    // follows once the reserve has joined. Running pods never lose workers while the
    // reserve starts: when they run more than the spread, they keep them and the surplus
    // is trimmed after the dwell like any other.
    let p = obs.partitions;
    let spread = layout(
        &r.with_min_pods(pods),
        p,
        pods,
        r.wanted.max(r.current),
        true,
    );
    let w = spread
        .workers
        .max(obs.workers)
        .min(cfg.workers.max.max(cfg.workers.min));
    let grow = Layout {
        workers: w,
        effective: effective_workers(p, spread.replicas, w),
        ..spread
    };
    // When it brings workers the load wanted, it is that scale-up: the saturation guard
    // judges QuestDB against it.
    let last_up = if r.trigger > r.current {
        Some(r.mark())
    } else {
        state.last_up
    };
    Some(r.change(
        grow,
        Reason::SurgeReserve,
        format!("{why}: scaling up to {}×{}", grow.replicas, grow.workers),
        state.after_reserve(r.now, last_up),
    ))
}
