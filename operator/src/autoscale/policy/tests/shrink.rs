//! The rules of scaling in (13–17): one test per rule, named as the sentence it checks.

use super::*;

#[test]
fn scaling_down_waits_for_the_dwell_time() {
    let obs = at(&calm(), 2, 8);
    let d = run(&cfg(), &calm_state(6000.0, 99), &obs, 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (2, 8, Reason::ScaleDownPending)
    );
    let (_, changes) = follow(&cfg(), &calm_state(6000.0, 99), &obs, 100, 300);
    assert_eq!(changes[0], (220, 1, 2, Reason::ScaleDownReplicas));
}

#[test]
fn scaling_down_goes_no_lower_than_the_most_wanted_during_the_last_dwell() {
    // 20 000/s for one second at 150 s wants 6 workers: the trim at the end of the dwell
    // keeps them, and the next one (of workers alone: after the longest dwell, 480 s), once
    // the busier second has left that window, goes to what 6000/s wants.
    let obs = at(&calm(), 2, 8);
    let (state, mut changes) = follow(&cfg(), &calm_state(6000.0, 99), &obs, 100, 149);
    let busier = Observations {
        arrival_rate: Some(20_000.0),
        ..obs.clone()
    };
    let d = run(&cfg(), &state, &busier, 150);
    assert_eq!(d.reason, Reason::ScaleDownPending);
    let (_, more) = follow(&cfg(), &d.state, &obs, 151, 800);
    changes.extend(more);
    assert_eq!(
        changes,
        [
            (220, 1, 6, Reason::ScaleDownReplicas),
            (701, 1, 2, Reason::ScaleDownWorkers)
        ]
    );
}

#[test]
fn capacity_wanted_back_soon_after_its_release_doubles_the_next_dwell_once_per_reversal() {
    let cfg = cfg();
    let calm2x8 = at(&calm(), 2, 8);
    // Released after the 120 s dwell …
    let (state, changes) = follow(&cfg, &calm_state(6000.0, 99), &calm2x8, 100, 230);
    assert_eq!(changes, [(220, 1, 2, Reason::ScaleDownReplicas)]);
    assert_eq!(state.dwell_doublings, 0);
    // … and wanted back 80 s later (within two dwells): the next dwell is 240 s, however many
    // scale-ups the load takes (one reversal, one doubling).
    let spike = Observations {
        arrival_rate: Some(60_000.0),
        ..calm()
    };
    let d = run(&cfg, &state, &spike, 300);
    assert_eq!((d.replicas, d.reason), (2, Reason::ScaleUpReplicas));
    assert_eq!(d.state.dwell_doublings, 1);
    let more = Observations {
        arrival_rate: Some(75_000.0),
        ..at(&calm(), 2, 8)
    };
    let d = run(&cfg, &d.state, &more, 301);
    assert_eq!((d.replicas, d.reason), (3, Reason::ScaleUpReplicas));
    assert_eq!(d.state.dwell_doublings, 1);
    let (_, changes) = follow(&cfg, &d.state, &at(&calm(), 3, 8), 302, 700);
    assert_eq!(changes[0], (542, 1, 2, Reason::ScaleDownReplicas));
    // Flapping again doubles it again, up to four times the configured dwell.
    let mut state = d.state;
    for now in [560, 1000, 1400] {
        let d = run(&cfg, &state, &spike, now);
        assert_eq!(d.reason, Reason::ScaleUpReplicas);
        state = PolicyState {
            last_down: Some(secs(now + 5)),
            last_scale: Some(secs(now + 5)),
            ..d.state
        };
    }
    assert_eq!(state.dwell_doublings, 2);
    // A scale-up long after the last release is a new load, not a flap: back to the dwell set.
    let d = run(&cfg, &state, &spike, 1405 + 4 * 120 * 2 + 1);
    assert_eq!(d.reason, Reason::ScaleUpReplicas);
    assert_eq!(d.state.dwell_doublings, 0);
}

#[test]
fn a_need_for_the_current_size_restarts_the_dwell() {
    let obs = at(&calm(), 2, 8);
    let (state, _) = follow(&cfg(), &calm_state(6000.0, 99), &obs, 100, 149);
    let busy = Observations {
        arrival_rate: Some(62_000.0),
        ..obs.clone()
    };
    let d = run(&cfg(), &state, &busy, 150);
    assert_eq!(d.reason, Reason::Steady);
    let (_, changes) = follow(&cfg(), &d.state, &obs, 151, 400);
    assert_eq!(changes[0].0, 271, "{changes:?}");
}

#[test]
fn a_trim_that_frees_neither_a_pod_nor_the_headroom_share_of_the_workers_waits() {
    // 26 000/s keeps 7 of the 8 workers: a trim of one, under a fifth, is not made. Once the
    // load falls to 6000/s, the trim comes once 26 000/s has left the longest dwell (480 s),
    // in one step.
    let busy = Observations {
        arrival_rate: Some(26_000.0),
        ..at(&calm(), 1, 8)
    };
    let (state, changes) = follow(&cfg(), &calm_state(26_000.0, 99), &busy, 100, 600);
    assert_eq!(changes, []);
    let d = run(&cfg(), &state, &busy, 601);
    assert_eq!(d.reason, Reason::ScaleDownPending);
    assert!(d.message.contains("too few"), "{}", d.message);
    let (_, changes) = follow(&cfg(), &d.state, &at(&calm(), 1, 8), 602, 1200);
    assert_eq!(changes, [(1082, 1, 2, Reason::ScaleDownWorkers)]);
}

#[test]
fn capacity_is_released_only_on_a_calm_rate() {
    // The load falls by 2 % a second from 20 000/s for 150 s, then holds: the dwell passes
    // during the fall, but the trim waits until the rate has been flat for the calm window.
    let cfg = cfg();
    let mut state = calm_state(20_000.0, 99);
    let mut reasons = Vec::new();
    for t in 100..=400u64 {
        let rate = 20_000.0 * 0.98f64.powi((t - 100).min(150) as i32);
        let obs = Observations {
            arrival_rate: Some(rate),
            ..at(&calm(), 2, 8)
        };
        let d = run(&cfg, &state, &obs, t);
        reasons.push((t, d.reason));
        if d.changes(2, 8) {
            assert_eq!(d.reason, Reason::ScaleDownReplicas);
            assert!(
                t >= 250 + CALM_WINDOW.as_secs() * 9 / 10,
                "t={t}: {}",
                d.message
            );
            assert!(reasons.contains(&(220, Reason::RateNotCalm)), "{reasons:?}");
            return;
        }
        state = d.state;
    }
    panic!("never released: {:?}", &reasons[reasons.len() - 5..]);
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
fn a_pods_workers_alone_are_trimmed_only_after_the_longest_dwell_the_back_off_reaches() {
    // 2 × 8 at 6000/s: the pod goes after the dwell in force (120 s, see above); 1 × 8 keeps
    // its workers for four times that (a worker held costs no pod and no rebalance).
    let (_, changes) = follow(
        &cfg(),
        &calm_state(6000.0, 99),
        &at(&calm(), 1, 8),
        100,
        700,
    );
    assert_eq!(changes, [(580, 1, 2, Reason::ScaleDownWorkers)]);
}
