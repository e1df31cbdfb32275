//! One test per rule of the policy, each named as the sentence it checks.

use std::time::Duration;

use super::*;

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
fn scaling_down_waits_for_the_dwell_time() {
    let obs = at(&calm(), 2, 8);
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (2, 8, Reason::ScaleDownPending)
    );
    let d = run(&cfg(), &d.state, &obs, 160);
    assert_eq!(d.reason, Reason::ScaleDownPending);
    let d = run(&cfg(), &d.state, &obs, 220);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (1, 2, Reason::ScaleDownReplicas)
    );
}

#[test]
fn scaling_down_goes_no_lower_than_the_most_wanted_during_the_dwell() {
    let obs = at(&calm(), 2, 8);
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    let busier = Observations {
        arrival_rate: Some(20_000.0),
        ..obs.clone()
    };
    let d = run(&cfg(), &d.state, &busier, 150);
    assert_eq!(d.reason, Reason::ScaleDownPending);
    let d = run(&cfg(), &d.state, &obs, 220);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (1, 6, Reason::ScaleDownReplicas)
    );
}

#[test]
fn capacity_wanted_back_soon_after_its_release_doubles_the_next_dwell() {
    let calm2x8 = at(&calm(), 2, 8);
    let spike = Observations {
        arrival_rate: Some(60_000.0),
        ..calm()
    };
    // Released after the 120 s dwell …
    let d = run(&cfg(), &PolicyState::default(), &calm2x8, 100);
    let d = run(&cfg(), &d.state, &calm2x8, 220);
    assert_eq!(d.reason, Reason::ScaleDownReplicas);
    assert_eq!(d.state.dwell_doublings, 0);
    // … and wanted back 80 s later (within two dwells): the next dwell is 240 s.
    let d = run(&cfg(), &d.state, &spike, 300);
    assert_eq!((d.replicas, d.reason), (2, Reason::ScaleUpReplicas));
    assert_eq!(d.state.dwell_doublings, 1);
    let d = run(&cfg(), &d.state, &calm2x8, 310);
    let d = run(&cfg(), &d.state, &calm2x8, 430);
    assert_eq!(d.reason, Reason::ScaleDownPending, "{}", d.message);
    let d = run(&cfg(), &d.state, &calm2x8, 550);
    assert_eq!(d.reason, Reason::ScaleDownReplicas);
    // Flapping again doubles it again, up to four times the configured dwell.
    let mut state = d.state;
    for now in [560, 1000, 1400] {
        let d = run(&cfg(), &state, &spike, now);
        assert_eq!(d.reason, Reason::ScaleUpReplicas);
        state = PolicyState {
            last_down: Some(Duration::from_secs(now + 5)),
            ..d.state
        };
    }
    assert_eq!(state.dwell_doublings, 2);
    // A scale-up long after the last release is a new load, not a flap: back to the dwell set.
    let d = run(&cfg(), &state, &spike, 1405 + 4 * 120 * 2 + 1);
    assert_eq!(d.reason, Reason::ScaleUpReplicas);
    assert_eq!(d.state.dwell_doublings, 0);
}

#[test]
fn a_need_for_the_current_size_restarts_the_dwell() {
    let obs = at(&calm(), 2, 8);
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    let busy = Observations {
        arrival_rate: Some(62_000.0),
        ..obs.clone()
    };
    let d = run(&cfg(), &d.state, &busy, 150);
    assert_eq!(d.reason, Reason::Steady);
    let d = run(&cfg(), &d.state, &obs, 220);
    assert_eq!(d.reason, Reason::ScaleDownPending);
}

#[test]
fn scaling_in_never_happens_on_stale_data() {
    for obs in [
        Observations {
            kafka_stale: true,
            ..at(&calm(), 2, 8)
        },
        Observations {
            metrics_stale: true,
            ..at(&calm(), 2, 8)
        },
        Observations {
            arrival_rate: None,
            throughput: Some(6000.0),
            ..at(&calm(), 2, 8)
        },
    ] {
        let cfg = PolicyConfig {
            per_worker_rate_hint: Some(5000.0),
            ..cfg()
        };
        let d = run(&cfg, &PolicyState::default(), &obs, 100);
        let d = run(&cfg, &d.state, &obs, 400);
        assert_eq!(
            (d.replicas, d.workers, d.reason),
            (2, 8, Reason::StaleSignals)
        );
    }
}

