//! Invariants of the simulator, and spate's targets against KEDA+HPA on the built-in traces.

use super::control::{Controller, Spate};
use super::run::run;
use super::world::{World, WorldConfig};
use super::*;
use crate::autoscale::policy::trend::CALM_WINDOW;
use crate::autoscale::policy::{PolicyConfig, Reason};

const BASE: f64 = 12_000.0;

#[test]
fn every_arrived_record_is_either_processed_or_still_waiting() {
    let scenario = Scenario::default();
    let trace = built_in("bursts", BASE, 3).unwrap();
    for r in [scenario.run_spate(&trace), scenario.run_keda(&trace)] {
        assert_eq!(r.arrived, r.processed + r.backlog);
        assert!(r.arrived > 0);
    }
    let mut world = World::new(scenario.world.clone(), 9, 2, 3);
    for i in 0..5000 {
        world.step(if i % 700 < 100 { 150_000.0 } else { 9_000.0 });
        if i == 2000 {
            world.set_size(5, 1);
        }
        assert_eq!(world.arrived(), world.processed() + world.backlog());
        let hw = world.readings().high_watermarks;
        assert_eq!(hw, world.arrived());
    }
}

#[test]
fn the_world_shows_the_lag_and_each_ready_pods_counters_as_kafka_and_metrics_would() {
    for incremental_rebalance in [false, true] {
        let cfg = WorldConfig {
            incremental_rebalance,
            ..WorldConfig::default()
        };
        let mut world = World::new(cfg, 5, 2, 3);
        for i in 0..600 {
            world.step(50_000.0);
            if i == 100 {
                world.set_size(3, 4);
            }
            let lag = world.group_lag();
            assert_eq!(lag.total(), world.lag());
            assert_eq!(lag.high_watermarks() as u64, world.arrived());
            assert_eq!(lag.partitions.len(), 32);
            let pods = world.ready_pods();
            let processed: f64 = pods.iter().map(|(_, c)| c.processed).sum();
            let busy: f64 = pods.iter().map(|(_, c)| c.busy_seconds).sum();
            // No pod has left: the pods' counters add up to the group's.
            assert_eq!(processed, world.processed() as f64);
            let total = world.readings().busy_seconds;
            assert!(
                (busy - total).abs() < 1e-6 * total.max(1.0),
                "{busy} vs {total}"
            );
            let names: Vec<&str> = pods.iter().map(|(n, _)| n.as_str()).collect();
            // The third pod is ready (joined) 10 s after it was asked for.
            let joined = world.now() > 10.1 + 10.0 + 1e-9;
            let want: &[&str] = if joined {
                &["consumer-0", "consumer-1", "consumer-2"]
            } else {
                &["consumer-0", "consumer-1"]
            };
            assert_eq!(names, want, "at {}", world.now());
            assert!(pods.iter().all(|(_, c)| c.workers == world.size().1 as f64));
        }
        // A pod that replaces one that left has a name of its own.
        world.set_size(1, 4);
        world.set_size(2, 4);
        for _ in 0..200 {
            world.step(50_000.0);
        }
        let names: Vec<String> = world.ready_pods().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["consumer-0", "consumer-3"]);
    }
}

