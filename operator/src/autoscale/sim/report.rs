//! The figures of a run and the comparison table.

use std::fmt::Write;

use super::run::Run;
use super::scenario::{Comparison, Scenario};
use super::trace::Trace;
use super::trace::built_in;
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

fn opt_ratio(x: Option<f64>, y: Option<f64>) -> String {
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

/// The smallest, median and largest of some values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Median (the mean of the middle two for an even count).
    pub median: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values`; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            min: v[0],
            median,
            max: v[n - 1],
        })
    }
}

/// One trace run over many seeds: the figures of every seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// The trace's name.
    pub trace: String,
    /// Per seed: (seed, spate, KEDA+HPA tuned, KEDA+HPA default).
    pub runs: Vec<(u64, Summary, Summary, Summary)>,
}

/// The step ×10 targets, as (name, whether spate's figures meet it against KEDA's).
pub fn step_targets(s: &Summary, k: &Summary) -> [(&'static str, bool); 4] {
    [
        (
            "first scale-up ≤ 5 s after the spike",
            s.first_scale_up.is_some_and(|t| t <= 5.0),
        ),
        ("peak lag ≤ ⅓ of KEDA's", s.peak_lag * 3 <= k.peak_lag),
        (
            "drained ≥ 2 × as fast",
            match (s.time_to_drain, k.time_to_drain) {
                (Some(a), Some(b)) => 2.0 * a <= b,
                (Some(_), None) => true,
                _ => false,
            },
        ),
        (
            "replica-seconds ≤ 1.1 × KEDA's",
            s.replica_seconds <= 1.1 * k.replica_seconds,
        ),
    ]
}

impl Sweep {
    /// Runs the built-in trace `name` (drawn anew for each seed) under `scenario` for every seed.
    pub fn run(scenario: &Scenario, name: &str, base: f64, seeds: &[u64]) -> Option<Sweep> {
        let mut runs = Vec::with_capacity(seeds.len());
        for &seed in seeds {
            let trace = built_in(name, base, seed)?;
            let c = Scenario {
                seed,
                ..scenario.clone()
            }
            .compare(&trace);
            runs.push((
                seed,
                c.spate_summary,
                c.keda_summary,
                c.keda_default_summary,
            ));
        }
        Some(Sweep {
            trace: name.to_string(),
            runs,
        })
    }

    /// Every seed's step figures against KEDA+HPA with the tuned lagThreshold, as a Markdown
    /// table: peak lag, time to drain and replica-seconds of both, and the ratios.
    pub fn per_seed_table(&self, tuned_threshold: u64) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| seed | peak lag spate | peak lag KEDA ({tuned_threshold}) | ratio | drain spate | drain KEDA | ratio | replica-s spate | replica-s KEDA | ratio |"
        );
        let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (seed, a, b, _) in &self.runs {
            let _ = writeln!(
                s,
                "| {seed} | {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {} |",
                a.peak_lag,
                b.peak_lag,
                ratio(a.peak_lag as f64, b.peak_lag as f64),
                secs(a.time_to_drain),
                secs(b.time_to_drain),
                opt_ratio(a.time_to_drain, b.time_to_drain),
                a.replica_seconds,
                b.replica_seconds,
                ratio(a.replica_seconds, b.replica_seconds)
            );
        }
        s
    }

    /// The spread over seeds as a Markdown table; for a trace with a spike, how many seeds
    /// meet each step target against each KEDA+HPA setting.
    pub fn table(&self, tuned_threshold: u64, default_threshold: u64) -> String {
        let n = self.runs.len();
        let (first, last) = (
            self.runs.first().map_or(0, |r| r.0),
            self.runs.last().map_or(0, |r| r.0),
        );
        let fmt = |v: Vec<f64>, unit: &str, digits: usize| {
            Spread::of(&v).map_or("-".to_string(), |s| {
                format!(
                    "{:.digits$}{unit} / {:.digits$}{unit} / {:.digits$}{unit}",
                    s.min, s.median, s.max
                )
            })
        };
        type Pick = fn(&(u64, Summary, Summary, Summary)) -> Option<f64>;
        let figures: [(&str, &str, usize, Pick); 9] = [
            ("spate: time to first scale-up", " s", 1, |r| {
                r.1.first_scale_up
            }),
            ("peak lag ÷ KEDA (tuned)", "", 2, |r| {
                Some(r.1.peak_lag as f64 / r.2.peak_lag.max(1) as f64)
            }),
            ("peak lag ÷ KEDA (default)", "", 2, |r| {
                Some(r.1.peak_lag as f64 / r.3.peak_lag.max(1) as f64)
            }),
            ("time to drain ÷ KEDA (tuned)", "", 2, |r| {
                Some(r.1.time_to_drain? / r.2.time_to_drain?)
            }),
            ("time to drain ÷ KEDA (default)", "", 2, |r| {
                Some(r.1.time_to_drain? / r.3.time_to_drain?)
            }),
            ("replica-seconds ÷ KEDA (tuned)", "", 2, |r| {
                Some(r.1.replica_seconds / r.2.replica_seconds)
            }),
            ("replica-seconds ÷ KEDA (default)", "", 2, |r| {
                Some(r.1.replica_seconds / r.3.replica_seconds)
            }),
            ("worker-seconds ÷ KEDA (tuned)", "", 2, |r| {
                Some(r.1.worker_seconds / r.2.worker_seconds)
            }),
            ("worker-seconds ÷ KEDA (default)", "", 2, |r| {
                Some(r.1.worker_seconds / r.3.worker_seconds)
            }),
        ];
        let mut s = String::new();
        let _ = writeln!(
            s,
            "### {} over seeds {first}..={last} ({n} seeds)\n",
            self.trace
        );
        let _ = writeln!(s, "| figure | min / median / max |");
        let _ = writeln!(s, "|---|---:|");
        for (name, unit, digits, pick) in figures {
            let v: Vec<f64> = self.runs.iter().filter_map(pick).collect();
            let _ = writeln!(s, "| {name} | {} |", fmt(v, unit, digits));
        }
        for (who, pick) in [
            ("spate", 1usize),
            ("KEDA (tuned)", 2),
            ("KEDA (default)", 3),
        ] {
            let v = self
                .runs
                .iter()
                .map(|r| [&r.1, &r.2, &r.3][pick - 1].reversals as f64)
                .collect();
            let _ = writeln!(s, "| {who}: direction reversals | {} |", fmt(v, "", 0));
        }
        if self.runs.iter().any(|r| r.1.first_scale_up.is_some()) {
            let _ = writeln!(
                s,
                "\n| target | seeds met vs KEDA (lagThreshold {tuned_threshold}) | seeds met vs KEDA (lagThreshold {default_threshold}) |"
            );
            let _ = writeln!(s, "|---|---:|---:|");
            for i in 0..4 {
                let met = |k: fn(&(u64, Summary, Summary, Summary)) -> &Summary| {
                    self.runs
                        .iter()
                        .filter(|r| step_targets(&r.1, k(r))[i].1)
                        .count()
                };
                let name = step_targets(&self.runs[0].1, &self.runs[0].2)[i].0;
                let _ = writeln!(
                    s,
                    "| {name} | {}/{n} | {}/{n} |",
                    met(|r| &r.2),
                    met(|r| &r.3)
                );
            }
        }
        s
    }
}
