//! Sizing ahead of a steep ramp (rules 6–8): one test per rule, named as the sentence it checks.

use super::*;

/// A state calm at 6000/s until 97 s, then rising by `step` a second at 98 and 99 s.
fn ramping(step: f64) -> PolicyState {
    let mut window = samples(6000.0, 67, 97);
    for (k, t) in [98u64, 99].into_iter().enumerate() {
        window.push(Sample {
            at: secs(t),
            rate: 6000.0 + step * (k + 1) as f64,
            backlog: 0,
        });
    }
    PolicyState {
        window,
        ..PolicyState::default()
    }
}

/// The observations at 100 s of a rate that has risen by `step` a second for three seconds,
/// the smoothed rate lagging behind the sample.
fn rising(step: f64, replicas: u32, workers: u32) -> Observations {
    Observations {
        arrival_rate: Some(6000.0 + step),
        arrival_sample: Some(6000.0 + 3.0 * step),
        ..at(&calm(), replicas, workers)
    }
}

#[test]
fn a_steep_ramp_gets_the_workers_it_leads_to_within_a_pods_start_up() {
    // 3000/s more every second: 15 000/s now, 60 000/s 15 s on. The load seen wants 3 workers;
    // the running pod takes its 8 at once.
    let d = run(&cfg(), &ramping(3000.0), &rising(3000.0, 1, 2), 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (1, 8, Reason::ScaleUpWorkers),
        "{}",
        d.message
    );
    assert!(
        d.message.contains("ramping 3000/s per second"),
        "{}",
        d.message
    );
}

#[test]
fn pods_are_added_for_the_load_seen_never_for_where_a_ramp_leads_alone() {
    // The same ramp with the pod at its most workers: 9000/s fits in one pod, so no pod is
    // ordered (it would join, and pause the group, in the middle of the ramp).
    let d = run(&cfg(), &ramping(3000.0), &rising(3000.0, 1, 8), 100);
    assert!(!d.changes(1, 8), "{}", d.message);
}

#[test]
fn pods_the_load_needs_during_a_ramp_are_sized_for_where_it_leads() {
    // 10 000/s more every second from 1 × 8: 16 000/s seen is within one pod, 36 000/s sampled;
    // at 40 000/s seen pods are needed, and for where the ramp leads (every partition: three
    // pods) rather than for the load seen (two).
    let (step, seen) = (10_000.0, 40_000.0);
    let obs = Observations {
        arrival_rate: Some(seen),
        arrival_sample: Some(6000.0 + 3.0 * step),
        ..at(&calm(), 1, 8)
    };
    let d = run(&cfg(), &ramping(step), &obs, 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (3, 8, Reason::ScaleUpReplicas),
        "{}",
        d.message
    );
    let flat = run(&cfg(), &calm_state(6000.0, 99), &obs, 100);
    assert_eq!((flat.replicas, flat.reason), (2, Reason::ScaleUpReplicas));
}

#[test]
fn a_single_step_is_not_a_ramp() {
    // One jump from 6000/s to 30 000/s: sized for the load seen (8 workers), not ahead of it.
    let mut state = calm_state(6000.0, 98);
    state.window.push(Sample {
        at: secs(99),
        rate: 30_000.0,
        backlog: 0,
    });
    let obs = Observations {
        arrival_rate: Some(30_000.0),
        arrival_sample: Some(30_000.0),
        ..calm()
    };
    let d = run(&cfg(), &state, &obs, 100);
    assert_eq!(
        (d.replicas, d.workers, d.wanted),
        (1, 8, 8),
        "{}",
        d.message
    );
    assert!(!d.message.contains("ramping"), "{}", d.message);
}