#[test]
fn spate_observes_the_world_through_the_live_scrape_and_tracker() {
    let scenario = Scenario::default();
    let mut world = World::new(scenario.world.clone(), 1, 1, 2);
    let mut spate = Spate::new(scenario.policy.clone(), scenario.control_interval);
    let second = |world: &mut World, rate: f64| {
        for _ in 0..10 {
            world.step(rate);
        }
    };
    // The first round: every pod is scraped for the first time, so its metrics are stale and
    // no rate is known yet.
    let o = spate.observe(&world);
    assert!(o.metrics_stale);
    assert_eq!((o.arrival_rate, o.service_rate), (None, None));
    assert_eq!((o.partitions, o.ready_replicas), (32, 1));
    second(&mut world, 30_000.0);
    // One second on: λ from the high watermarks, μ measured from the pod's counters (its
    // two workers are saturated: 30 000/s arrive, 20 000/s are processed).
    let o = spate.observe(&world);
    assert!(!o.metrics_stale && !o.kafka_stale);
    let mu = o.service_rate.expect("μ measured");
    assert!((mu - scenario.world.service_rate).abs() < 1.0, "{mu}");
    let lambda = o.arrival_rate.expect("λ measured");
    assert!((lambda - 30_000.0).abs() < 1.0, "{lambda}");
    assert!(o.flush_latency.is_some() && o.throughput.is_some());
    // A second pod: once it joins, the ready pods change (a rebalance as the tracker sees
    // it), and its first scrape leaves the metrics stale for that round.
    world.set_size(2, 2);
    let mut joined_at = None;
    for _ in 0..20 {
        second(&mut world, 30_000.0);
        let o = spate.observe(&world);
        if o.ready_replicas == 2 {
            joined_at = Some(world.now());
            assert!(o.metrics_stale, "the new pod's first scrape");
            assert_eq!(
                o.last_rebalance,
                Some(std::time::Duration::from_secs_f64(world.now()))
            );
            break;
        }
        assert!(!o.metrics_stale);
    }
    assert!(joined_at.is_some_and(|t| t >= scenario.world.pod_startup));
    second(&mut world, 30_000.0);
    assert!(!spate.observe(&world).metrics_stale);
}

