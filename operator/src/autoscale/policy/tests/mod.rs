//! One test per rule of the policy, each named as the sentence it checks.

use std::time::Duration;

use super::trend::{CALM_WINDOW, Sample};
use super::*;

mod calm;
mod ramp;
mod reserve;
mod scheduled;
mod shrink;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// 24 partitions, 1..=8 workers per pod, 1..=12 pods, μ = 5000/s per worker.
fn cfg() -> PolicyConfig {
    PolicyConfig {
        workers: Bounds { min: 1, max: 8 },
        replicas: Bounds { min: 1, max: 12 },
        ..PolicyConfig::default()
    }
}

/// A calm pipeline: 1 pod × 2 workers, 6000/s arriving, no backlog, everything fresh.
fn calm() -> Observations {
    Observations {
        partitions: 24,
        backlog: Some(0),
        max_partition_lag: Some(0),
        arrival_rate: Some(6000.0),
        arrival_sample: None,
        service_rate: Some(5000.0),
        throughput: Some(6000.0),
        flush_latency: Some(0.02),
        queue_depth: Some(100),
        replicas: 1,
        workers: 2,
        ready_replicas: 1,
        last_rebalance: Some(secs(0)),
        kafka_stale: false,
        metrics_stale: false,
        scheduled: None,
    }
}

fn at(obs: &Observations, replicas: u32, workers: u32) -> Observations {
    Observations {
        replicas,
        workers,
        ready_replicas: replicas,
        ..obs.clone()
    }
}

fn run(cfg: &PolicyConfig, state: &PolicyState, obs: &Observations, now: u64) -> Decision {
    decide(cfg, state, obs, secs(now))
}

/// Samples of a load arriving at `rate` with no backlog, once a second from `from` to `to`.
fn samples(rate: f64, from: u64, to: u64) -> Vec<Sample> {
    (from..=to)
        .map(|t| Sample {
            at: secs(t),
            rate,
            backlog: 0,
        })
        .collect()
}

/// A state that has seen `rate` arrive, calm, for the calm window up to `to` seconds.
fn calm_state(rate: f64, to: u64) -> PolicyState {
    PolicyState {
        window: samples(rate, to - CALM_WINDOW.as_secs(), to),
        ..PolicyState::default()
    }
}

/// Decides once a second from `from` to `to` seconds (inclusive), the observed size following
/// each decision (new pods ready at once); the state at the end and every change of size as
/// (second, pods, workers, reason).
fn follow(
    cfg: &PolicyConfig,
    state: &PolicyState,
    obs: &Observations,
    from: u64,
    to: u64,
) -> (PolicyState, Vec<(u64, u32, u32, Reason)>) {
    let (mut state, mut obs, mut changes) = (state.clone(), obs.clone(), Vec::new());
    for t in from..=to {
        let d = run(cfg, &state, &obs, t);
        if d.changes(obs.replicas, obs.workers) {
            changes.push((t, d.replicas, d.workers, d.reason));
            obs = at(&obs, d.replicas, d.workers);
        }
        state = d.state;
    }
    (state, changes)
}

#[test]
fn a_disabled_autoscaler_leaves_the_size_alone() {
    let cfg = PolicyConfig {
        enabled: false,
        ..cfg()
    };
    let spike = Observations {
        arrival_rate: Some(60_000.0),
        ..calm()
    };
    let d = run(&cfg, &PolicyState::default(), &spike, 100);
    assert_eq!((d.replicas, d.workers, d.reason), (1, 2, Reason::Disabled));
}

#[test]
fn a_size_outside_the_bounds_is_corrected_first() {
    let d = run(&cfg(), &PolicyState::default(), &at(&calm(), 1, 20), 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (1, 8, Reason::OutOfBounds)
    );
}

#[test]
fn more_pods_than_partitions_are_brought_back_to_the_partition_count() {
    let cfg = PolicyConfig {
        replicas: Bounds { min: 1, max: 40 },
        ..cfg()
    };
    let d = run(&cfg, &PolicyState::default(), &at(&calm(), 30, 1), 100);
    assert_eq!((d.replicas, d.reason), (24, Reason::OutOfBounds));
}

