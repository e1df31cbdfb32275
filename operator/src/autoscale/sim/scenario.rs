//! A scenario: the world's constants, both controllers' settings, and a seed; runs one trace through both.

use std::time::Duration;

use super::control::{Controller, Flink, Keda, Spate};
use super::flink::FlinkConfig;
use super::keda::KedaConfig;
use super::rng::Rng;
use super::run::{Run, Summary, run};
use super::trace::Trace;
use super::world::WorldConfig;
use crate::autoscale::controller::AutoscalerConfig;
use crate::autoscale::policy::{Bounds, PolicyConfig};
use crate::autoscale::spec::DEFAULT_POD_READY_ESTIMATE;

/// Everything a comparison depends on.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// The simulated pipeline.
    pub world: WorldConfig,
    /// spate's policy settings.
    pub policy: PolicyConfig,
    /// Seconds between two rounds of spate's loop (a decision, and the lag and the pods'
    /// metrics read before it): the live loop's default interval.
    pub control_interval: f64,
    /// KEDA's trigger and the HPA's behaviour, with a lagThreshold tuned to the pipeline.
    pub keda: KedaConfig,
    /// The same with KEDA's documented default lagThreshold (10).
    pub keda_default: KedaConfig,
    /// Workers in every pod under KEDA+HPA (fixed: it scales pods only).
    pub keda_workers: u32,
    /// The Flink-autoscaler baseline, its pods at `keda_workers` (a TaskManager's slots).
    pub flink: FlinkConfig,
    /// Pods at the start, for both.
    pub initial_replicas: u32,
    /// Workers per pod at the start, for both.
    pub initial_workers: u32,
    /// Seed of the world's and the HPA phase's randomness.
    pub seed: u64,
    /// Whether spate follows a trace's capacity schedules (its [`Trace::calendar`]).
    pub schedules: bool,
}

impl Default for Scenario {
    /// 32 partitions, 10 000 records/s per worker, pods of up to 8 workers (the CRD's
    /// default bound) under spate; under KEDA, pods of those same 8 workers (what a user
    /// would configure statically), with a tuned lagThreshold and with the default one.
    fn default() -> Self {
        let world = WorldConfig::default();
        let policy = PolicyConfig {
            workers: Bounds { min: 1, max: 8 },
            replicas: Bounds {
                min: 1,
                max: world.partitions,
            },
            drain_time: Duration::from_secs(30),
            // What the live policy assumes, not the world's exact start-up and pause.
            pod_ready_estimate: DEFAULT_POD_READY_ESTIMATE,
            surge_factor: MARKET_DATA_SURGE_FACTOR,
            ..PolicyConfig::default()
        };
        let keda_workers = policy.workers.max;
        // A market-data pipeline is not scaled to zero between trades: minReplicaCount 1.
        let keda_default = KedaConfig {
            min_replicas: 1,
            max_replicas: world.partitions,
            ..KedaConfig::default()
        };
        Self {
            control_interval: AutoscalerConfig::default().interval.as_secs_f64(),
            keda: KedaConfig {
                lag_threshold: tuned_lag_threshold(&world, keda_workers),
                ..keda_default.clone()
            },
            keda_default,
            keda_workers,
            flink: FlinkConfig::default(),
            initial_replicas: 1,
            initial_workers: 2,
            seed: 42,
            schedules: true,
            policy,
            world,
        }
    }
}

/// The surge the market-data pipeline is set to absorb without new pods (its spikes are
/// ×10: `spec.autoscaling.surgeFactor: 10`); the spec's default is 1 (no reserve).
pub const MARKET_DATA_SURGE_FACTOR: f64 = 10.0;

/// Seconds of one KEDA pod's work the tuned lagThreshold stands for.
pub const TUNED_LAG_THRESHOLD_SECONDS: f64 = 1.0;

/// The tuned lagThreshold: [`TUNED_LAG_THRESHOLD_SECONDS`] of the records one pod of
/// `workers` workers processes.
pub fn tuned_lag_threshold(world: &WorldConfig, workers: u32) -> u64 {
    (TUNED_LAG_THRESHOLD_SECONDS * world.service_rate * workers as f64).round() as u64
}

/// The runs of one trace under spate and both KEDA+HPA settings, with their figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The trace.
    pub trace: Trace,
    /// spate's run.
    pub spate: Run,
    /// KEDA+HPA's run with the tuned lagThreshold.
    pub keda: Run,
    /// KEDA+HPA's run with the default lagThreshold.
    pub keda_default: Run,
    /// spate's figures.
    pub spate_summary: Summary,
    /// KEDA+HPA's figures (tuned lagThreshold).
    pub keda_summary: Summary,
    /// KEDA+HPA's figures (default lagThreshold).
    pub keda_default_summary: Summary,
}

impl Scenario {
    /// Runs `trace` under spate's policy and under KEDA+HPA (tuned and default
    /// lagThreshold), each in a fresh world with the same seed.
    pub fn compare(&self, trace: &Trace) -> Comparison {
        let spate = self.run_spate(trace);
        let keda = self.run_keda_with(&self.keda, trace);
        let keda_default = self.run_keda_with(&self.keda_default, trace);
        Comparison {
            spate_summary: Summary::of(&spate, trace),
            keda_summary: Summary::of(&keda, trace),
            keda_default_summary: Summary::of(&keda_default, trace),
            trace: trace.clone(),
            spate,
            keda,
            keda_default,
        }
    }

    /// spate's run alone.
    pub fn run_spate(&self, trace: &Trace) -> Run {
        let mut c = Spate::new(self.policy.clone(), self.control_interval);
        if let Some(calendar) = trace.calendar.as_ref().filter(|_| self.schedules) {
            c = c
                .with_calendar(calendar)
                .expect("a built-in trace's schedules are valid");
        }
        run(
            &self.world,
            self.seed,
            trace,
            self.initial_replicas,
            self.initial_workers,
            &mut c,
        )
    }

    /// KEDA+HPA's run with the tuned lagThreshold.
    pub fn run_keda(&self, trace: &Trace) -> Run {
        self.run_keda_with(&self.keda, trace)
    }

    /// The Flink-autoscaler baseline's run.
    pub fn run_flink(&self, trace: &Trace) -> Run {
        self.run_baseline(
            trace,
            &mut Flink::new(self.flink.clone(), self.keda_workers),
        )
    }

    /// KEDA+HPA's run with `cfg`; the HPA's sync phase is drawn from the seed.
    pub fn run_keda_with(&self, cfg: &KedaConfig, trace: &Trace) -> Run {
        let phase = Rng::new(self.seed ^ 0x0048_5041).uniform() * cfg.sync_period.as_secs_f64();
        self.run_baseline(trace, &mut Keda::new(cfg.clone(), self.keda_workers, phase))
    }

    /// A baseline's run: its pods at `keda_workers` workers from the start.
    fn run_baseline(&self, trace: &Trace, controller: &mut dyn Controller) -> Run {
        run(
            &self.world,
            self.seed,
            trace,
            self.initial_replicas,
            self.keda_workers,
            controller,
        )
    }
}