#[test]
fn the_scenario_assumes_the_live_pod_ready_estimate_not_the_worlds_exact_one() {
    let s = Scenario::default();
    assert_eq!(
        s.policy.pod_ready_estimate,
        crate::autoscale::spec::DEFAULT_POD_READY_ESTIMATE
    );
    assert_ne!(
        s.policy.pod_ready_estimate.as_secs_f64(),
        s.world.pod_startup + s.world.rebalance_pause
    );
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another() {
    let scenario = Scenario::default();
    let trace = built_in("noisy", BASE, 5).unwrap();
    let short = Trace {
        rates: trace.rates[..600].to_vec(),
        ..trace
    };
    assert_eq!(scenario.compare(&short), scenario.compare(&short));
    let other = Scenario {
        seed: 43,
        ..scenario.clone()
    };
    // The seed sets the HPA's sync phase: the default lagThreshold makes it scale, so its
    // pods (and the lag they leave) differ from one seed to another.
    let pods = |s: &Scenario| {
        s.run_keda_with(&s.keda_default, &short)
            .samples
            .iter()
            .map(|x| x.replicas)
            .collect::<Vec<_>>()
    };
    assert_ne!(pods(&scenario), pods(&other));
}

#[test]
fn a_world_without_pods_processes_nothing_and_lags_by_every_arrival() {
    struct Never;
    impl Controller for Never {
        fn tick(&mut self, _: &World) -> Option<control::Command> {
            None
        }
    }
    let trace = Trace {
        name: "flat".into(),
        rates: vec![1000.0; 10],
        spike_at: None,
        calendar: None,
    };
    let r = run(&Scenario::default().world, 1, &trace, 0, 1, &mut Never);
    assert_eq!((r.processed, r.backlog), (0, 10_000));
    assert_eq!(r.peak_lag, 10_000);
}

/// The most lag a controller that must add pods can avoid, once the load steps from `base`
/// to `peak` with one pod running: the first decision interval at the starting workers, the
/// pod start-up at one pod's most workers, the group-wide rebalance pause, and one commit
/// interval of arrivals not yet reflected in the committed offsets.
fn step_lag_floor(scenario: &Scenario, base: f64, peak: f64) -> f64 {
    let w = &scenario.world;
    let mu = w.service_rate;
    let start = (scenario.initial_workers as f64 * mu).min(peak);
    let one_pod = (scenario.policy.workers.max as f64 * mu).min(peak);
    (peak - start) * scenario.control_interval
        + (peak - one_pod) * w.pod_startup
        + peak * w.rebalance_pause
        + (peak + base) * w.commit_interval
}

/// The most lag a controller whose running pods carry `peak` with live workers lets build:
/// the first decision interval at the starting workers and one commit interval — no pod
/// start-up, no rebalance.
fn step_lag_bound_with_reserve(scenario: &Scenario, base: f64, peak: f64) -> f64 {
    let w = &scenario.world;
    let start = (scenario.initial_workers as f64 * w.service_rate).min(peak);
    (peak - start) * scenario.control_interval + (peak + base) * w.commit_interval
}

#[test]
fn on_a_tenfold_step_spate_meets_the_targets_that_hold_for_every_seed() {
    // KEDA pods run spate's workers.max. With the surge reserve (surgeFactor 10) the two
    // running pods absorb the spike with live workers: the four targets hold against
    // KEDA with the tuned lagThreshold at every seed. Without the reserve, spate's peak stays
    // under the floor of a controller that must add pods (and above ⅓ of KEDA's).
    let scenario = Scenario::default();
    assert_eq!(scenario.policy.surge_factor, MARKET_DATA_SURGE_FACTOR);
    let plain = Scenario {
        policy: PolicyConfig {
            surge_factor: 1.0,
            ..scenario.policy.clone()
        },
        ..scenario.clone()
    };
    let trace = built_in("step10", BASE, 1).unwrap();
    let floor = step_lag_floor(&scenario, BASE, 10.0 * BASE);
    let bound = step_lag_bound_with_reserve(&scenario, BASE, 10.0 * BASE);
    for seed in 1..=20 {
        let c = Scenario {
            seed,
            ..scenario.clone()
        }
        .compare(&trace);
        let without = Summary::of(
            &Scenario {
                seed,
                ..plain.clone()
            }
            .run_spate(&trace),
            &trace,
        );
        assert!(
            (without.peak_lag as f64) <= floor,
            "seed {seed}: peak lag without the reserve {} above the floor {floor}",
            without.peak_lag
        );
        let (s, k, d) = (&c.spate_summary, &c.keda_summary, &c.keda_default_summary);
        assert!(
            (s.peak_lag as f64) <= bound && s.peak_lag < without.peak_lag,
            "seed {seed}: peak lag {} with the reserve, {} without, bound {bound}",
            s.peak_lag,
            without.peak_lag
        );
        let (with_r, without_r) = (
            s.time_to_drain.expect("spate drains with the reserve"),
            without.time_to_drain.expect("spate drains without it"),
        );
        assert!(
            with_r < without_r,
            "seed {seed}: drained in {with_r} s with the reserve, {without_r} s without"
        );
        let first = s.first_scale_up.expect("spate scales up after the spike");
        assert!(
            first <= 5.0,
            "seed {seed}: first scale-up {first} s after the spike"
        );
        for (target, met) in step_targets(s, k) {
            assert!(met, "seed {seed}: {target}: spate {s:?} vs KEDA {k:?}");
        }
        for (which, other) in [("tuned", k), ("default", d)] {
            assert!(
                s.replica_seconds <= 1.1 * other.replica_seconds,
                "seed {seed}: replica-seconds {} vs KEDA ({which}) {}",
                s.replica_seconds,
                other.replica_seconds
            );
        }
        assert!(
            s.peak_lag < k.peak_lag,
            "seed {seed}: peak lag {} vs {}",
            s.peak_lag,
            k.peak_lag
        );
        let (ds, dk) = (
            s.time_to_drain.expect("spate drains"),
            k.time_to_drain.expect("KEDA drains"),
        );
        assert!(ds < dk, "seed {seed}: drained in {ds} s vs {dk} s");
    }
}

#[test]
fn on_noisy_steady_load_spate_settles_and_never_moves_again_whatever_the_seed() {
    let reserve = Scenario::default();
    let plain = Scenario {
        policy: PolicyConfig {
            surge_factor: 1.0,
            ..reserve.policy.clone()
        },
        ..reserve.clone()
    };
    for seed in 1..=8 {
        let trace = built_in("noisy", BASE, seed).unwrap();
        let run = Scenario {
            seed,
            ..plain.clone()
        }
        .run_spate(&trace);
        let reversals = Summary::of(&run, &trace).reversals;
        assert_eq!(reversals, 0, "seed {seed}: events {:?}", run.events);
        // With the reserve: the running pod takes the load's workers at once (the rate is
        // not yet known to be calm, and lag comes first), the reserve joins once the rate has
        // been calm for the calm window, the workers it spread over its pods beyond the
        // load's are trimmed once after the dwell, and nothing moves again.
        let run = Scenario {
            seed,
            ..reserve.clone()
        }
        .run_spate(&trace);
        let reasons: Vec<_> = run.events.iter().map(|e| e.reason).collect();
        assert_eq!(
            reasons,
            [
                Some(Reason::ScaleUpWorkers),
                Some(Reason::SurgeReserve),
                Some(Reason::ScaleDownWorkers)
            ],
            "seed {seed}: events {:?}",
            run.events
        );
        let calm = CALM_WINDOW.as_secs_f64() * 0.9;
        assert!(run.events[1].t >= calm, "seed {seed}: {:?}", run.events);
    }
}

#[test]
fn keda_pods_run_the_workers_spate_may_give_a_pod() {
    let scenario = Scenario::default();
    assert_eq!(scenario.keda_workers, scenario.policy.workers.max);
    assert_eq!(scenario.keda_default.lag_threshold, 10);
    let trace = built_in("step10", BASE, 1).unwrap();
    let run = scenario.run_keda(&trace);
    assert!(
        run.events
            .iter()
            .all(|e| e.workers == scenario.policy.workers.max)
    );
    assert!(run.samples.iter().all(|x| x.workers == x.replicas * 8));
}

#[test]
fn a_sweep_reports_the_spread_over_its_seeds() {
    assert_eq!(
        Spread::of(&[3.0, 1.0, 2.0, f64::NAN]),
        Some(Spread {
            min: 1.0,
            median: 2.0,
            max: 3.0
        })
    );
    assert_eq!(Spread::of(&[4.0, 1.0]).map(|s| s.median), Some(2.5));
    assert_eq!(Spread::of(&[]), None);
    let sweep = Sweep::run(&Scenario::default(), "step10", BASE, &[1, 2]).unwrap();
    assert_eq!(sweep.runs.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2]);
    let table = sweep.table(80_000, 10);
    assert!(table.contains("over seeds 1..=2 (2 seeds)"), "{table}");
    assert!(
        table.contains("| first scale-up ≤ 5 s after the spike | 2/2 | 2/2 |"),
        "{table}"
    );
    assert!(Sweep::run(&Scenario::default(), "nope", BASE, &[1]).is_none());
}

