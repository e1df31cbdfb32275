//! The comparison table of the runs' figures.

use std::fmt::Write;

use super::run::Summary;
use super::scenario::Comparison;

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