#[test]
fn a_spike_is_met_in_one_step_with_workers_first() {
    // 30 000/s needs ceil(30 000·1.2 / 5000) = 8 workers: one pod can hold them.
    let obs = Observations {
        arrival_rate: Some(30_000.0),
        ..calm()
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (1, 8, Reason::ScaleUpWorkers)
    );
    assert_eq!(d.wanted, 8);
}

#[test]
fn pods_are_added_only_when_workers_per_pod_reach_their_bound() {
    // 60 000/s needs 15 workers: more than one pod of 8 can run.
    let obs = Observations {
        arrival_rate: Some(60_000.0),
        ..calm()
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (2, 8, Reason::ScaleUpReplicas)
    );
}

#[test]
fn the_backlog_adds_the_workers_that_drain_it_within_the_drain_time() {
    // 6000·1.2 + 1 200 000 / 60 = 27 200/s → 6 workers.
    let obs = Observations {
        backlog: Some(1_200_000),
        ..calm()
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!((d.wanted, d.workers), (6, 6));
}

#[test]
fn the_group_is_never_sized_beyond_one_worker_per_partition() {
    let obs = Observations {
        arrival_rate: Some(10_000_000.0),
        ..calm()
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(effective_workers(24, d.replicas, d.workers), 24);
    assert_eq!((d.replicas, d.workers), (3, 8));
}

#[test]
fn a_size_one_short_of_the_partitions_is_rounded_up_to_them() {
    // 22 workers wanted with 24 partitions: go to 24.
    let obs = Observations {
        arrival_rate: Some(22.0 * 5000.0 / 1.2),
        ..at(&calm(), 3, 6)
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(d.wanted, 22);
    assert_eq!((d.replicas, d.workers), (3, 8));
    assert_eq!(effective_workers(24, d.replicas, d.workers), 24);
    assert_eq!(snap_to_partitions(23, 24), 24);
    assert_eq!(snap_to_partitions(20, 24), 20);
}

#[test]
fn pods_never_outnumber_partitions_and_spread_them_evenly() {
    let cfg = PolicyConfig {
        workers: Bounds { min: 1, max: 1 },
        replicas: Bounds { min: 1, max: 50 },
        ..cfg()
    };
    let obs = Observations {
        partitions: 10,
        arrival_rate: Some(1_000_000.0),
        ..calm()
    };
    let d = run(&cfg, &PolicyState::default(), &at(&obs, 1, 1), 100);
    assert_eq!((d.replicas, d.workers), (10, 1));
    let l = layout(&cfg, 12, 1, 7, true);
    assert_eq!(l.effective, 7);
    let l = layout(
        &PolicyConfig {
            workers: Bounds { min: 1, max: 4 },
            ..cfg.clone()
        },
        12,
        1,
        12,
        true,
    );
    assert_eq!((l.replicas, l.workers, l.effective), (3, 4, 12));
}

#[test]
fn decisions_are_held_while_a_rebalance_settles() {
    let obs = Observations {
        arrival_rate: Some(60_000.0),
        last_rebalance: Some(secs(95)),
        ..calm()
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (1, 2, Reason::RebalanceSettling)
    );
    let d = run(&cfg(), &PolicyState::default(), &obs, 105);
    assert_eq!(d.reason, Reason::ScaleUpReplicas);
}

#[test]
fn nothing_is_decided_without_the_lag() {
    let obs = Observations {
        backlog: None,
        ..calm()
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(d.reason, Reason::MissingSignals);
}

#[test]
fn the_rate_hint_stands_in_until_the_service_rate_is_measured() {
    let obs = Observations {
        service_rate: None,
        arrival_rate: Some(30_000.0),
        ..calm()
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(d.reason, Reason::UnknownServiceRate);
    let cfg = PolicyConfig {
        per_worker_rate_hint: Some(10_000.0),
        ..cfg()
    };
    let d = run(&cfg, &PolicyState::default(), &obs, 100);
    assert_eq!((d.workers, d.reason), (4, Reason::ScaleUpWorkers));
}

#[test]
fn pods_are_ordered_as_soon_as_the_full_headroom_no_longer_fits() {
    // 1 × 8 = 40 000/s still carries 35 000/s, but not with 20 % headroom: order the pod now.
    let obs = Observations {
        arrival_rate: Some(35_000.0),
        ..at(&calm(), 1, 8)
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (2, 8, Reason::ScaleUpReplicas)
    );
}

#[test]
fn a_fall_inside_the_down_headroom_keeps_the_size() {
    // 4 workers carry 16 000/s with 25 % headroom, but not with 30 %: keep them.
    let obs = Observations {
        arrival_rate: Some(16_000.0),
        ..at(&calm(), 1, 4)
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(d.reason, Reason::Steady);
}

#[test]
fn a_small_rise_inside_the_headroom_changes_nothing() {
    // 2 workers = 10 000/s; 8 500/s with half the headroom (9 350/s) still fits.
    let obs = Observations {
        arrival_rate: Some(8500.0),
        ..calm()
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(d.reason, Reason::Steady);
}

#[test]
fn scaling_up_waits_for_the_up_stabilization_window_when_one_is_set() {
    let cfg = PolicyConfig {
        scale_up_stabilization: secs(10),
        ..cfg()
    };
    let obs = Observations {
        arrival_rate: Some(30_000.0),
        ..calm()
    };
    let d = run(&cfg, &PolicyState::default(), &obs, 100);
    assert_eq!(d.reason, Reason::ScaleUpPending);
    let d = run(&cfg, &d.state, &obs, 110);
    assert_eq!(d.reason, Reason::ScaleUpWorkers);
}

#[test]
fn workers_stop_being_added_when_questdb_latency_rises_and_throughput_does_not() {
    let first = Observations {
        arrival_rate: Some(30_000.0),
        throughput: Some(20_000.0),
        ..calm()
    };
    let d = run(&cfg(), &PolicyState::default(), &first, 100);
    assert_eq!((d.workers, d.reason), (8, Reason::ScaleUpWorkers));
    let saturated = Observations {
        arrival_rate: Some(60_000.0),
        throughput: Some(20_500.0),
        flush_latency: Some(0.4),
        ..at(&first, 1, 8)
    };
    let held = run(&cfg(), &d.state, &saturated, 120);
    assert_eq!(
        (held.replicas, held.workers, held.reason),
        (1, 8, Reason::SinkSaturated)
    );
    let followed = Observations {
        throughput: Some(39_000.0),
        ..saturated
    };
    let d = run(&cfg(), &d.state, &followed, 120);
    assert_eq!(d.reason, Reason::ScaleUpReplicas);
}

#[test]
fn the_saturation_guard_waits_until_the_last_scale_up_has_taken_effect() {
    let first = Observations {
        arrival_rate: Some(30_000.0),
        throughput: Some(20_000.0),
        ..calm()
    };
    let d = run(&cfg(), &PolicyState::default(), &first, 100);
    let early = Observations {
        arrival_rate: Some(60_000.0),
        flush_latency: Some(0.4),
        throughput: Some(20_000.0),
        ..at(&first, 1, 8)
    };
    assert_eq!(
        run(&cfg(), &d.state, &early, 105).reason,
        Reason::ScaleUpReplicas
    );
}

#[test]
fn while_new_pods_start_only_workers_grow() {
    let obs = Observations {
        arrival_rate: Some(90_000.0),
        ready_replicas: 1,
        ..at(&calm(), 2, 4)
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (2, 8, Reason::ScaleUpWorkers)
    );
    let full = Observations {
        ready_replicas: 1,
        ..at(&obs, 2, 8)
    };
    let d = run(&cfg(), &PolicyState::default(), &full, 100);
    assert_eq!((d.replicas, d.reason), (2, Reason::PodsNotReady));
}

#[test]
fn more_is_never_asked_for_than_the_bounds_allow() {
    let cfg = PolicyConfig {
        replicas: Bounds { min: 1, max: 2 },
        ..cfg()
    };
    let obs = Observations {
        arrival_rate: Some(1_000_000.0),
        ..at(&calm(), 2, 8)
    };
    let d = run(&cfg, &PolicyState::default(), &obs, 100);
    assert_eq!((d.replicas, d.workers, d.reason), (2, 8, Reason::AtMaximum));
}

#[test]
fn every_decision_explains_itself() {
    let obs = Observations {
        arrival_rate: Some(60_000.0),
        ..calm()
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(d.reason.as_str(), "ScaleUpReplicas");
    assert!(d.message.contains("λ=60000/s"), "{}", d.message);
    assert!(d.message.contains("scaling up to 2×8"), "{}", d.message);
    assert!(d.reason.is_scale() && d.changes(1, 2));
}
