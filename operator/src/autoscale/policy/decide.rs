//! The policy itself: from what is seen now to the size to run, one rule after another.

use std::ops::ControlFlow::{self, Break, Continue};
use std::time::Duration;

use super::config::PolicyConfig;
use super::decision::{Decision, Reason};
use super::grow::scale_up;
use super::load::{Load, read_load, remember_sample};
use super::observations::{Observations, PolicyState};
use super::reserve::surge_reserve;
use super::round::Round;
use super::scheduled;
use super::shrink::scale_down;
use super::sizing::{self, effective_workers, layout, wanted_workers};

/// The backlog counts as drained when it is under this share of the lag target.
const DRAINED_SHARE_OF_LAG_TARGET: f64 = 0.25;

/// The size asked for now, kept, before the sizing has worked anything out.
fn hold(obs: &Observations, reason: Reason, message: String, state: PolicyState) -> Decision {
    Decision {
        replicas: obs.replicas,
        workers: obs.workers,
        wanted: 0,
        reason,
        message,
        state,
    }
}

/// Decides the size a pipeline should run at.
///
/// Pure: `now` is the caller's clock (simulated or real), and everything remembered between
/// calls comes in as `state` and goes out in [`Decision::state`]. The rules, in the order they
/// are applied, each a function of its own (numbered as in the rule table of
/// `docs/autoscaling.md`):
///
/// - `disabled` (1) → `out_of_bounds` (2), within the minimums a scheduled window raises
///   (`scheduled::within_window`, 2a: a correction up to them is `scheduled::held`) →
///   `rebalance_settling` (3) → `missing_signals` (4) → `unknown_service_rate` (5);
/// - size from rates: `size` (6), `N = ceil((λ·(1+headroom) + backlog/T_drain) / μ)` ahead
///   of a steep ramp, and `size_for_new_pods` (7) when pods must be added;
/// - `grow::scale_up` (8) in one step, workers first — unless `grow::at_maximum` (12),
///   `grow::sink_saturated` (9: QuestDB saturates), `grow::scale_up_pending` (10) or, for
///   pods, `grow::pods_starting` (11);
/// - `reserve::surge_reserve` (12a), on a calm rate at its base;
/// - `shrink::scale_down` (16) only by a worthwhile step, with the smaller size enough for
///   the whole dwell — unless `shrink::stale_signals` (13), `shrink::backlog_not_drained`
///   (14), `shrink::pods_not_ready` (15), `shrink::scale_down_pending` (16) or
///   `shrink::rate_not_calm` (16a);
/// - otherwise `shrink::steady` (17).
pub fn decide(
    cfg: &PolicyConfig,
    state: &PolicyState,
    obs: &Observations,
    now: Duration,
) -> Decision {
    if let Some(d) = disabled(cfg, obs) {
        return d;
    }
    let configured = cfg;
    let cfg = &*scheduled::within_window(configured, obs.scheduled.as_ref());
    if let Some(d) = out_of_bounds(cfg, state, obs, now) {
        let scheduled = cfg != configured && out_of_bounds(configured, state, obs, now).is_none();
        return if scheduled {
            scheduled::held(obs, d)
        } else {
            d
        };
    }
    // Every fresh reading joins the rate's window, whatever is decided.
    let state = &remember_sample(state, obs, now);
    if let Some(d) = rebalance_settling(cfg, state, obs, now) {
        return d;
    }
    let (backlog, lambda) = match missing_signals(state, obs) {
        Continue(signals) => signals,
        Break(hold) => return hold,
    };
    // The calm base is a matter of arrivals alone: kept whether μ is known or not.
    let (load, state) = read_load(cfg, state, obs, lambda, now);
    let mu = match unknown_service_rate(cfg, &state, obs) {
        Continue(mu) => mu,
        Break(hold) => return hold,
    };
    let round = size(cfg, obs, now, load, backlog, mu);
    scale_up(&round, &state).unwrap_or_else(|| {
        let state = state.up_cleared();
        surge_reserve(&round, &state).unwrap_or_else(|| scale_down(&round, state))
    })
}