#[test]
fn scaling_in_never_happens_on_an_unmeasured_service_rate() {
    let cfg = PolicyConfig {
        per_worker_rate_hint: Some(5000.0),
        ..cfg()
    };
    let obs = Observations {
        service_rate: None,
        ..at(&calm(), 2, 8)
    };
    let d = run(&cfg, &PolicyState::default(), &obs, 100);
    assert_eq!(d.reason, Reason::StaleSignals);
}

#[test]
fn scaling_in_waits_until_the_backlog_is_drained() {
    // 200 000 behind at 6000/s is 33 s of arrivals: far over a quarter of the 10 s target.
    let obs = Observations {
        backlog: Some(200_000),
        ..at(&calm(), 2, 8)
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(d.reason, Reason::BacklogNotDrained);
    let deep_queue = Observations {
        queue_depth: Some(500_000),
        ..at(&calm(), 2, 8)
    };
    assert_eq!(
        run(&cfg(), &PolicyState::default(), &deep_queue, 100).reason,
        Reason::BacklogNotDrained
    );
}

#[test]
fn scaling_in_waits_for_starting_pods() {
    let obs = Observations {
        ready_replicas: 1,
        ..at(&calm(), 2, 8)
    };
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(d.reason, Reason::PodsNotReady);
}

#[test]
fn a_smaller_size_within_the_same_pods_only_lowers_the_workers() {
    let obs = at(&calm(), 1, 8);
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    let d = run(&cfg(), &d.state, &obs, 300);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (1, 2, Reason::ScaleDownWorkers)
    );
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

fn reserve_cfg() -> PolicyConfig {
    PolicyConfig {
        surge_factor: 10.0,
        ..cfg()
    }
}

#[test]
fn the_surge_reserve_is_the_fewest_pods_whose_most_workers_carry_the_surge() {
    // 6000/s × 10 = 60 000/s = 12 workers of 5000/s: two pods of up to 8.
    assert_eq!(surge_reserve(&reserve_cfg(), 24, 6000.0, 5000.0), 2);
    assert_eq!(surge_reserve(&cfg(), 24, 6000.0, 5000.0), 0);
    // Never more than it takes to give every partition a worker (24 = 3 pods of 8) …
    assert_eq!(surge_reserve(&reserve_cfg(), 24, 600_000.0, 5000.0), 3);
    // … nor more than replicas.max.
    let capped = PolicyConfig {
        replicas: Bounds { min: 1, max: 2 },
        ..reserve_cfg()
    };
    assert_eq!(surge_reserve(&capped, 24, 600_000.0, 5000.0), 2);
}

#[test]
fn the_reference_rate_is_the_highest_of_the_window() {
    let w = secs(120);
    let s = PolicyState::default()
        .with_rate(secs(0), 5000.0, w)
        .with_rate(secs(10), 9000.0, w)
        .with_rate(secs(20), 7000.0, w);
    assert_eq!(s.recent_peak_rate(), Some(9000.0));
    let s = s.with_rate(secs(131), 1000.0, w);
    assert_eq!(s.recent_peak_rate(), Some(7000.0));
    let s = s.with_rate(secs(141), 1000.0, w);
    assert_eq!(s.recent_peak_rate(), Some(1000.0));
    assert_eq!(s.recent_rates.len(), 1);
}

#[test]
fn a_surge_reserve_adds_pods_so_that_a_spike_needs_only_live_workers() {
    let d = run(&reserve_cfg(), &PolicyState::default(), &calm(), 100);
    assert_eq!(d.reason, Reason::SurgeReserve, "{}", d.message);
    // Two pods; the running one keeps its two workers while the other starts.
    assert_eq!((d.replicas, d.workers), (2, 2));
    assert!(d.message.contains("surge reserve"), "{}", d.message);

    let spike = Observations {
        arrival_rate: Some(60_000.0),
        ..at(&calm(), 2, 2)
    };
    let d = run(&reserve_cfg(), &d.state, &spike, 130);
    assert_eq!(d.reason, Reason::ScaleUpWorkers, "{}", d.message);
    assert_eq!((d.replicas, d.workers), (2, 8));
    // While the surge lasts, no pods join for a reserve against a further surge: they would
    // pause the partitions absorbing this one (60 000 × 10 would want every partition).
    let absorbing = at(&spike, 2, 8);
    let mut state = d.state.clone();
    for t in 131..=400 {
        let next = run(&reserve_cfg(), &state, &absorbing, t);
        assert!(!next.changes(2, 8), "t={t}: {}", next.message);
        state = next.state;
    }
    // Without the reserve the same spike has to wait for pods.
    let d = run(&cfg(), &PolicyState::default(), &spike_from_one_pod(), 130);
    assert_eq!(d.reason, Reason::ScaleUpReplicas, "{}", d.message);
}

fn spike_from_one_pod() -> Observations {
    Observations {
        arrival_rate: Some(60_000.0),
        ..calm()
    }
}

#[test]
fn the_surge_reserve_waits_for_fresh_signals_a_drained_backlog_and_ready_pods() {
    let stale = Observations {
        metrics_stale: true,
        ..calm()
    };
    let behind = Observations {
        backlog: Some(20_000),
        ..calm()
    };
    let starting = Observations {
        ready_replicas: 0,
        ..calm()
    };
    for obs in [stale, behind, starting] {
        let d = run(&reserve_cfg(), &PolicyState::default(), &obs, 100);
        assert_eq!(d.reason, Reason::Steady, "{}", d.message);
        assert_eq!((d.replicas, d.workers), (1, 2));
        assert!(d.message.contains("surge reserve"), "{}", d.message);
    }
}

#[test]
fn the_surge_reserve_shrinks_only_once_its_peak_rate_left_the_window_and_after_the_dwell() {
    let cfg = reserve_cfg();
    let quiet = Observations {
        arrival_rate: Some(1000.0),
        throughput: Some(1000.0),
        ..at(&calm(), 2, 1)
    };
    for metrics_stale in [false, true] {
        let mut state = PolicyState::default().with_rate(secs(0), 6000.0, secs(120));
        let (mut size, mut down_at) = ((2, 1), None);
        for t in 1..=400 {
            let obs = Observations {
                metrics_stale,
                ..at(&quiet, size.0, size.1)
            };
            let d = run(&cfg, &state, &obs, t);
            state = d.state.clone();
            if d.changes(size.0, size.1) {
                assert_eq!(d.reason, Reason::ScaleDownReplicas, "t={t}: {}", d.message);
                down_at.get_or_insert(t);
                size = (d.replicas, d.workers);
            }
        }
        if metrics_stale {
            assert_eq!(down_at, None, "never scales in on stale data");
        } else {
            let t = down_at.expect("the reserve is released");
            assert!(t >= 240, "released at {t}s, before window and dwell");
            assert_eq!(size, (1, 1));
        }
    }
}

#[test]
fn a_reserve_short_when_the_load_needs_workers_brings_them_spread_over_its_pods() {
    // 15 000/s from 1 × 2: the load wants 4 workers, which the running pod could take live,
    // and 10 × the rate wants every partition (3 pods of 8). The reserve brings the 4 workers,
    // 2 on each of its 3 pods; the running pod is not raised for the start-up only to have
    // every pod trimmed after the dwell.
    let obs = Observations {
        arrival_rate: Some(15_000.0),
        throughput: Some(10_000.0),
        ..calm()
    };
    let d = run(&reserve_cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(d.reason, Reason::SurgeReserve, "{}", d.message);
    assert_eq!((d.replicas, d.workers), (3, 2));
    // Once its pods are ready, the size holds: capacity went up once and never down.
    let joined = Observations {
        throughput: Some(15_000.0),
        ..at(&obs, 3, 2)
    };
    let mut state = d.state;
    for t in 101..=500 {
        let next = run(&reserve_cfg(), &state, &joined, t);
        assert!(!next.changes(3, 2), "t={t}: {}", next.message);
        state = next.state;
    }
    // Without the reserve the running pod takes the workers live.
    let d = run(&cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (1, 4, Reason::ScaleUpWorkers)
    );
}

#[test]
fn the_reserve_brings_the_workers_only_while_the_lag_until_it_joins_stays_within_target() {
    // 32 000/s from 1 × 2: until the reserve consumes (15 s), the running pod would fall
    // 22 000/s behind, 330 000 records, over the 320 000 of lagSeconds (10 s) of arrivals:
    // the running pod is raised first, and the reserve joins once the backlog is drained.
    let obs = Observations {
        arrival_rate: Some(32_000.0),
        throughput: Some(10_000.0),
        ..calm()
    };
    let d = run(&reserve_cfg(), &PolicyState::default(), &obs, 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (1, 8, Reason::ScaleUpWorkers)
    );
}
