//! Runs one controller against one trace in a fresh world and records what happened.

use super::control::{Command, Controller};
use super::trace::Trace;
use super::world::{World, WorldConfig};
use crate::autoscale::policy::{Direction, Reason, effective_workers};

/// One second of a run, for plots and the drain figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Seconds.
    pub t: f64,
    /// Arrivals per second.
    pub arrivals: f64,
    /// Committed lag, records.
    pub lag: u64,
    /// Pods asked for.
    pub replicas: u32,
    /// Workers asked for in total (pods × workers per pod).
    pub workers: u32,
}

/// A change of size.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleEvent {
    /// Seconds.
    pub t: f64,
    /// Pods after.
    pub replicas: u32,
    /// Workers per pod after.
    pub workers: u32,
    /// More or less capacity.
    pub direction: Direction,
    /// The policy's reason, when it has one.
    pub reason: Option<Reason>,
}

/// Everything recorded of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Run {
    /// One sample per second.
    pub samples: Vec<Sample>,
    /// Every change of size.
    pub events: Vec<ScaleEvent>,
    /// Highest committed lag seen at any tick.
    pub peak_lag: u64,
    /// ∫ lag dt, record-seconds.
    pub lag_seconds: f64,
    /// ∫ pods dt.
    pub replica_seconds: f64,
    /// ∫ pods × workers dt.
    pub worker_seconds: f64,
    /// p99 of end-to-end latency (arrival to QuestDB acknowledgement), seconds.
    pub p99_latency: f64,
    /// Records that arrived.
    pub arrived: u64,
    /// Records processed.
    pub processed: u64,
    /// Records still waiting at the end.
    pub backlog: u64,
}

/// Runs `controller` over `trace` in a world starting at `replicas` × `workers`.
pub fn run(
    world_cfg: &WorldConfig,
    seed: u64,
    trace: &Trace,
    replicas: u32,
    workers: u32,
    controller: &mut dyn Controller,
) -> Run {
    let mut world = World::new(world_cfg.clone(), seed, replicas, workers);
    let dt = world_cfg.tick;
    let partitions = world_cfg.partitions;
    let ticks = (trace.seconds() as f64 / dt).round() as usize;
    let per_second = (1.0 / dt).round() as usize;
    let (mut size, mut out) = (
        (replicas, workers),
        Run {
            samples: Vec::with_capacity(trace.seconds()),
            ..Run::default()
        },
    );
    for i in 0..ticks {
        let now = world.now();
        if let Some(Command {
            replicas,
            workers,
            reason,
        }) = controller.tick(&world.readings())
            && (replicas, workers) != size
        {
            let before = effective_workers(partitions, size.0, size.1);
            let after = effective_workers(partitions, replicas, workers);
            let up = after > before || (after == before && replicas > size.0);
            out.events.push(ScaleEvent {
                t: now,
                replicas,
                workers,
                direction: if up { Direction::Up } else { Direction::Down },
                reason,
            });
            world.set_size(replicas, workers);
            size = (replicas, workers);
        }
        let rate = trace.rate_at(now);
        world.step(rate);
        let lag = world.lag();
        out.peak_lag = out.peak_lag.max(lag);
        out.lag_seconds += lag as f64 * dt;
        out.replica_seconds += size.0 as f64 * dt;
        out.worker_seconds += (size.0 * size.1) as f64 * dt;
        if i % per_second == 0 {
            out.samples.push(Sample {
                t: now,
                arrivals: rate,
                lag,
                replicas: size.0,
                workers: size.0 * size.1,
            });
        }
    }
    out.p99_latency = world.latency_quantile(0.99);
    out.arrived = world.arrived();
    out.processed = world.processed();
    out.backlog = world.backlog();
    out
}
