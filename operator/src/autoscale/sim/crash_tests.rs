//! spate on ramped flash crashes and a self-exciting market: no reserve pod joins during a
//! surge, and spate is no worse than KEDA+HPA, whatever the surge factor.

use super::market::{CRASH_SERIES, FLASH_CRASH, Shock};
use super::*;
use crate::autoscale::policy::trend::{CALM_WINDOW, fit};
use crate::autoscale::policy::{PolicyConfig, Reason};

/// The base of the scenario's traces: a 25 × crash needs every partition.
const BASE: f64 = 12_000.0;
/// A base at which one pod of 8 workers (80 000/s) carries a 25 × crash (50 000/s), as on the
/// pipeline whose first flash crash the reserve met with a rebalance.
const SMALL_BASE: f64 = 2_000.0;

fn with_surge_factor(surge_factor: f64, seed: u64) -> Scenario {
    let s = Scenario::default();
    Scenario {
        policy: PolicyConfig {
            surge_factor,
            ..s.policy.clone()
        },
        seed,
        ..s
    }
}

/// The shocks of a built-in trace, if it has any.
fn shocks(name: &str) -> &'static [Shock] {
    match name {
        "flashcrash" => &FLASH_CRASH,
        "crashes" => &CRASH_SERIES,
        _ => &[],
    }
}

#[test]
fn no_reserve_pod_joins_while_the_rate_rises_beyond_noise_or_a_shock_is_under_way() {
    let window = CALM_WINDOW.as_secs() as usize;
    let mut joins = 0;
    for name in ["flashcrash", "crashes", "hawkes"] {
        for seed in 1..=4 {
            let trace = built_in(name, BASE, seed).unwrap();
            for surge_factor in [10.0, 25.0] {
                let run = with_surge_factor(surge_factor, seed).run_spate(&trace);
                for e in run
                    .events
                    .iter()
                    .filter(|e| e.reason == Some(Reason::SurgeReserve))
                {
                    joins += 1;
                    let at = e.t.round() as usize;
                    let from = at.saturating_sub(window);
                    let points: Vec<(f64, f64)> =
                        (from..at).map(|s| (s as f64, trace.rates[s])).collect();
                    let rate = fit(&points).expect("a window of the trace");
                    assert!(
                        !rate.rises(0.0),
                        "{name} seed {seed} ×{surge_factor}: a reserve join at {at}s on a rate rising beyond noise: {rate:?}"
                    );
                    let lags: Vec<(f64, f64)> = run.samples[from..at]
                        .iter()
                        .map(|x| (x.t, x.lag as f64))
                        .collect();
                    let lag = fit(&lags).expect("a window of the run");
                    assert!(
                        !lag.rises(trace.rates[at]),
                        "{name} seed {seed} ×{surge_factor}: a reserve join at {at}s on a growing backlog: {lag:?}"
                    );
                    for k in shocks(name) {
                        let (start, end) = k.active(0.05);
                        assert!(
                            !(start..end).contains(&e.t),
                            "{name} seed {seed} ×{surge_factor}: a reserve join at {at}s during the shock {k:?}"
                        );
                    }
                }
            }
        }
    }
    // The check is not vacuous: the reserve is established (on the calm start) in every run.
    assert!(joins >= 3 * 4 * 2, "{joins} reserve joins");
}

#[test]
fn on_ramped_flash_crashes_spate_is_no_worse_than_keda_whatever_the_surge_factor() {
    for base in [BASE, SMALL_BASE] {
        for name in ["flashcrash", "crashes"] {
            for seed in 1..=4 {
                let trace = built_in(name, base, seed).unwrap();
                let k = Summary::of(&with_surge_factor(1.0, seed).run_keda(&trace), &trace);
                for surge_factor in [1.0, 10.0] {
                    let s = Summary::of(
                        &with_surge_factor(surge_factor, seed).run_spate(&trace),
                        &trace,
                    );
                    for (target, met) in parity_targets(&s, &k) {
                        assert!(
                            met,
                            "{name} at {base}/s, seed {seed}, ×{surge_factor}: {target}: spate {s:?} vs KEDA {k:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn a_flash_crash_one_pod_carries_adds_no_pod_whatever_the_surge_factor() {
    // 25 × 2000/s is 50 000/s, and 30 × is 60 000/s: one pod of 8 workers carries either with
    // live workers, so no pod starts and the group never rebalances, reserve or not.
    for name in ["flashcrash", "crashes"] {
        for seed in 1..=4 {
            let trace = built_in(name, SMALL_BASE, seed).unwrap();
            for surge_factor in [1.0, 10.0, 25.0] {
                let run = with_surge_factor(surge_factor, seed).run_spate(&trace);
                assert!(
                    run.events.iter().all(|e| e.replicas == 1),
                    "{name} seed {seed} ×{surge_factor}: {:?}",
                    run.events
                );
                assert!(
                    run.events
                        .iter()
                        .any(|e| e.reason == Some(Reason::ScaleUpWorkers)),
                    "{name} seed {seed} ×{surge_factor}: the crash is met with workers"
                );
            }
        }
    }
}