/// Rule 1: autoscaling disabled → leave the size alone, forgetting all that was remembered.
fn disabled(cfg: &PolicyConfig, obs: &Observations) -> Option<Decision> {
    (!cfg.enabled).then(|| {
        hold(
            obs,
            Reason::Disabled,
            "autoscaling is disabled".into(),
            PolicyState::default(),
        )
    })
}

/// Rule 2: a correction when the current size lies outside the bounds or beyond the partitions.
fn out_of_bounds(
    cfg: &PolicyConfig,
    state: &PolicyState,
    obs: &Observations,
    now: Duration,
) -> Option<Decision> {
    let mut r_max = cfg.replicas.max.max(cfg.replicas.min);
    if obs.partitions > 0 {
        r_max = r_max
            .min(obs.partitions)
            .max(cfg.replicas.min.min(obs.partitions));
    }
    let replicas = obs.replicas.clamp(cfg.replicas.min.min(r_max), r_max);
    let workers = cfg.workers.clamp(obs.workers);
    (replicas != obs.replicas || workers != obs.workers).then(|| Decision {
        replicas,
        workers,
        wanted: 0,
        reason: Reason::OutOfBounds,
        message: format!(
            "{}×{} is outside the bounds (replicas {}..={r_max}, workers {}..={}); correcting to {replicas}×{workers}",
            obs.replicas, obs.workers, cfg.replicas.min, cfg.workers.min, cfg.workers.max
        ),
        state: state.scaled_at(now),
    })
}

/// Rule 3: the group rebalanced less than `rebalanceSettleSeconds` ago → hold, its rates are
/// not trustworthy.
fn rebalance_settling(
    cfg: &PolicyConfig,
    state: &PolicyState,
    obs: &Observations,
    now: Duration,
) -> Option<Decision> {
    let at = obs
        .last_rebalance
        .filter(|at| now < *at + cfg.rebalance_settle)?;
    let left = (at + cfg.rebalance_settle - now).as_secs_f64();
    Some(hold(
        obs,
        Reason::RebalanceSettling,
        format!("the consumer group rebalanced; holding {left:.0}s more while it settles"),
        state.up_cleared(),
    ))
}

/// Rule 4: the backlog and the arrival rate (λ, or the throughput when unknown); with no lag
/// or neither rate, a hold.
fn missing_signals(state: &PolicyState, obs: &Observations) -> ControlFlow<Decision, (u64, f64)> {
    let missing =
        |message: &str| hold(obs, Reason::MissingSignals, message.into(), state.cleared());
    let Some(backlog) = obs.backlog.filter(|_| obs.partitions > 0) else {
        return Break(missing("consumer-group lag is unknown; holding"));
    };
    let Some(lambda) = obs.arrival_rate.or(obs.throughput) else {
        return Break(missing("the arrival rate is unknown; holding"));
    };
    Continue((backlog, lambda))
}

/// μ, the records per second of one worker, as the policy knows it.
#[derive(Clone, Copy, Debug)]
struct ServiceRate {
    per_worker: f64,
    /// Measured, not the `perWorkerRateHint`.
    measured: bool,
}

/// Rule 5: μ measured, or else the `perWorkerRateHint`; with neither, a hold.
fn unknown_service_rate(
    cfg: &PolicyConfig,
    state: &PolicyState,
    obs: &Observations,
) -> ControlFlow<Decision, ServiceRate> {
    let measured = obs.service_rate.filter(|mu| mu.is_finite() && *mu > 0.0);
    match measured.or(cfg.per_worker_rate_hint.filter(|h| *h > 0.0)) {
        Some(per_worker) => Continue(ServiceRate {
            per_worker,
            measured: measured.is_some(),
        }),
        None => Break(hold(
            obs,
            Reason::UnknownServiceRate,
            "no measured service rate and no perWorkerRateHint; holding".into(),
            state.clone(),
        )),
    }
}

