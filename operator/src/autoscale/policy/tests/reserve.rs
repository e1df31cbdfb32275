//! The surge reserve's rules (12a and its part of 16): one test per rule, named as the sentence it checks.

use super::*;

fn reserve_cfg() -> PolicyConfig {
    PolicyConfig {
        surge_factor: 10.0,
        ..cfg()
    }
}

/// A state whose last calm base is `base`, seen at `at` seconds, and whose window is calm at
/// `rate` up to `to` seconds.
fn based(base: f64, at: u64, rate: f64, to: u64) -> PolicyState {
    PolicyState {
        calm_bases: vec![(secs(at), base)],
        ..calm_state(rate, to)
    }
}

/// Every second from `from` to `to` at the rate `rate_at(t)` (sample and average alike), on
/// `obs` otherwise; the reasons of the decisions that changed the size, with their second.
fn scale_reasons(
    cfg: &PolicyConfig,
    state: &PolicyState,
    obs: &Observations,
    (from, to): (u64, u64),
    rate_at: impl Fn(u64) -> f64,
) -> (PolicyState, Vec<(u64, Reason)>) {
    let (mut state, mut obs, mut out) = (state.clone(), obs.clone(), Vec::new());
    for t in from..=to {
        let now = Observations {
            arrival_rate: Some(rate_at(t)),
            arrival_sample: Some(rate_at(t)),
            throughput: Some(rate_at(t)),
            ..obs.clone()
        };
        let d = run(cfg, &state, &now, t);
        if d.changes(obs.replicas, obs.workers) {
            out.push((t, d.reason));
            obs = at(&obs, d.replicas, d.workers);
        }
        state = d.state;
    }
    (state, out)
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
fn the_reserve_is_sized_for_the_highest_calm_base_of_the_dwell_and_the_latest_outlasts_it() {
    let w = secs(120);
    let s = PolicyState::default()
        .with_calm_base(secs(0), 5000.0, w)
        .with_calm_base(secs(10), 9000.0, w)
        .with_calm_base(secs(20), 7000.0, w);
    assert_eq!(s.reserve_reference(secs(20), w), Some(9000.0));
    assert_eq!(s.last_calm_base(), Some(7000.0));
    assert_eq!(s.reserve_reference(secs(131), w), Some(7000.0));
    // No calm base for long (a surge longer than the dwell): the latest one still stands.
    assert_eq!(s.reserve_reference(secs(1000), w), Some(7000.0));
    let s = s.with_calm_base(secs(1000), 1000.0, w);
    assert_eq!(s.reserve_reference(secs(1000), w), Some(1000.0));
    assert_eq!(s.calm_bases.len(), 1);
}

#[test]
fn a_surge_reserve_adds_pods_so_that_a_spike_needs_only_live_workers() {
    let d = run(&reserve_cfg(), &calm_state(6000.0, 99), &calm(), 100);
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
    let spike_from_one_pod = Observations {
        arrival_rate: Some(60_000.0),
        ..calm()
    };
    let d = run(&cfg(), &PolicyState::default(), &spike_from_one_pod, 130);
    assert_eq!(d.reason, Reason::ScaleUpReplicas, "{}", d.message);
}

#[test]
fn the_surge_reserve_waits_for_a_calm_window_even_the_first_time() {
    let (_, changes) = scale_reasons(
        &reserve_cfg(),
        &PolicyState::default(),
        &calm(),
        (100, 200),
        |_| 6000.0,
    );
    // The samples from 100 s span the calm window (less a tenth) at 127 s.
    assert_eq!(changes, [(127, Reason::SurgeReserve)]);
}

#[test]
fn no_reserve_pod_joins_while_the_rate_rises_beyond_noise() {
    // ±5 % noise each second, and a rise of 0.3 % a second on top (9 % over the window, less
    // than the drift a calm window may have): the rise is beyond the noise, so no reserve.
    let noise = |t: u64| if t.is_multiple_of(2) { 1.05 } else { 0.95 };
    let rising = |t: u64| 6000.0 * (1.0 + 0.003 * (t - 100) as f64) * noise(t);
    let (_, changes) = scale_reasons(
        &reserve_cfg(),
        &PolicyState::default(),
        &calm(),
        (100, 200),
        rising,
    );
    assert!(
        changes.iter().all(|(_, r)| *r != Reason::SurgeReserve),
        "{changes:?}"
    );
    // The same noise without the rise is calm.
    let flat = |t: u64| 6000.0 * noise(t);
    let (_, changes) = scale_reasons(
        &reserve_cfg(),
        &PolicyState::default(),
        &calm(),
        (100, 200),
        flat,
    );
    assert_eq!(changes, [(127, Reason::SurgeReserve)]);
}

#[test]
fn no_reserve_pod_joins_while_the_backlog_grows() {
    // 300 records more behind every second: 9000 over the window, more than a second of
    // arrivals, while still under the 15 000 (a quarter of lagSeconds) that counts as drained.
    let mut state = PolicyState::default();
    for t in 100..=145u64 {
        let obs = Observations {
            backlog: Some(300 * (t - 100)),
            ..calm()
        };
        let d = run(&reserve_cfg(), &state, &obs, t);
        assert_ne!(d.reason, Reason::SurgeReserve, "t={t}: {}", d.message);
        state = d.state;
    }
}

#[test]
fn a_calm_plateau_above_the_base_is_a_surge_not_a_new_base() {
    // The base is 6000/s (two pods). 20 000/s, flat for ten minutes, would ask for a reserve
    // of every partition (three pods), but it is the surge two pods absorb: no pod joins, and
    // the base is still 6000/s after many dwells.
    let plateau = at(&calm(), 2, 8);
    let (state, changes) = scale_reasons(
        &reserve_cfg(),
        &based(6000.0, 50, 20_000.0, 99),
        &plateau,
        (100, 700),
        |_| 20_000.0,
    );
    assert!(
        changes.iter().all(|(_, r)| *r != Reason::SurgeReserve),
        "{changes:?}"
    );
    assert_eq!(state.last_calm_base(), Some(6000.0));
    // Back at the base, the base is confirmed.
    let (state, _) = scale_reasons(&reserve_cfg(), &state, &plateau, (701, 760), |_| 6500.0);
    assert_eq!(state.last_calm_base(), Some(6500.0));
}

#[test]
fn a_calm_drift_moves_the_base_and_the_reserve_follows_it() {
    // 6000 → 6900 → 7935 → 9125/s, a minute each, every step within the headroom of the last:
    // the base follows, and at 9125/s (91 250/s of surge: three pods) the reserve tops up, on
    // a calm rate.
    let steps = |t: u64| 6000.0 * 1.15f64.powi(((t - 100) / 60).min(3) as i32);
    let (state, changes) = scale_reasons(
        &reserve_cfg(),
        &based(6000.0, 99, 6000.0, 99),
        &at(&calm(), 2, 1),
        (100, 400),
        steps,
    );
    let joins: Vec<_> = changes
        .iter()
        .filter(|(_, r)| *r == Reason::SurgeReserve)
        .collect();
    assert!(
        joins.len() == 1 && joins[0].0 > 280 + CALM_WINDOW.as_secs() * 9 / 10,
        "{changes:?}"
    );
    assert!(state.last_calm_base().unwrap() > 9000.0);
    // The same rise in one jump is a surge: no top-up.
    let (state, changes) = scale_reasons(
        &reserve_cfg(),
        &based(6000.0, 99, 6000.0, 99),
        &at(&calm(), 2, 1),
        (100, 400),
        |t| if t < 280 { 6000.0 } else { 9125.0 },
    );
    assert!(
        changes.iter().all(|(_, r)| *r != Reason::SurgeReserve),
        "{changes:?}"
    );
    assert_eq!(state.last_calm_base(), Some(6000.0));
}

#[test]
fn pods_the_load_needs_in_a_surge_bring_the_reserve_for_the_calm_base_not_for_the_surge() {
    // 96 partitions: 90 000/s needs 22 workers (three pods). Ten times the surge would ask
    // for twelve pods; ten times the 6000/s base asks for two.
    let wide = PolicyConfig {
        replicas: Bounds { min: 1, max: 12 },
        ..reserve_cfg()
    };
    let surge = Observations {
        partitions: 96,
        arrival_rate: Some(90_000.0),
        ..at(&calm(), 2, 8)
    };
    let d = run(&wide, &based(6000.0, 50, 6000.0, 99), &surge, 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (3, 8, Reason::ScaleUpReplicas),
        "{}",
        d.message
    );
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
        let d = run(&reserve_cfg(), &calm_state(6000.0, 99), &obs, 100);
        assert_eq!(d.reason, Reason::Steady, "{}", d.message);
        assert_eq!((d.replicas, d.workers), (1, 2));
        assert!(d.message.contains("surge reserve"), "{}", d.message);
    }
}

#[test]
fn the_surge_reserve_shrinks_only_once_its_base_left_the_window_and_after_the_dwell() {
    let cfg = reserve_cfg();
    let quiet = Observations {
        arrival_rate: Some(1000.0),
        throughput: Some(1000.0),
        ..at(&calm(), 2, 1)
    };
    for metrics_stale in [false, true] {
        let mut state = PolicyState::default().with_calm_base(secs(0), 6000.0, secs(120));
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
    let d = run(&reserve_cfg(), &calm_state(15_000.0, 99), &obs, 100);
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
    let d = run(&reserve_cfg(), &calm_state(32_000.0, 99), &obs, 100);
    assert_eq!(
        (d.replicas, d.workers, d.reason),
        (1, 8, Reason::ScaleUpWorkers)
    );
}
