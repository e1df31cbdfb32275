//! The policy itself: from what is seen now to the size to run, one rule after another.

use std::time::Duration;

use super::config::{Bounds, PolicyConfig};
use super::decision::{Decision, Reason};
use super::load::{Load, read_load, remember_sample};
use super::observe::{Observations, PolicyState, ScaleUpMark};
use super::sizing::{Layout, effective_workers, layout, surge_reserve, wanted_workers};
use super::{reserve, shrink};

/// A flush latency rise counts when it is this many times the one at the last scale-up …
const LATENCY_RISE_FACTOR: f64 = 1.5;
/// … and at least this much higher, in seconds (noise on a fast sink is not saturation).
const LATENCY_RISE_FLOOR: f64 = 0.05;
/// Throughput counts as having followed a scale-up when it grew by this factor.
const THROUGHPUT_GAIN_FACTOR: f64 = 1.1;
/// The backlog counts as drained when it is under this share of the lag target.
const DRAINED_SHARE_OF_LAG_TARGET: f64 = 0.25;
/// A scale-up this many dwells (or fewer) after a scale-down undoes it: the load came back
/// sooner than the dwell could tell, so the next dwell is doubled.
const FLAP_WINDOW_DWELLS: u32 = 2;
/// The dwell is doubled at most this many times (×4).
const MAX_DWELL_DOUBLINGS: u32 = 2;

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

/// A state whose pending up and down windows are cleared.
fn settled(state: &PolicyState) -> PolicyState {
    PolicyState {
        up_since: None,
        down_since: None,
        down_needs: Vec::new(),
        ..state.clone()
    }
}

/// Decides the size a pipeline should run at.
///
/// Pure: `now` is the caller's clock (simulated or real), and everything remembered between
/// calls comes in as `state` and goes out in [`Decision::state`]. The rules, in order:
/// disabled → bounds → rebalance settling → missing signals → size from rates
/// (`N = ceil((λ·(1+headroom) + backlog/T_drain) / μ)`, ahead of a steep ramp) → scale up in
/// one step (workers first), unless QuestDB saturates → the surge reserve, on a calm rate at
/// its base → scale down only on fresh data, with the backlog drained and the smaller size
/// enough for the whole dwell time → otherwise hold.
pub fn decide(
    cfg: &PolicyConfig,
    state: &PolicyState,
    obs: &Observations,
    now: Duration,
) -> Decision {
    let hold = |reason: Reason, message: String, state: PolicyState| Decision {
        replicas: obs.replicas,
        workers: obs.workers,
        wanted: 0,
        reason,
        message,
        state,
    };

    if !cfg.enabled {
        return hold(
            Reason::Disabled,
            "autoscaling is disabled".into(),
            PolicyState::default(),
        );
    }

    if let Some(d) = out_of_bounds(cfg, obs) {
        return d.with_state(state.clone(), now);
    }

    // Every fresh reading joins the rate's window, whatever is decided.
    let state = &remember_sample(state, obs, now);

    if let Some(at) = obs.last_rebalance
        && now < at + cfg.rebalance_settle
    {
        let left = (at + cfg.rebalance_settle - now).as_secs_f64();
        return hold(
            Reason::RebalanceSettling,
            format!("the consumer group rebalanced; holding {left:.0}s more while it settles"),
            PolicyState {
                up_since: None,
                ..state.clone()
            },
        );
    }

    let Some(backlog) = obs.backlog.filter(|_| obs.partitions > 0) else {
        return hold(
            Reason::MissingSignals,
            "consumer-group lag is unknown; holding".into(),
            settled(state),
        );
    };
    let Some(lambda) = obs.arrival_rate.or(obs.throughput) else {
        return hold(
            Reason::MissingSignals,
            "the arrival rate is unknown; holding".into(),
            settled(state),
        );
    };
    // The calm base is a matter of arrivals alone: kept whether μ is known or not.
    let (load, state) = read_load(cfg, state, obs, lambda, now);
    let measured_mu = obs.service_rate.filter(|mu| mu.is_finite() && *mu > 0.0);
    let Some(mu) = measured_mu.or(cfg.per_worker_rate_hint.filter(|h| *h > 0.0)) else {
        return hold(
            Reason::UnknownServiceRate,
            "no measured service rate and no perWorkerRateHint; holding".into(),
            state,
        );
    };
    let round = size(cfg, obs, now, load, backlog, mu, measured_mu.is_some());

    if let Some(d) = grow(&round, &state) {
        return d;
    }
    let state = PolicyState {
        up_since: None,
        ..state
    };
    if let Some(d) = reserve::top_up(&round, &state) {
        return d;
    }
    shrink::shrink(&round, state)
}

