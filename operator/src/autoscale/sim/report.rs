//! The figures of a run and the comparison table.

use std::fmt::Write;

use super::run::Run;
use super::scenario::Comparison;
use super::trace::Trace;
use crate::autoscale::policy::Direction;

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

pub(super) fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |s| format!("{s:.1} s"))
}

pub(super) fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "-".to_string()
    }
}

pub(super) fn opt_ratio(x: Option<f64>, y: Option<f64>) -> String {
    match (x, y) {
        (Some(x), Some(y)) => ratio(x, y),
        _ => "-".to_string(),
    }
}

/// One row of the comparison: a figure's name, its text for each run, and the ratios.
fn row(
    name: &str,
    runs: [&Summary; 3],
    text: &dyn Fn(&Summary) -> String,
    ratio_of: &dyn Fn(&Summary, &Summary) -> String,
) -> String {
    let [a, b, c] = runs;
    format!(
        "| {name} | {} | {} | {} | {} | {} |",
        text(a),
        text(b),
        text(c),
        ratio_of(a, b),
        ratio_of(a, c)
    )
}

/// The comparison as a Markdown table: one row per figure, spate | KEDA+HPA (tuned
/// lagThreshold) | KEDA+HPA (default lagThreshold) | the two ratios.
pub fn table(c: &Comparison, tuned_threshold: u64, default_threshold: u64) -> String {
    let runs = [&c.spate_summary, &c.keda_summary, &c.keda_default_summary];
    let none = |_: &Summary, _: &Summary| String::new();
    let rows = [
        row(
            "peak lag (records)",
            runs,
            &|s| s.peak_lag.to_string(),
            &|a, b| ratio(a.peak_lag as f64, b.peak_lag as f64),
        ),
        row(
            "lag-seconds (record·s)",
            runs,
            &|s| format!("{:.3e}", s.lag_seconds),
            &|a, b| ratio(a.lag_seconds, b.lag_seconds),
        ),
        row(
            "time to first scale-up",
            runs,
            &|s| secs(s.first_scale_up),
            &|a, b| opt_ratio(a.first_scale_up, b.first_scale_up),
        ),
        row(
            "time to drain",
            runs,
            &|s| secs(s.time_to_drain),
            &|a, b| opt_ratio(a.time_to_drain, b.time_to_drain),
        ),
        row(
            "longest time behind",
            runs,
            &|s| format!("{:.0} s", s.longest_behind),
            &|a, b| ratio(a.longest_behind, b.longest_behind),
        ),
        row(
            "p99 end-to-end latency",
            runs,
            &|s| format!("{:.2} s", s.p99_latency),
            &|a, b| ratio(a.p99_latency, b.p99_latency),
        ),
        row(
            "replica-seconds",
            runs,
            &|s| format!("{:.0}", s.replica_seconds),
            &|a, b| ratio(a.replica_seconds, b.replica_seconds),
        ),
        row(
            "worker-seconds",
            runs,
            &|s| format!("{:.0}", s.worker_seconds),
            &|a, b| ratio(a.worker_seconds, b.worker_seconds),
        ),
        row("scale events", runs, &|s| s.scale_events.to_string(), &none),
        row(
            "direction reversals",
            runs,
            &|s| s.reversals.to_string(),
            &none,
        ),
        row(
            "trims raised back within 5 min",
            runs,
            &|s| s.quick_reversals.to_string(),
            &none,
        ),
    ];
    let mut s = String::new();
    let _ = writeln!(s, "### {} ({} s)\n", c.trace.name, c.trace.seconds());
    let _ = writeln!(
        s,
        "| figure | spate | KEDA+HPA (lagThreshold {tuned_threshold}) | KEDA+HPA (lagThreshold {default_threshold}) | spate ÷ KEDA ({tuned_threshold}) | spate ÷ KEDA ({default_threshold}) |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
    for r in rows {
        let _ = writeln!(s, "{r}");
    }
    s
}