#[test]
fn an_incremental_rebalance_pauses_only_the_partitions_that_move() {
    // One pod of 8 workers; a second joins after the start-up. During the pause that
    // follows, the eager group processes nothing; the incremental one keeps consuming the
    // half of the partitions that stayed, and every record is still accounted for.
    let processed_in_pause = |incremental: bool| {
        let cfg = WorldConfig {
            incremental_rebalance: incremental,
            ..WorldConfig::default()
        };
        let mut world = World::new(cfg.clone(), 7, 1, 8);
        world.set_size(2, 8);
        let ticks = |s: f64| (s / cfg.tick).round() as usize;
        for _ in 0..=ticks(cfg.pod_startup) {
            world.step(40_000.0);
        }
        let before = world.processed();
        for _ in 0..ticks(cfg.rebalance_pause) - 1 {
            world.step(40_000.0);
            assert_eq!(world.arrived(), world.processed() + world.backlog());
        }
        world.processed() - before
    };
    assert_eq!(processed_in_pause(false), 0);
    let kept = processed_in_pause(true);
    // 16 of the 32 partitions stay with the first pod, which keeps up with their arrivals
    // (20 000/s of the 40 000/s) for the 2.9 s measured.
    assert!((40_000..=70_000).contains(&kept), "{kept}");
}

#[test]
fn a_trim_raised_back_within_five_minutes_counts_as_a_quick_reversal() {
    use super::run::{Run, ScaleEvent};
    use crate::autoscale::policy::Direction::{Down, Up};
    let event = |t: f64, direction| ScaleEvent {
        t,
        replicas: 1,
        workers: 1,
        direction,
        reason: None,
    };
    let run = Run {
        events: vec![
            event(10.0, Up),
            event(100.0, Down),
            event(350.0, Up),
            event(400.0, Down),
            event(800.0, Up),
        ],
        ..Run::default()
    };
    let trace = Trace {
        name: "flat".into(),
        rates: vec![1.0; 900],
        spike_at: None,
        calendar: None,
    };
    let s = Summary::of(&run, &trace);
    assert_eq!((s.reversals, s.quick_reversals), (4, 1));
}
