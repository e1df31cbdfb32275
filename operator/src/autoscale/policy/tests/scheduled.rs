//! Rule 2a, scheduled capacity: one test per behaviour, named as the sentence it checks.

use super::super::scheduled::within_window;
use super::*;

fn window(replicas: u32, workers: u32, surge_factor: f64) -> HeldCapacity {
    HeldCapacity {
        windows: vec!["open (opens 2026-01-12T14:30Z, closes 15:00Z)".into()],
        replicas,
        workers,
        surge_factor,
    }
}

fn held(obs: &Observations, h: Option<HeldCapacity>) -> Observations {
    Observations {
        scheduled: h,
        ..obs.clone()
    }
}

/// Decides once a second from `from` to `to`, the window `open` (seconds, inclusive of its
/// lead) holding `h`; every change of size as (second, pods, workers, reason).
fn follow_window(
    state: &PolicyState,
    obs: &Observations,
    (from, to): (u64, u64),
    open: std::ops::Range<u64>,
    h: &HeldCapacity,
) -> Vec<(u64, u32, u32, Reason)> {
    let (mut state, mut obs, mut changes) = (state.clone(), obs.clone(), Vec::new());
    for t in from..=to {
        let now = held(&obs, open.contains(&t).then(|| h.clone()));
        let d = run(&cfg(), &state, &now, t);
        if d.changes(obs.replicas, obs.workers) {
            changes.push((t, d.replicas, d.workers, d.reason));
            obs = at(&obs, d.replicas, d.workers);
        }
        state = d.state;
    }
    changes
}

#[test]
fn a_window_brings_its_minimums_at_once_under_its_own_reason() {
    let d = run(
        &cfg(),
        &calm_state(6000.0, 99),
        &held(&calm(), Some(window(4, 3, 1.0))),
        100,
    );
    assert_eq!((d.replicas, d.workers, d.reason), (4, 3, Reason::Scheduled));
    assert!(
        d.message.contains("open (opens 2026-01-12T14:30Z"),
        "{}",
        d.message
    );
    assert!(d.message.contains("1×2 → 4×3"), "{}", d.message);
}

#[test]
fn within_a_window_the_size_stays_at_its_minimums_however_calm_the_load() {
    // 6000/s needs 2 workers; the window holds 4 pods × 3 workers from 100 s to 600 s.
    let changes = follow_window(
        &calm_state(6000.0, 99),
        &calm(),
        (100, 600),
        100..601,
        &window(4, 3, 1.0),
    );
    assert_eq!(changes, [(100, 4, 3, Reason::Scheduled)]);
}

#[test]
fn a_closed_window_releases_its_capacity_after_the_dwell() {
    let changes = follow_window(
        &calm_state(6000.0, 99),
        &calm(),
        (100, 900),
        100..400,
        &window(4, 3, 1.0),
    );
    assert_eq!(changes[0], (100, 4, 3, Reason::Scheduled));
    let (t, replicas, workers, reason) = changes[1];
    assert_eq!(
        (replicas, workers, reason),
        (1, 2, Reason::ScaleDownReplicas)
    );
    // Not before the window closes and the 120 s dwell has passed.
    assert!((520..=530).contains(&t), "released at {t}");
    assert_eq!(changes.len(), 2, "{changes:?}");
}

#[test]
fn a_window_that_asks_for_less_than_the_load_changes_nothing() {
    let busy = Observations {
        arrival_rate: Some(30_000.0),
        ..at(&calm(), 2, 8)
    };
    let d = run(
        &cfg(),
        &calm_state(30_000.0, 99),
        &held(&busy, Some(window(1, 2, 1.0))),
        100,
    );
    assert_ne!(d.reason, Reason::Scheduled);
    assert_eq!((d.replicas, d.workers), (2, 8));
}

#[test]
fn a_window_holds_no_more_than_the_bounds_and_the_partitions_allow() {
    let d = run(
        &cfg(),
        &calm_state(6000.0, 99),
        &held(&calm(), Some(window(40, 300, 1.0))),
        100,
    );
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (12, 8, Reason::Scheduled)
    );
    let cfg = PolicyConfig {
        replicas: Bounds { min: 1, max: 40 },
        ..cfg()
    };
    let d = run(
        &cfg,
        &calm_state(6000.0, 99),
        &held(&calm(), Some(window(40, 1, 1.0))),
        100,
    );
    assert_eq!(
        (d.replicas, d.reason),
        (24, Reason::Scheduled),
        "24 partitions"
    );
}

#[test]
fn a_size_beyond_the_bounds_is_an_out_of_bounds_correction_within_a_window_too() {
    let d = run(
        &cfg(),
        &PolicyState::default(),
        &held(&at(&calm(), 1, 20), Some(window(3, 1, 1.0))),
        100,
    );
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (3, 8, Reason::OutOfBounds)
    );
}

#[test]
fn a_disabled_autoscaler_ignores_windows() {
    let cfg = PolicyConfig {
        enabled: false,
        ..cfg()
    };
    let d = run(
        &cfg,
        &PolicyState::default(),
        &held(&calm(), Some(window(4, 4, 1.0))),
        100,
    );
    assert_eq!((d.replicas, d.workers, d.reason), (1, 2, Reason::Disabled));
}

#[test]
fn a_window_raises_the_surge_factor_only_above_the_configured_one() {
    let base = PolicyConfig {
        surge_factor: 2.0,
        ..cfg()
    };
    let w = window(0, 0, 5.0);
    let raised = within_window(&base, Some(&w));
    assert_eq!(raised.surge_factor, 5.0);
    assert_eq!(
        (raised.replicas, raised.workers),
        (base.replicas, base.workers),
        "no minimum asked, none raised"
    );
    let lower = window(0, 0, 1.5);
    assert_eq!(within_window(&base, Some(&lower)).surge_factor, 2.0);
    assert_eq!(*within_window(&base, None), base);
}

#[test]
fn a_window_with_a_surge_factor_keeps_its_reserve_of_pods() {
    // 6000/s calm at 1 pod × 2 workers, the configured surge factor 1 (no reserve); the window
    // asks for 20 × 6000/s = 120 000/s, carried at 8 workers × 5000/s a pod by 3 pods.
    let d = run(
        &cfg(),
        &calm_state(6000.0, 99),
        &held(&calm(), Some(window(0, 0, 20.0))),
        100,
    );
    assert_eq!(
        (d.replicas, d.reason),
        (3, Reason::SurgeReserve),
        "{}",
        d.message
    );
}
