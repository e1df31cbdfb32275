//! Runs one controller against one trace in a fresh world, records what happened, and sums
//! it up in the figures that compare runs.

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
        }) = controller.tick(&world)
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

/// Seconds of arrivals under which the lag counts as drained.
const DRAINED_SECONDS: f64 = 2.0;
/// A scale-down followed by a scale-up within this many seconds is capacity trimmed and
/// raised back within minutes.
pub const QUICK_REVERSAL_SECONDS: f64 = 300.0;

/// The figures that compare two runs.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Highest committed lag, records.
    pub peak_lag: u64,
    /// ∫ lag dt, record-seconds.
    pub lag_seconds: f64,
    /// Seconds from the spike to the first scale-up (None: no spike, or never).
    pub first_scale_up: Option<f64>,
    /// Seconds from the spike until the lag is back under two seconds of arrivals (None: no
    /// spike, or never drained).
    pub time_to_drain: Option<f64>,
    /// The longest stretch with the lag over two seconds of arrivals, seconds.
    pub longest_behind: f64,
    /// p99 end-to-end latency, seconds.
    pub p99_latency: f64,
    /// ∫ pods dt.
    pub replica_seconds: f64,
    /// ∫ pods × workers dt.
    pub worker_seconds: f64,
    /// Changes of size.
    pub scale_events: usize,
    /// Changes of direction between consecutive changes of size.
    pub reversals: usize,
    /// Scale-downs followed by a scale-up within [`QUICK_REVERSAL_SECONDS`].
    pub quick_reversals: usize,
}

impl Summary {
    /// The figures of `run` over `trace`.
    pub fn of(run: &Run, trace: &Trace) -> Summary {
        let first_scale_up = trace.spike_at.and_then(|s| {
            run.events
                .iter()
                .find(|e| e.t >= s && e.direction == Direction::Up)
                .map(|e| e.t - s)
        });
        let time_to_drain = trace.spike_at.and_then(|s| {
            let mut behind = false;
            for x in run.samples.iter().filter(|x| x.t >= s) {
                let limit = DRAINED_SECONDS * x.arrivals;
                if x.lag as f64 > limit {
                    behind = true;
                } else if behind {
                    return Some(x.t - s);
                }
            }
            (!behind).then_some(0.0)
        });
        let (mut longest_behind, mut since) = (0.0f64, None);
        for x in &run.samples {
            if x.lag as f64 > DRAINED_SECONDS * x.arrivals {
                since.get_or_insert(x.t);
            } else if let Some(t0) = since.take() {
                longest_behind = longest_behind.max(x.t - t0);
            }
        }
        if let (Some(t0), Some(last)) = (since, run.samples.last()) {
            longest_behind = longest_behind.max(last.t - t0);
        }
        let reversals = run
            .events
            .windows(2)
            .filter(|w| w[0].direction != w[1].direction)
            .count();
        let quick_reversals = run
            .events
            .windows(2)
            .filter(|w| {
                w[0].direction == Direction::Down
                    && w[1].direction == Direction::Up
                    && w[1].t - w[0].t <= QUICK_REVERSAL_SECONDS
            })
            .count();
        Summary {
            peak_lag: run.peak_lag,
            lag_seconds: run.lag_seconds,
            first_scale_up,
            time_to_drain,
            longest_behind,
            p99_latency: run.p99_latency,
            replica_seconds: run.replica_seconds,
            worker_seconds: run.worker_seconds,
            scale_events: run.events.len(),
            reversals,
            quick_reversals,
        }
    }
}