/// Rule 6: the workers the load wants, `N = ceil((λ·(1+headroom) + backlog/T_drain) / μ)`,
/// ahead of a steep ramp — and, when pods must be added, [`size_for_new_pods`].
fn size<'a>(
    cfg: &'a PolicyConfig,
    obs: &'a Observations,
    now: Duration,
    load: Load,
    backlog: u64,
    mu: ServiceRate,
) -> Round<'a> {
    let ServiceRate {
        per_worker: mu,
        measured,
    } = mu;
    let complete = obs.arrival_rate.is_some() && measured && !obs.kafka_stale && !obs.metrics_stale;
    let (p, replicas, workers) = (obs.partitions, obs.replicas, obs.workers);
    let drain = cfg.drain_time.as_secs_f64();
    // A steep ramp is expected to go on for as long as a pod takes to start.
    let up = load.rate_in(cfg.pod_ready_estimate.as_secs_f64());
    // Pods are slow and their rebalance pauses the group: they are added for the load seen
    // now, never for where a ramp leads alone …
    let seen = wanted_workers(load.lambda, cfg.headroom, backlog, drain, mu);
    let pods_needed = layout(cfg, p, replicas, seen, true).replicas > replicas;
    // … while the running pods take the workers for it at once: workers cost no pod and no
    // rebalance.
    let mut wanted = seen.max(wanted_workers(up, cfg.headroom, backlog, drain, mu));
    let mut projected = backlog;
    if pods_needed {
        let (backlog_then, workers_then) = size_for_new_pods(cfg, obs, &load, backlog, mu);
        projected = backlog_then;
        wanted = wanted.max(workers_then);
    }
    // Hysteresis: start growing only once half of the headroom is used up.
    let trigger = wanted_workers(up, cfg.headroom / 2.0, backlog, drain, mu);
    let current = effective_workers(p, replicas, workers);
    let lambda = load.lambda;
    let mut rates = format!(
        "λ={lambda:.0}/s backlog={backlog} μ={mu:.0}/s per worker → N={wanted} workers (running {replicas}×{workers}, {current} usable)"
    );
    if let Some(slope) = load.ramp {
        rates.push_str(&format!(
            ", the rate ramping {slope:.0}/s per second (sized for {up:.0}/s)"
        ));
    }
    if projected > backlog {
        rates.push_str(&format!(
            ", backlog {projected} expected by the time new pods consume"
        ));
    }
    Round {
        cfg,
        obs,
        now,
        backlog,
        mu,
        complete,
        wanted,
        seen,
        pods_needed,
        current,
        trigger,
        drained_below: lambda.max(1.0) * cfg.targets.lag_seconds * DRAINED_SHARE_OF_LAG_TARGET,
        queue_over: obs.queue_depth.is_some_and(|q| q > cfg.targets.queue_depth),
        rates,
        reserve: sizing::surge_reserve(cfg, p, load.reference, mu),
        load,
    }
}

/// Rule 7: when pods must be added, only the current pods (at most workers each) work until
/// the new ones are consuming: the backlog expected at that moment, `backlog + (λ − μ·current
/// pods' most workers)·pod_ready_estimate` (λ half-way along a ramp), and the workers that
/// drain it in what is left of `T_drain`.
fn size_for_new_pods(
    cfg: &PolicyConfig,
    obs: &Observations,
    load: &Load,
    backlog: u64,
    mu: f64,
) -> (u64, u32) {
    let drain = cfg.drain_time.as_secs_f64();
    let lead = cfg.pod_ready_estimate.as_secs_f64();
    let live = effective_workers(obs.partitions, obs.replicas, cfg.workers.max) as f64 * mu;
    let projected = backlog + ((load.rate_in(lead / 2.0) - live).max(0.0) * lead) as u64;
    let rest = (drain - lead).max(lead).max(1.0);
    let wanted = wanted_workers(load.rate_in(lead), cfg.headroom, projected, rest, mu);
    (projected, wanted)
}
