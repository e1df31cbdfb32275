//! What a run saw, second by second, and its summary: figures, a table and an SVG plot.

use std::fmt::Write as _;

use spate_operator::autoscale::sim::svg::{Panel, Series, render};

/// One second of the run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sample {
    /// Seconds since the load started.
    pub t: f64,
    /// Trades Kafka acknowledged so far.
    pub produced: u64,
    /// Trades per second produced over the last interval.
    pub produce_rate: f64,
    /// Rows in the QuestDB table.
    pub rows: u64,
    /// Rows per second landed over the last interval.
    pub row_rate: f64,
    /// The consumer group's lag; None when unreadable.
    pub lag: Option<u64>,
    /// Workers of each ready pod, by pod name.
    pub workers: Vec<(String, u32)>,
    /// The Deployment's replicas.
    pub replicas: u32,
    /// Its ready replicas.
    pub ready: u32,
    /// The autoscaler's latest scaling reason, as in the status.
    pub last_reason: Option<String>,
    /// The operator replica that last wrote the autoscaler's memory.
    pub memory_writer: Option<String>,
    /// The oldest moment that memory holds (a calm base, the last scaling, the last
    /// scale-up), seconds since the load started.
    pub memory_since: Option<f64>,
}

impl Sample {
    /// Workers summed over the ready pods.
    pub fn total_workers(&self) -> u32 {
        self.workers.iter().map(|(_, w)| w).sum()
    }

    /// The progress line the demo prints.
    pub fn line(&self) -> String {
        let lag = self.lag.map_or("?".into(), |l| l.to_string());
        let workers = if self.workers.is_empty() {
            "-".into()
        } else {
            self.workers
                .iter()
                .map(|(_, w)| w.to_string())
                .collect::<Vec<_>>()
                .join("+")
        };
        let reason = self
            .last_reason
            .as_deref()
            .map(|r| shorten(r, 90))
            .unwrap_or_default();
        format!(
            "t={:>5.0}s  in {:>7.0}/s  out {:>7.0}/s  produced {:>9}  rows {:>9}  lag {:>8}  pods {}/{}  workers {:<8} {}",
            self.t,
            self.produce_rate,
            self.row_rate,
            self.produced,
            self.rows,
            lag,
            self.ready,
            self.replicas,
            workers,
            reason
        )
    }
}

fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A scaling decision of the operator, from its Event.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionRow {
    /// Seconds since the load started.
    pub t: f64,
    /// `ScaleUp` or `ScaleDown`.
    pub action: String,
    /// The policy's reason.
    pub reason: String,
    /// The policy's sentence.
    pub note: String,
}

/// The run's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Trades Kafka acknowledged.
    pub produced: u64,
    /// Trades Kafka refused.
    pub failed: u64,
    /// Rows in QuestDB.
    pub rows: u64,
    /// Distinct trade identities (exchange, symbol, trade id) in QuestDB.
    pub distinct: u64,
    /// The largest lag seen, and when.
    pub peak_lag: u64,
    /// When the spike started and ended, seconds.
    pub spike: (f64, f64),
    /// From the spike's start to the first scale-up.
    pub first_scale_up: Option<f64>,
    /// From the spike's start to the lag being back under the drained threshold after its peak.
    pub drained_after: Option<f64>,
    /// From the spike's start to the first scale-down.
    pub first_scale_down: Option<f64>,
    /// The most workers one pod ran.
    pub max_workers_per_pod: u32,
    /// The most ready pods.
    pub max_ready: u32,
    /// Pods at the end.
    pub final_replicas: u32,
    /// Workers per pod at the end (the largest).
    pub final_workers: u32,
    /// Every scaling decision.
    pub decisions: Vec<DecisionRow>,
}

