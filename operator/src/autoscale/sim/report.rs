//! The figures of a run and the comparison table.

use std::fmt::Write;

use super::run::Run;
use super::scenario::Comparison;
use super::trace::Trace;
use crate::autoscale::policy::Direction;

/// Seconds of arrivals under which the lag counts as drained.
const DRAINED_SECONDS: f64 = 2.0;

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
        }
    }
}

fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |s| format!("{s:.1} s"))
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "-".to_string()
    }
}

/// The comparison as a Markdown table: one row per figure, spate | KEDA+HPA | ratio.
pub fn table(c: &Comparison) -> String {
    let (a, b) = (&c.spate_summary, &c.keda_summary);
    let opt_ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (Some(x), Some(y)) => ratio(x, y),
        _ => "-".to_string(),
    };
    let rows: Vec<(&str, String, String, String)> = vec![
        (
            "peak lag (records)",
            a.peak_lag.to_string(),
            b.peak_lag.to_string(),
            ratio(a.peak_lag as f64, b.peak_lag as f64),
        ),
        (
            "lag-seconds (record·s)",
            format!("{:.3e}", a.lag_seconds),
            format!("{:.3e}", b.lag_seconds),
            ratio(a.lag_seconds, b.lag_seconds),
        ),
        (
            "time to first scale-up",
            secs(a.first_scale_up),
            secs(b.first_scale_up),
            opt_ratio(a.first_scale_up, b.first_scale_up),
        ),
        (
            "time to drain",
            secs(a.time_to_drain),
            secs(b.time_to_drain),
            opt_ratio(a.time_to_drain, b.time_to_drain),
        ),
        (
            "longest time behind",
            format!("{:.0} s", a.longest_behind),
            format!("{:.0} s", b.longest_behind),
            ratio(a.longest_behind, b.longest_behind),
        ),
        (
            "p99 end-to-end latency",
            format!("{:.2} s", a.p99_latency),
            format!("{:.2} s", b.p99_latency),
            ratio(a.p99_latency, b.p99_latency),
        ),
        (
            "replica-seconds",
            format!("{:.0}", a.replica_seconds),
            format!("{:.0}", b.replica_seconds),
            ratio(a.replica_seconds, b.replica_seconds),
        ),
        (
            "worker-seconds",
            format!("{:.0}", a.worker_seconds),
            format!("{:.0}", b.worker_seconds),
            ratio(a.worker_seconds, b.worker_seconds),
        ),
        (
            "scale events",
            a.scale_events.to_string(),
            b.scale_events.to_string(),
            String::new(),
        ),
        (
            "direction reversals",
            a.reversals.to_string(),
            b.reversals.to_string(),
            String::new(),
        ),
    ];
    let mut s = String::new();
    let _ = writeln!(s, "### {} ({} s)\n", c.trace.name, c.trace.seconds());
    let _ = writeln!(s, "| figure | spate | KEDA+HPA | spate ÷ KEDA |");
    let _ = writeln!(s, "|---|---:|---:|---:|");
    for (name, x, y, r) in rows {
        let _ = writeln!(s, "| {name} | {x} | {y} | {r} |");
    }
    s
}
