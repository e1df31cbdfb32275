//! Runs over many seeds: the spread of every figure, and how many seeds meet each target.

use std::fmt::Write;

use super::report::{opt_ratio, ratio, secs};
use super::run::Summary;
use super::scenario::Scenario;
use super::trace::built_in;

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

/// The targets of the flash-crash traces, as (name, whether spate's figures meet it against
/// KEDA's): no worse than KEDA on peak lag and p99 latency, at no more replica-seconds.
pub fn parity_targets(s: &Summary, k: &Summary) -> [(&'static str, bool); 4] {
    let peak = s.peak_lag <= k.peak_lag;
    let p99 = s.p99_latency <= k.p99_latency;
    let cost = s.replica_seconds <= k.replica_seconds;
    [
        ("peak lag ≤ KEDA's", peak),
        ("p99 latency ≤ KEDA's", p99),
        ("replica-seconds ≤ KEDA's", cost),
        ("all three", peak && p99 && cost),
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
    /// table: peak lag, time to drain, p99 latency and replica-seconds of both, and the ratios.
    pub fn per_seed_table(&self, tuned_threshold: u64) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| seed | peak lag spate | peak lag KEDA ({tuned_threshold}) | ratio | drain spate | drain KEDA | ratio | p99 spate | p99 KEDA | replica-s spate | replica-s KEDA | ratio |"
        );
        let _ = writeln!(
            s,
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (seed, a, b, _) in &self.runs {
            let _ = writeln!(
                s,
                "| {seed} | {} | {} | {} | {} | {} | {} | {:.2} s | {:.2} s | {:.0} | {:.0} | {} |",
                a.peak_lag,
                b.peak_lag,
                ratio(a.peak_lag as f64, b.peak_lag as f64),
                secs(a.time_to_drain),
                secs(b.time_to_drain),
                opt_ratio(a.time_to_drain, b.time_to_drain),
                a.p99_latency,
                b.p99_latency,
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
        let figures: [(&str, &str, usize, Pick); 11] = [
            ("spate: time to first scale-up", " s", 1, |r| {
                r.1.first_scale_up
            }),
            ("peak lag ÷ KEDA (tuned)", "", 2, |r| {
                Some(r.1.peak_lag as f64 / r.2.peak_lag.max(1) as f64)
            }),
            ("peak lag ÷ KEDA (default)", "", 2, |r| {
                Some(r.1.peak_lag as f64 / r.3.peak_lag.max(1) as f64)
            }),
            ("p99 latency ÷ KEDA (tuned)", "", 2, |r| {
                Some(r.1.p99_latency / r.2.p99_latency)
            }),
            ("p99 latency ÷ KEDA (default)", "", 2, |r| {
                Some(r.1.p99_latency / r.3.p99_latency)
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
            let v = self
                .runs
                .iter()
                .map(|r| [&r.1, &r.2, &r.3][pick - 1].quick_reversals as f64)
                .collect();
            let _ = writeln!(
                s,
                "| {who}: trims raised back within 5 min | {} |",
                fmt(v, "", 0)
            );
        }
        let spiking = self.runs.iter().any(|r| r.1.first_scale_up.is_some());
        let _ = writeln!(
            s,
            "\n| target | seeds met vs KEDA (lagThreshold {tuned_threshold}) | seeds met vs KEDA (lagThreshold {default_threshold}) |"
        );
        let _ = writeln!(s, "|---|---:|---:|");
        type Targets = fn(&Summary, &Summary) -> [(&'static str, bool); 4];
        let sets: &[Targets] = if spiking {
            &[step_targets, parity_targets]
        } else {
            &[parity_targets]
        };
        for targets in sets {
            for i in 0..4 {
                let met = |k: fn(&(u64, Summary, Summary, Summary)) -> &Summary| {
                    self.runs
                        .iter()
                        .filter(|r| targets(&r.1, k(r))[i].1)
                        .count()
                };
                let name = targets(&self.runs[0].1, &self.runs[0].2)[i].0;
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