/// Summarises `samples` and `decisions`; the backlog counts as drained under `drained_below`.
pub fn summarise(
    samples: &[Sample],
    decisions: Vec<DecisionRow>,
    spike: (f64, f64),
    counts: (u64, u64, u64, u64),
    drained_below: u64,
) -> Summary {
    let (produced, failed, rows, distinct) = counts;
    let peak =
        samples
            .iter()
            .filter_map(|s| s.lag.map(|l| (s.t, l)))
            .fold(
                (0.0, 0u64),
                |best, (t, l)| if l > best.1 { (t, l) } else { best },
            );
    let drained_at = samples
        .iter()
        .find(|s| s.t > peak.0 && s.t >= spike.0 && s.lag.is_some_and(|l| l <= drained_below))
        .map(|s| s.t);
    // Decision times come from the status, whole seconds: one may read up to a second early.
    let after = |action: &str| {
        decisions
            .iter()
            .find(|d| d.action == action && d.t >= spike.0 - 1.0)
            .map(|d| (d.t - spike.0).max(0.0))
    };
    let last = samples.last().cloned().unwrap_or_default();
    Summary {
        produced,
        failed,
        rows,
        distinct,
        peak_lag: peak.1,
        spike,
        first_scale_up: after("ScaleUp"),
        drained_after: drained_at.map(|t| t - spike.0),
        first_scale_down: after("ScaleDown"),
        max_workers_per_pod: samples
            .iter()
            .flat_map(|s| s.workers.iter().map(|(_, w)| *w))
            .max()
            .unwrap_or(0),
        max_ready: samples.iter().map(|s| s.ready).max().unwrap_or(0),
        final_replicas: last.replicas,
        final_workers: last.workers.iter().map(|(_, w)| *w).max().unwrap_or(0),
        decisions,
    }
}

impl Summary {
    /// Whether every produced trade is in QuestDB exactly once.
    pub fn exactly_once(&self) -> bool {
        self.failed == 0 && self.rows == self.produced && self.distinct == self.produced
    }

    /// The summary as a plain-text table.
    pub fn table(&self) -> String {
        let secs = |v: Option<f64>| v.map_or("—".into(), |s| format!("{s:.0} s"));
        let mut out = String::new();
        let rows: Vec<(&str, String)> = vec![
            (
                "trades produced (acked by Kafka)",
                self.produced.to_string(),
            ),
            ("trades refused by Kafka", self.failed.to_string()),
            ("rows in QuestDB", self.rows.to_string()),
            ("distinct trades in QuestDB", self.distinct.to_string()),
            (
                "exactly once",
                if self.exactly_once() {
                    "yes".into()
                } else {
                    "NO".into()
                },
            ),
            (
                "spike",
                format!("{:.0} s → {:.0} s", self.spike.0, self.spike.1),
            ),
            ("peak lag (records)", self.peak_lag.to_string()),
            ("spike start → first scale-up", secs(self.first_scale_up)),
            ("spike start → backlog drained", secs(self.drained_after)),
            (
                "spike start → first scale-down",
                secs(self.first_scale_down),
            ),
            (
                "most workers in one pod",
                self.max_workers_per_pod.to_string(),
            ),
            ("most ready pods", self.max_ready.to_string()),
            (
                "size at the end (pods × workers)",
                format!("{} × {}", self.final_replicas, self.final_workers),
            ),
        ];
        let width = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        for (k, v) in rows {
            let _ = writeln!(out, "  {k:<width$}  {v}");
        }
        let _ = writeln!(out, "\n  scaling decisions ({}):", self.decisions.len());
        for d in &self.decisions {
            let _ = writeln!(
                out,
                "  t={:>5.0}s  {:<9} {:<18} {}",
                d.t, d.action, d.reason, d.note
            );
        }
        out
    }
}