/// Rules 6 and 7: the workers the load wants, ahead of a steep ramp, and, when pods must be
/// added, for the backlog and the rate expected by the time they consume.
fn size<'a>(
    cfg: &'a PolicyConfig,
    obs: &'a Observations,
    now: Duration,
    load: Load,
    backlog: u64,
    mu: f64,
    measured_mu: bool,
) -> Round<'a> {
    let complete =
        obs.arrival_rate.is_some() && measured_mu && !obs.kafka_stale && !obs.metrics_stale;
    let (p, replicas, workers) = (obs.partitions, obs.replicas, obs.workers);
    let drain = cfg.drain_time.as_secs_f64();
    // A steep ramp is expected to go on for as long as a pod takes to start.
    let lead = cfg.pod_ready_estimate.as_secs_f64();
    let up = load.rate_in(lead);
    // Pods are slow and their rebalance pauses the group: they are added for the load seen
    // now, never for where a ramp leads alone …
    let seen = wanted_workers(load.lambda, cfg.headroom, backlog, drain, mu);
    let pods_needed = layout(cfg, p, replicas, seen, true).replicas > replicas;
    // … while the running pods take the workers for it at once: workers cost no pod and no
    // rebalance.
    let mut wanted = seen.max(wanted_workers(up, cfg.headroom, backlog, drain, mu));
    // When pods must be added, only the current pods (at most workers each) work until the new
    // ones are consuming: size for the backlog and the rate at that moment, the backlog
    // drained in what is left of T_drain.
    let mut projected = backlog;
    if pods_needed {
        let live = effective_workers(p, replicas, cfg.workers.max) as f64 * mu;
        projected = backlog + ((load.rate_in(lead / 2.0) - live).max(0.0) * lead) as u64;
        let rest = (drain - lead).max(lead).max(1.0);
        wanted = wanted.max(wanted_workers(up, cfg.headroom, projected, rest, mu));
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
        reserve: surge_reserve(cfg, p, load.reference, mu),
        load,
    }
}

/// Rules 8–12: grow in one step, workers first, when half the headroom is used up or the
/// full headroom no longer fits in the current pods — unless QuestDB saturates, the
/// scale-up stabilization has not passed, or nothing more is usable. `None`: no growth.
fn grow(r: &Round<'_>, state: &PolicyState) -> Option<Decision> {
    let (cfg, obs, now) = (r.cfg, r.obs, r.now);
    let (p, replicas) = (obs.partitions, obs.replicas);
    // Workers are instant, so they grow once half the headroom is used; pods take time to
    // start, so they are ordered as soon as the full headroom no longer fits in the current ones.
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
    let mut up = layout(&sizing, p, replicas, r.wanted, true);
    if !pods_needed && up.effective <= r.current && r.seen <= r.current {
        // The load seen fits; only where a ramp leads would not, and pods are not added for that.
        return None;
    }
    if up.replicas > replicas {
        // The running pods go to their most workers at once, while the new ones start;
        // the surplus is trimmed after the dwell like any other.
        let w = cfg.workers.max.max(cfg.workers.min);
        up = Layout {
            workers: w,
            effective: effective_workers(p, up.replicas, w),
            ..up
        };
    }
    if up.effective <= r.current {
        return Some(r.hold(
            Reason::AtMaximum,
            "no more usable workers within the bounds and partitions".into(),
            settled(state),
        ));
    }
    if let Some(why) = sink_saturated(cfg, state, obs, now) {
        return Some(r.hold(
            Reason::SinkSaturated,
            format!("not adding workers: {why}"),
            settled(state),
        ));
    }
    let since = state.up_since.unwrap_or(now);
    if now.saturating_sub(since) < cfg.scale_up_stabilization {
        return Some(r.hold(
            Reason::ScaleUpPending,
            "waiting for the scale-up stabilization window".into(),
            PolicyState {
                up_since: Some(since),
                ..settled(state)
            },
        ));
    }
    // When the reserve's pods may join and the running pods could carry the load with more
    // workers, the reserve brings those workers instead (rule 12a).
    if !pods_needed && reserve::brings_workers(r) {
        return None;
    }
    if up.replicas > replicas && obs.ready_replicas < replicas {
        // Pods are still starting: grow the workers live, hold the pods until they join.
        up = layout(&fixed_pods(cfg, replicas), p, replicas, r.wanted, true);
        if up.effective <= r.current {
            return Some(r.hold(
                Reason::PodsNotReady,
                "pods are still starting, holding until they are ready".into(),
                PolicyState {
                    up_since: None,
                    ..state.clone()
                },
            ));
        }
    }
    let reason = if up.replicas > replicas {
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
pub(super) fn scaled_up(r: &Round<'_>, state: &PolicyState) -> PolicyState {
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
    PolicyState {
        last_up: Some(r.mark()),
        last_scale: Some(r.now),
        dwell_doublings: doublings,
        ..settled(state)
    }
}

/// A correction when the current size lies outside the bounds or beyond the partitions.
fn out_of_bounds(cfg: &PolicyConfig, obs: &Observations) -> Option<Decision> {
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
        state: PolicyState::default(),
    })
}

impl Decision {
    fn with_state(self, state: PolicyState, now: Duration) -> Decision {
        Decision {
            state: PolicyState {
                last_scale: Some(now),
                ..state
            },
            ..self
        }
    }
}

/// Why adding workers would not help: QuestDB's latency rose since the last scale-up and
/// throughput did not follow. Judged only once the last scale-up had time to take effect.
fn sink_saturated(
    cfg: &PolicyConfig,
    state: &PolicyState,
    obs: &Observations,
    now: Duration,
) -> Option<String> {
    let mark = state.last_up?;
    let latency = obs.flush_latency?;
    let throughput = obs.throughput?;
    if obs.ready_replicas < obs.replicas || now < mark.at + cfg.rebalance_settle {
        return None;
    }
    let rose = latency > mark.flush_latency * LATENCY_RISE_FACTOR
        && latency > mark.flush_latency + LATENCY_RISE_FLOOR;
    let over_target = latency * 1000.0 > cfg.targets.latency_ms;
    let flat = throughput < mark.throughput * THROUGHPUT_GAIN_FACTOR;
    ((rose || over_target) && flat).then(|| {
        format!(
            "QuestDB flush latency {:.0}ms (was {:.0}ms) while throughput stayed at {throughput:.0}/s (was {:.0}/s)",
            latency * 1000.0,
            mark.flush_latency * 1000.0,
            mark.throughput
        )
    })
}
