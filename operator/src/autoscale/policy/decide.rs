//! The policy itself: from what is seen now to the size to run, one rule after another.

use std::time::Duration;

use super::config::Bounds;
use super::config::PolicyConfig;
use super::decision::{Decision, Reason};
use super::observe::{Observations, PolicyState, ScaleUpMark};
use super::sizing::{Layout, effective_workers, layout, surge_reserve, wanted_workers};

/// A flush latency rise counts when it is this many times the one at the last scale-up …
const LATENCY_RISE_FACTOR: f64 = 1.5;
/// … and at least this much higher, in seconds (noise on a fast sink is not saturation).
const LATENCY_RISE_FLOOR: f64 = 0.05;
/// Throughput counts as having followed a scale-up when it grew by this factor.
const THROUGHPUT_GAIN_FACTOR: f64 = 1.1;
/// A smaller size must keep this many times the configured headroom.
const DOWN_HEADROOM_FACTOR: f64 = 1.5;
/// The backlog counts as drained when it is under this share of the lag target.
const DRAINED_SHARE_OF_LAG_TARGET: f64 = 0.25;
/// A scale-up this many dwells (or fewer) after a scale-down undoes it: the load came back
/// sooner than the dwell could tell, so the next dwell is doubled.
const FLAP_WINDOW_DWELLS: u32 = 2;
/// The dwell is doubled at most this many times (×4).
const MAX_DWELL_DOUBLINGS: u32 = 2;

/// The dwell in force: the configured one, doubled once per recent reversal.
fn dwell(cfg: &PolicyConfig, state: &PolicyState) -> Duration {
    cfg.scale_down_stabilization * (1 << state.dwell_doublings.min(MAX_DWELL_DOUBLINGS))
}

