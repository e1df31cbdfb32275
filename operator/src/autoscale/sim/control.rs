//! The controllers under comparison, each reading the simulated world as the real one reads
//! Kafka and metrics.

use std::collections::BTreeSet;
use std::time::Duration;

use super::flink::{FlinkAutoscaler, FlinkConfig, FlinkSample};
use super::keda::{Activation, Hpa, KedaConfig, kafka_scaler_active, kafka_scaler_metric};
use super::trace::Calendar;
use super::world::World;
use crate::autoscale::controller::AutoscalerConfig;
use crate::autoscale::controller::tracker::{Readings, Tracker};
use crate::autoscale::policy::{
    Observations, PolicyConfig, PolicyState, Reason, decide, effective_workers,
};
use crate::autoscale::schedule::{Window, held_at, parse_all};
use crate::autoscale::signals::scrape::ScrapeRates;

/// A size asked for by a controller, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// Pods.
    pub replicas: u32,
    /// Workers per pod.
    pub workers: u32,
    /// The policy's reason (KEDA+HPA has none).
    pub reason: Option<Reason>,
}

/// Something that, now and then, looks at the world and asks for a size.
pub trait Controller {
    /// Called every tick; returns a command when the controller acted.
    fn tick(&mut self, world: &World) -> Option<Command>;
}

/// spate's policy, fed as the operator's loop feeds it when it scrapes the pods itself (no
/// Prometheus): every round the group's lag and each ready pod's counters are read, turned
/// into rates by [`ScrapeRates`] and into observations by the live [`Tracker`], and
/// [`decide`] is called with them.
pub struct Spate {
    cfg: PolicyConfig,
    state: PolicyState,
    interval: f64,
    next: f64,
    scrapes: ScrapeRates,
    tracker: Tracker,
    calendar: Option<(Calendar, Vec<Window>)>,
}

impl Spate {
    /// Decides every `interval` seconds, its reads bounded by the live loop's timeout.
    pub fn new(cfg: PolicyConfig, interval: f64) -> Self {
        let live = AutoscalerConfig::default();
        Self {
            cfg,
            state: PolicyState::default(),
            interval,
            next: 0.0,
            scrapes: ScrapeRates::default(),
            tracker: Tracker::for_rounds(Duration::from_secs_f64(interval), live.timeout),
            calendar: None,
        }
    }

    /// Follows the trace's capacity schedules, its second 0 at `calendar.starts`; refuses
    /// schedules the operator's validation would refuse.
    pub fn with_calendar(mut self, calendar: &Calendar) -> Result<Self, Vec<String>> {
        self.calendar = Some((calendar.clone(), parse_all(&calendar.schedules)?));
        Ok(self)
    }

    /// One round's observations: the lag, the ready pods and their metrics read now, through
    /// the live loop's estimators (updates them).
    pub fn observe(&mut self, world: &World) -> Observations {
        let now = Duration::from_secs_f64(world.now());
        let lag = world.group_lag();
        let pods = world.ready_pods();
        let ready: BTreeSet<String> = pods.iter().map(|(name, _)| name.clone()).collect();
        let scraped = pods.into_iter().map(|(name, c)| (name, Some(c))).collect();
        let consumers = self.scrapes.round(now, scraped);
        self.tracker.observe(&Readings::of_round(
            now,
            Some(&lag),
            Some(&consumers),
            &ready,
            world.size(),
            &self.cfg,
        ))
    }
}

impl Controller for Spate {
    fn tick(&mut self, world: &World) -> Option<Command> {
        if world.now() + 1e-9 < self.next {
            return None;
        }
        self.next += self.interval;
        let mut obs = self.observe(world);
        let now = Duration::from_secs_f64(world.now());
        if let Some((calendar, windows)) = &self.calendar {
            obs.scheduled = held_at(windows, calendar.at(world.now()));
        }
        let d = decide(&self.cfg, &self.state, &obs, now);
        self.state = d.state.clone();
        Some(Command {
            replicas: d.replicas,
            workers: d.workers,
            reason: Some(d.reason),
        })
    }
}

/// KEDA's Kafka scaler + the HPA, with a fixed worker count per pod.
pub struct Keda {
    hpa: Hpa,
    activation: Activation,
    workers: u32,
}

impl Keda {
    /// The HPA's first sync, and KEDA's first activation poll, at `first_sync` seconds.
    pub fn new(cfg: KedaConfig, workers: u32, first_sync: f64) -> Self {
        let first = Duration::from_secs_f64(first_sync);
        Self {
            hpa: Hpa::new(cfg, first),
            activation: Activation::new(first),
            workers,
        }
    }
}

impl Controller for Keda {
    fn tick(&mut self, world: &World) -> Option<Command> {
        let r = &world.readings();
        let now = Duration::from_secs_f64(r.now);
        let cfg = self.hpa.config().clone();
        let command = |replicas| Command {
            replicas,
            workers: self.workers,
            reason: None,
        };
        if self.activation.due(now) {
            let active = kafka_scaler_active(&cfg, &r.partition_lags);
            if let Some(replicas) = self.activation.poll(&cfg, now, active, r.replicas) {
                return Some(command(replicas));
            }
        }
        // The HPA does not act on a target KEDA holds at zero.
        if r.replicas == 0 || !self.hpa.due(now) {
            return None;
        }
        let metric = kafka_scaler_metric(&cfg, &r.partition_lags);
        let replicas = self.hpa.sync(now, metric, r.replicas);
        Some(command(replicas))
    }
}

/// The Flink autoscaler model on the consumer group, with pods of a fixed number of workers
/// (a TaskManager's slots): it sizes the parallelism, the pods follow.
pub struct Flink {
    scaler: FlinkAutoscaler,
    workers: u32,
    next: f64,
    last: Option<(f64, u64, u64, f64)>,
    true_rate: Option<f64>,
}

impl Flink {
    /// Pods of `workers` workers, evaluated every `reconcile_interval` from 0 s.
    pub fn new(cfg: FlinkConfig, workers: u32) -> Self {
        Self {
            scaler: FlinkAutoscaler::new(cfg, Duration::ZERO),
            workers: workers.max(1),
            next: 0.0,
            last: None,
            true_rate: None,
        }
    }
}

impl Controller for Flink {
    fn tick(&mut self, world: &World) -> Option<Command> {
        if world.now() + 1e-9 < self.next {
            return None;
        }
        let r = &world.readings();
        self.next += self.scaler.config().reconcile_interval.as_secs_f64();
        let now = (r.now, r.high_watermarks, r.processed, r.busy_seconds);
        let (t0, hw0, p0, b0) = self.last.replace(now).unwrap_or(now);
        let dt = r.now - t0;
        if dt <= 0.0 {
            return None;
        }
        if r.busy_seconds - b0 > 0.0 {
            self.true_rate = Some((r.processed - p0) as f64 / (r.busy_seconds - b0));
        }
        let sample = FlinkSample {
            at: Duration::from_secs_f64(r.now),
            input_rate: (r.high_watermarks - hw0) as f64 / dt,
            true_rate: self.true_rate?,
            lag: r.partition_lags.iter().map(|l| (*l).max(0) as f64).sum(),
        };
        let partitions = r.partition_lags.len() as u32;
        let parallelism = effective_workers(partitions, r.replicas, self.workers);
        let next = self.scaler.evaluate(sample, parallelism, partitions)?;
        Some(Command {
            replicas: next.div_ceil(self.workers).clamp(1, partitions.max(1)),
            workers: self.workers,
            reason: None,
        })
    }
}
