//! Invariants of the simulator, and spate's targets against KEDA+HPA on the built-in traces.

use super::control::Controller;
use super::run::run;
use super::world::World;
use super::*;

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
    assert_ne!(
        scenario.run_keda(&short).samples,
        other.run_keda(&short).samples
    );
}

#[test]
fn a_world_without_pods_processes_nothing_and_lags_by_every_arrival() {
    struct Never;
    impl Controller for Never {
        fn tick(&mut self, _: &world::Readings) -> Option<control::Command> {
            None
        }
    }
    let trace = Trace {
        name: "flat".into(),
        rates: vec![1000.0; 10],
        spike_at: None,
    };
    let r = run(&Scenario::default().world, 1, &trace, 0, 1, &mut Never);
    assert_eq!((r.processed, r.backlog), (0, 10_000));
    assert_eq!(r.peak_lag, 10_000);
}

#[test]
fn on_a_tenfold_step_spate_beats_keda_and_the_hpa_on_every_target() {
    let c = Scenario::default().compare(&built_in("step10", BASE, 42).unwrap());
    let (s, k) = (&c.spate_summary, &c.keda_summary);
    let first = s.first_scale_up.expect("spate scales up after the spike");
    assert!(first <= 5.0, "first scale-up {first} s after the spike");
    assert!(
        s.peak_lag * 3 <= k.peak_lag,
        "peak lag {} vs {}",
        s.peak_lag,
        k.peak_lag
    );
    let (ds, dk) = (
        s.time_to_drain.expect("spate drains"),
        k.time_to_drain.expect("KEDA drains"),
    );
    assert!(2.0 * ds <= dk, "drained in {ds} s vs {dk} s");
    assert!(
        s.replica_seconds <= 1.1 * k.replica_seconds,
        "replica-seconds {} vs {}",
        s.replica_seconds,
        k.replica_seconds
    );
}

#[test]
fn on_an_hour_of_noisy_steady_load_spate_never_reverses_direction() {
    let c = Scenario::default().compare(&built_in("noisy", BASE, 42).unwrap());
    assert_eq!(c.spate_summary.reversals, 0, "events: {:?}", c.spate.events);
}