/// The run as an SVG: arrivals and landed rows, lag, workers, pods.
pub fn plot(title: &str, samples: &[Sample], decisions: &[DecisionRow]) -> String {
    let series = |label: &str,
                  color: &'static str,
                  dashed: bool,
                  f: &dyn Fn(&Sample) -> Option<f64>| Series {
        label: label.into(),
        color,
        dashed,
        points: samples
            .iter()
            .filter_map(|s| f(s).map(|v| (s.t, v)))
            .collect(),
    };
    let marks = |action: &str, color: &'static str, top: f64| Series {
        label: format!("{action} decisions"),
        color,
        dashed: true,
        points: decisions
            .iter()
            .filter(|d| d.action == action)
            .flat_map(|d| [(d.t, 0.0), (d.t, top), (d.t, 0.0)])
            .collect(),
    };
    let max_workers = samples.iter().map(|s| s.total_workers()).max().unwrap_or(1) as f64;
    let panels = vec![
        Panel {
            title: "Arrivals and ingestion".into(),
            y_label: "trades/s".into(),
            series: vec![
                series("produced to Kafka", "#1f77b4", false, &|s| {
                    Some(s.produce_rate)
                }),
                series("rows landed in QuestDB", "#2ca02c", false, &|s| {
                    Some(s.row_rate)
                }),
            ],
        },
        Panel {
            title: "Consumer-group lag".into(),
            y_label: "records".into(),
            series: vec![series("lag", "#d62728", false, &|s| {
                s.lag.map(|l| l as f64)
            })],
        },
        Panel {
            title: "Workers (all pods)".into(),
            y_label: "workers".into(),
            series: vec![
                series("workers", "#9467bd", false, &|s| {
                    Some(f64::from(s.total_workers()))
                }),
                marks("ScaleUp", "#ff7f0e", max_workers),
                marks("ScaleDown", "#17becf", max_workers),
            ],
        },
        Panel {
            title: "Consumer pods".into(),
            y_label: "pods".into(),
            series: vec![
                series("Deployment replicas", "#8c564b", false, &|s| {
                    Some(f64::from(s.replicas))
                }),
                series("ready", "#e377c2", true, &|s| Some(f64::from(s.ready))),
            ],
        },
    ];
    let t_max = samples.last().map_or(1.0, |s| s.t.max(1.0));
    render(title, t_max, &panels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: f64, lag: u64, workers: &[u32], replicas: u32) -> Sample {
        Sample {
            t,
            lag: Some(lag),
            workers: workers
                .iter()
                .enumerate()
                .map(|(i, w)| (format!("p{i}"), *w))
                .collect(),
            replicas,
            ready: workers.len() as u32,
            ..Sample::default()
        }
    }

    fn decision(t: f64, action: &str) -> DecisionRow {
        DecisionRow {
            t,
            action: action.into(),
            reason: "R".into(),
            note: "n".into(),
        }
    }

    #[test]
    fn the_summary_finds_the_peak_the_drain_and_the_decisions() {
        let samples = vec![
            sample(0.0, 10, &[1], 1),
            sample(10.0, 5_000, &[1], 1),
            sample(12.0, 40_000, &[4], 2),
            sample(14.0, 9_000, &[4, 2], 2),
            sample(16.0, 50, &[4, 4], 2),
            sample(40.0, 0, &[2], 1),
        ];
        let decisions = vec![
            decision(8.0, "ScaleUp"),
            decision(11.0, "ScaleUp"),
            decision(12.0, "ScaleUp"),
            decision(35.0, "ScaleDown"),
        ];
        let s = summarise(&samples, decisions, (10.0, 20.0), (100, 0, 100, 100), 100);
        assert_eq!(s.peak_lag, 40_000);
        assert_eq!(s.first_scale_up, Some(1.0));
        assert_eq!(s.drained_after, Some(6.0));
        assert_eq!(s.first_scale_down, Some(25.0));
        assert_eq!(
            (
                s.max_workers_per_pod,
                s.max_ready,
                s.final_replicas,
                s.final_workers
            ),
            (4, 2, 1, 2)
        );
        assert!(s.exactly_once());
        assert!(s.table().contains("exactly once"));
    }

    #[test]
    fn a_decision_stamped_within_a_second_before_the_spike_counts_as_at_its_start() {
        let s = summarise(
            &[],
            vec![decision(9.5, "ScaleUp")],
            (10.0, 20.0),
            (0, 0, 0, 0),
            0,
        );
        assert_eq!(s.first_scale_up, Some(0.0));
    }

    #[test]
    fn missing_or_duplicated_rows_are_not_exactly_once() {
        let s = summarise(&[], vec![], (0.0, 1.0), (100, 0, 99, 99), 0);
        assert!(!s.exactly_once());
        let s = summarise(&[], vec![], (0.0, 1.0), (100, 0, 101, 100), 0);
        assert!(!s.exactly_once());
    }

    #[test]
    fn the_plot_is_an_svg_with_every_panel() {
        let samples = vec![sample(0.0, 10, &[1], 1), sample(1.0, 20, &[2], 1)];
        let svg = plot("demo", &samples, &[decision(0.5, "ScaleUp")]);
        assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"));
        for title in ["Arrivals", "lag", "Workers", "pods"] {
            assert!(svg.contains(title), "{title}");
        }
    }
}