/// Decides the size a pipeline should run at.
///
/// Pure: `now` is the caller's clock (simulated or real), and everything remembered between
/// calls comes in as `state` and goes out in [`Decision::state`]. The rules, in order:
/// disabled → bounds → rebalance settling → missing signals → size from rates
/// (`N = ceil((λ·(1+headroom) + backlog/T_drain) / μ)`) → scale up in one step (workers
/// first), unless QuestDB saturates → scale down only on fresh data, with the backlog drained
/// and the smaller size enough for the whole dwell time → otherwise hold.
pub fn decide(
    cfg: &PolicyConfig,
    state: &PolicyState,
    obs: &Observations,
    now: Duration,
) -> Decision {
    let (replicas, workers) = (obs.replicas, obs.workers);
    let hold = |reason: Reason, message: String, state: PolicyState| Decision {
        replicas,
        workers,
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
            PolicyState {
                up_since: None,
                down_since: None,
                down_peak: 0,
                ..state.clone()
            },
        );
    };
    let Some(lambda) = obs.arrival_rate.or(obs.throughput) else {
        return hold(
            Reason::MissingSignals,
            "the arrival rate is unknown; holding".into(),
            PolicyState {
                up_since: None,
                down_since: None,
                down_peak: 0,
                ..state.clone()
            },
        );
    };
    // The surge reserve remembers the fresh arrival rates of the last dwell.
    let state = &match obs.arrival_rate.filter(|_| !obs.kafka_stale) {
        Some(rate) => state.with_rate(now, rate, cfg.scale_down_stabilization),
        None => state.clone(),
    };
    let measured_mu = obs.service_rate.filter(|mu| mu.is_finite() && *mu > 0.0);
    let Some(mu) = measured_mu.or(cfg.per_worker_rate_hint.filter(|h| *h > 0.0)) else {
        return hold(
            Reason::UnknownServiceRate,
            "no measured service rate and no perWorkerRateHint; holding".into(),
            state.clone(),
        );
    };
    // Complete and fresh: every signal present, measured, not stale. Only then may we scale in.
    let complete = obs.arrival_rate.is_some()
        && measured_mu.is_some()
        && !obs.kafka_stale
        && !obs.metrics_stale;

    let p = obs.partitions;
    let drain = cfg.drain_time.as_secs_f64();
    // Pods kept so that a surge of surge_factor × the recent peak rate needs no new pods …
    let reference = state.recent_peak_rate().unwrap_or(0.0);
    let reserve = surge_reserve(cfg, p, reference, mu);
    // … added on their own only at the rate they are sized for: a rate above the one the
    // reserve was last sized for (beyond the headroom) is the surge it exists to absorb,
    // and pods joining then would pause the partitions absorbing it.
    let top_up = surge_reserve(cfg, p, lambda, mu);
    let at_base = state
        .reserve_rate
        .is_none_or(|r| lambda <= r * (1.0 + cfg.headroom));
    let kept = PolicyConfig {
        replicas: Bounds {
            min: cfg.replicas.min.max(reserve),
            max: cfg.replicas.max,
        },
        ..cfg.clone()
    };
    let mut wanted = wanted_workers(lambda, cfg.headroom, backlog, drain, mu);
    // When pods must be added, only the current pods (at most workers each) work until the new
    // ones are consuming: size for the backlog at that moment, drained in what is left of T_drain.
    let mut projected = backlog;
    if layout(cfg, obs.partitions, replicas, wanted, true).replicas > replicas {
        let lead = cfg.pod_ready_estimate.as_secs_f64();
        let live = effective_workers(obs.partitions, replicas, cfg.workers.max) as f64 * mu;
        projected = backlog + ((lambda - live).max(0.0) * lead) as u64;
        let rest = (drain - lead).max(lead).max(1.0);
        wanted = wanted.max(wanted_workers(lambda, cfg.headroom, projected, rest, mu));
    }
    // Hysteresis: start growing only once half of the headroom is used up.
    let trigger = wanted_workers(lambda, cfg.headroom / 2.0, backlog, drain, mu);
    let current = effective_workers(p, replicas, workers);
    let rates = format!(
        "λ={lambda:.0}/s backlog={backlog} μ={mu:.0}/s per worker → N={wanted} workers (running {replicas}×{workers}, {current} usable)"
    );
    let rates = if projected > backlog {
        format!("{rates}, backlog {projected} expected by the time new pods consume")
    } else {
        rates
    };
    let decision = |layout: Layout, reason: Reason, message: String, state: PolicyState| Decision {
        replicas: layout.replicas,
        workers: layout.workers,
        wanted,
        reason,
        message,
        state,
    };

    // The reserve's pods may join now: short of the reserve for the rate now, at the rate it
    // is sized for, on fresh signals, with no backlog draining and no pod starting (so the
    // rebalance they cause never delays a drain).
    let drained_below = lambda.max(1.0) * cfg.targets.lag_seconds * DRAINED_SHARE_OF_LAG_TARGET;
    let queue_over = obs.queue_depth.is_some_and(|q| q > cfg.targets.queue_depth);
    let reserve_short = top_up > replicas && at_base;
    let reserve_may_join = reserve_short
        && complete
        && backlog as f64 <= drained_below
        && !queue_over
        && obs.ready_replicas >= replicas;

    // Workers are instant, so they grow once half the headroom is used; pods take time to
    // start, so they are ordered as soon as the full headroom no longer fits in the current ones.
    // When the reserve's pods may join and the running pods could carry the load with more
    // workers, the reserve brings those workers instead (rule 12a below): raising the running
    // pods for the start-up only to trim the surplus over every pod after the dwell would turn
    // capacity up and then down. Only while the backlog the running pods leave until the
    // reserve consumes stays within lagSeconds of arrivals; beyond it, lag comes first.
    let short_until_joined = backlog as f64
        + (lambda - current as f64 * mu).max(0.0) * cfg.pod_ready_estimate.as_secs_f64();
    let reserve_brings_workers =
        reserve_may_join && short_until_joined <= lambda * cfg.targets.lag_seconds;
    let pods_needed = layout(cfg, p, replicas, wanted, true).replicas > replicas;
    'grow: {
        if trigger > current || pods_needed {
            // Pods that must be added anyway bring the reserve with them (one rebalance, not two).
            let sizing = if pods_needed { &kept } else { cfg };
            let mut up = layout(sizing, p, replicas, wanted, true);
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
            if up.effective <= current {
                return Decision {
                    wanted,
                    ..hold(
                        Reason::AtMaximum,
                        format!("{rates}; no more usable workers within the bounds and partitions"),
                        PolicyState {
                            up_since: None,
                            down_since: None,
                            down_peak: 0,
                            ..state.clone()
                        },
                    )
                };
            }
            if let Some(why) = sink_saturated(cfg, state, obs, now) {
                return Decision {
                    wanted,
                    ..hold(
                        Reason::SinkSaturated,
                        format!("{rates}; not adding workers: {why}"),
                        PolicyState {
                            up_since: None,
                            down_since: None,
                            down_peak: 0,
                            ..state.clone()
                        },
                    )
                };
            }
            let since = state.up_since.unwrap_or(now);
            if now.saturating_sub(since) < cfg.scale_up_stabilization {
                return Decision {
                    wanted,
                    ..hold(
                        Reason::ScaleUpPending,
                        format!("{rates}; waiting for the scale-up stabilization window"),
                        PolicyState {
                            up_since: Some(since),
                            down_since: None,
                            down_peak: 0,
                            ..state.clone()
                        },
                    )
                };
            }
            if !pods_needed && reserve_brings_workers {
                break 'grow;
            }
            if up.replicas > replicas && obs.ready_replicas < replicas {
                // Pods are still starting: grow the workers live, hold the pods until they join.
                up = layout(
                    &PolicyConfig {
                        replicas: super::config::Bounds {
                            min: replicas,
                            max: replicas,
                        },
                        ..cfg.clone()
                    },
                    p,
                    replicas,
                    wanted,
                    true,
                );
                if up.effective <= current {
                    return Decision {
                        wanted,
                        ..hold(
                            Reason::PodsNotReady,
                            format!(
                                "{rates}; pods are still starting, holding until they are ready"
                            ),
                            PolicyState {
                                up_since: None,
                                ..state.clone()
                            },
                        )
                    };
                }
            }
            let reason = if up.replicas > replicas {
                Reason::ScaleUpReplicas
            } else {
                Reason::ScaleUpWorkers
            };
            let mark = ScaleUpMark {
                at: now,
                flush_latency: obs.flush_latency.unwrap_or(0.0),
                throughput: obs.throughput.unwrap_or(0.0),
            };
            // Capacity released within twice the dwell and wanted back: wait longer next time.
            let undoes_down = state
                .last_down
                .is_some_and(|t| now.saturating_sub(t) <= dwell(cfg, state) * FLAP_WINDOW_DWELLS);
            let dwell_doublings = if undoes_down {
                (state.dwell_doublings + 1).min(MAX_DWELL_DOUBLINGS)
            } else {
                0
            };
            return decision(
                up,
                reason,
                format!("{rates}; scaling up to {}×{}", up.replicas, up.workers),
                PolicyState {
                    up_since: None,
                    down_since: None,
                    down_peak: 0,
                    last_up: Some(mark),
                    last_scale: Some(now),
                    last_down: state.last_down,
                    dwell_doublings,
                    recent_rates: state.recent_rates.clone(),
                    // Pods the load needs bring the reserve, sized for the rate now.
                    reserve_rate: if up.replicas > replicas && cfg.surge_factor > 1.0 {
                        Some(lambda)
                    } else {
                        state.reserve_rate
                    },
                },
            );
        }
    }

    let state = PolicyState {
        up_since: None,
        ..state.clone()
    };
    if reserve_short {
        let why = format!(
            "surge reserve: {} × {lambda:.0}/s needs {top_up} pods of {} workers",
            cfg.surge_factor, cfg.workers.max
        );
        // Optional capacity: added only on fresh data, with no backlog draining and no pod
        // starting, so the rebalance it causes never delays a drain.
        if !reserve_may_join {
            return Decision {
                wanted,
                ..hold(
                    Reason::Steady,
                    format!(
                        "{rates}; {why}, added once the signals are fresh, the backlog drained and every pod ready"
                    ),
                    PolicyState {
                        down_since: None,
                        down_peak: 0,
                        ..state
                    },
                )
            };
        }
        // The load's workers spread over every pod, `ceil(N / pods)` each, so that no trim
        // follows once the reserve has joined. Running pods never lose workers while the
        // reserve starts: when they run more than the spread, they keep them and the surplus
        // is trimmed after the dwell like any other.
        let topped = PolicyConfig {
            replicas: Bounds {
                min: cfg.replicas.min.max(top_up),
                max: cfg.replicas.max,
            },
            ..cfg.clone()
        };
        let spread = layout(&topped, p, top_up, wanted.max(current), true);
        let w = spread
            .workers
            .max(workers)
            .min(cfg.workers.max.max(cfg.workers.min));
        let grow = Layout {
            workers: w,
            effective: effective_workers(p, spread.replicas, w),
            ..spread
        };
        return decision(
            grow,
            Reason::SurgeReserve,
            format!(
                "{rates}; {why}: scaling up to {}×{}",
                grow.replicas, grow.workers
            ),
            PolicyState {
                up_since: None,
                down_since: None,
                down_peak: 0,
                last_scale: Some(now),
                reserve_rate: Some(lambda),
                // When it brings workers the load wanted, it is that scale-up (rule 9 judges
                // QuestDB against it).
                last_up: if trigger > current {
                    Some(ScaleUpMark {
                        at: now,
                        flush_latency: obs.flush_latency.unwrap_or(0.0),
                        throughput: obs.throughput.unwrap_or(0.0),
                    })
                } else {
                    state.last_up
                },
                ..state
            },
        );
    }
    // Hysteresis on the way down too: a smaller size must keep half as much headroom again.
    let enough = wanted_workers(
        lambda,
        cfg.headroom * DOWN_HEADROOM_FACTOR,
        backlog,
        drain,
        mu,
    );
    let peak = if state.down_since.is_some() {
        state.down_peak.max(enough)
    } else {
        enough
    };
    // The reserve holds the pods that run; it never keeps workers from being trimmed.
    let floor = PolicyConfig {
        replicas: Bounds {
            min: cfg.replicas.min.max(reserve.min(replicas)),
            max: cfg.replicas.max,
        },
        ..cfg.clone()
    };
    let down = layout(&floor, p, replicas, peak, false);
    let smaller = down.replicas < replicas || (down.replicas == replicas && down.workers < workers);
    if !smaller || enough >= current {
        let reset = PolicyState {
            down_since: None,
            down_peak: 0,
            ..state
        };
        return Decision {
            wanted,
            ..hold(Reason::Steady, format!("{rates}; size fits"), reset)
        };
    }
    let reset = PolicyState {
        down_since: None,
        down_peak: 0,
        ..state.clone()
    };
    if !complete {
        return Decision {
            wanted,
            ..hold(
                Reason::StaleSignals,
                format!(
                    "{rates}; fewer would do, but signals are stale or missing: not scaling in"
                ),
                reset,
            )
        };
    }
    if backlog as f64 > drained_below || queue_over {
        return Decision {
            wanted,
            ..hold(
                Reason::BacklogNotDrained,
                format!("{rates}; fewer would do once the backlog is drained"),
                reset,
            )
        };
    }
    if obs.ready_replicas < replicas {
        return Decision {
            wanted,
            ..hold(
                Reason::PodsNotReady,
                format!("{rates}; fewer would do, but pods are still starting"),
                reset,
            )
        };
    }
    let since = state.down_since.unwrap_or(now);
    let held = now.saturating_sub(since);
    let dwell = dwell(cfg, &state);
    if held < dwell {
        let left = (dwell - held).as_secs_f64();
        return Decision {
            wanted,
            ..hold(
                Reason::ScaleDownPending,
                format!(
                    "{rates}; {}×{} would do if it holds {left:.0}s more",
                    down.replicas, down.workers
                ),
                PolicyState {
                    down_since: Some(since),
                    down_peak: peak,
                    ..state
                },
            )
        };
    }
    let reason = if down.replicas < replicas {
        Reason::ScaleDownReplicas
    } else {
        Reason::ScaleDownWorkers
    };
    decision(
        down,
        reason,
        format!(
            "{rates}; headroom held {:.0}s with the backlog drained: scaling down to {}×{}",
            held.as_secs_f64(),
            down.replicas,
            down.workers
        ),
        PolicyState {
            up_since: None,
            down_since: None,
            down_peak: 0,
            last_up: None,
            last_scale: Some(now),
            last_down: Some(now),
            dwell_doublings: state.dwell_doublings,
            recent_rates: state.recent_rates.clone(),
            reserve_rate: state.reserve_rate,
        },
    )
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
