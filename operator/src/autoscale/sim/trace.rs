//! Load traces: arrivals per second over time, built in or read from a CSV file.

use super::market::{self, CRASH_SERIES, FLASH_CRASH};
use super::rng::Rng;

/// Arrivals per second, one value per second of simulated time.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// A short name (file and table title).
    pub name: String,
    /// Arrivals per second during second `i`.
    pub rates: Vec<f64>,
    /// When the load changes sharply, for the "time to first scale-up" and "time to drain" figures.
    pub spike_at: Option<f64>,
    /// The trace's place on the calendar and the capacity schedules a user of it would
    /// set for its known events (`None`: a trace with no known events).
    pub calendar: Option<Calendar>,
}

/// A trace on the calendar: when its second 0 is, and the `autoscaling.schedules` for its
/// known events, read by spate's autoscaler as the live loop reads them.
#[derive(Clone, Debug, PartialEq)]
pub struct Calendar {
    /// The date and time of the trace's second 0.
    pub starts: chrono::DateTime<chrono::Utc>,
    /// The schedules, as in a spec.
    pub schedules: Vec<crate::crd::CapacitySchedule>,
}

impl Calendar {
    /// The date and time of the trace's second `t`.
    pub fn at(&self, t: f64) -> chrono::DateTime<chrono::Utc> {
        self.starts + chrono::Duration::milliseconds((t * 1000.0) as i64)
    }
}

/// Why a CSV trace was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TraceError {
    /// A line is not `second,arrivals_per_second`.
    #[error("line {line}: expected `second,arrivals_per_second`, got {text:?}")]
    ParseLine {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// Seconds must increase.
    #[error("line {line}: second {second} does not follow the previous one")]
    OrderSeconds {
        /// 1-based line number.
        line: usize,
        /// The offending second.
        second: u64,
    },
    /// No data lines.
    #[error("the trace has no data lines")]
    Empty,
}

impl Trace {
    /// Duration in seconds.
    pub fn seconds(&self) -> usize {
        self.rates.len()
    }

    /// The rate at time `t` (seconds), holding the last value past the end.
    pub fn rate_at(&self, t: f64) -> f64 {
        let i = (t.max(0.0) as usize).min(self.rates.len().saturating_sub(1));
        self.rates.get(i).copied().unwrap_or(0.0)
    }

    /// Parses `second,arrivals_per_second` lines (a header line, blank lines and `#` comments
    /// are skipped); each value holds until the next second given.
    pub fn from_csv(name: &str, text: &str) -> Result<Trace, TraceError> {
        let mut points: Vec<(u64, f64)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parsed = line.split_once(',').and_then(|(s, r)| {
                Some((s.trim().parse::<u64>().ok()?, r.trim().parse::<f64>().ok()?))
            });
            match parsed {
                Some((s, r)) if r.is_finite() && r >= 0.0 => {
                    if points.last().is_some_and(|(p, _)| *p >= s) {
                        return Err(TraceError::OrderSeconds {
                            line: i + 1,
                            second: s,
                        });
                    }
                    points.push((s, r));
                }
                _ if points.is_empty() && i == first_data_line(text) => continue, // header
                _ => {
                    return Err(TraceError::ParseLine {
                        line: i + 1,
                        text: raw.to_string(),
                    });
                }
            }
        }
        let last = points.last().ok_or(TraceError::Empty)?.0 as usize;
        let mut rates = vec![0.0; last + 1];
        for w in 0..points.len() {
            let (s, r) = points[w];
            let end = points.get(w + 1).map_or(last + 1, |(n, _)| *n as usize);
            rates[s as usize..end].iter_mut().for_each(|x| *x = r);
        }
        let spike_at = detect_spike(&rates);
        Ok(Trace {
            name: name.to_string(),
            rates,
            spike_at,
            calendar: None,
        })
    }
}

fn first_data_line(text: &str) -> usize {
    text.lines()
        .position(|l| !l.trim().is_empty() && !l.trim().starts_with('#'))
        .unwrap_or(0)
}

/// The first second whose rate is at least twice the previous second's (and non-trivial).
fn detect_spike(rates: &[f64]) -> Option<f64> {
    rates
        .windows(2)
        .position(|w| w[1] >= 2.0 * w[0] && w[1] > 0.0 && w[0] > 0.0)
        .map(|i| (i + 1) as f64)
}

/// Names of the built-in traces.
pub const BUILT_IN: [&str; 9] = [
    "step10",
    "ramp",
    "bursts",
    "noisy",
    "diurnal",
    "flashcrash",
    "crashes",
    "hawkes",
    "eventday",
];

/// A built-in trace around `base` arrivals per second.
pub fn built_in(name: &str, base: f64, seed: u64) -> Option<Trace> {
    let mut rng = Rng::new(seed ^ 0x7452_4143_4553);
    let (rates, spike_at): (Vec<f64>, Option<f64>) = match name {
        // 60 s calm, ten times the load for 600 s, calm again for 540 s.
        "step10" => (
            (0..1200)
                .map(|s| {
                    if (60..660).contains(&s) {
                        10.0 * base
                    } else {
                        base
                    }
                })
                .collect(),
            Some(60.0),
        ),
        // From the base to ten times it over 300 s, hold 300 s, back down over 300 s.
        "ramp" => (
            (0..1200)
                .map(|s| {
                    let s = s as f64;
                    let k = if s < 60.0 {
                        0.0
                    } else if s < 360.0 {
                        (s - 60.0) / 300.0
                    } else if s < 660.0 {
                        1.0
                    } else if s < 960.0 {
                        1.0 - (s - 660.0) / 300.0
                    } else {
                        0.0
                    };
                    base * (1.0 + 9.0 * k)
                })
                .collect(),
            None,
        ),
        // 20-second bursts of eight times the load every five minutes for half an hour.
        "bursts" => (
            (0..1800)
                .map(|s| {
                    if s >= 120 && (s - 120) % 300 < 20 {
                        8.0 * base
                    } else {
                        base
                    }
                })
                .collect(),
            Some(120.0),
        ),
        // One hour around 2.75 × the base (a size between two worker counts) with 10 % noise per second.
        "noisy" => (
            (0..3600)
                .map(|_| 2.75 * base * (1.0 + 0.1 * rng.normal()).max(0.0))
                .collect(),
            None,
        ),
        // A day compressed into two hours: from the base at night to five times it at noon, 5 % noise.
        "diurnal" => (
            (0..7200)
                .map(|s| {
                    let day = (std::f64::consts::PI * s as f64 / 7200.0).sin();
                    base * (1.0 + 4.0 * day * day) * (1.0 + 0.05 * rng.normal()).max(0.0)
                })
                .collect(),
            None,
        ),
        // A ramped flash crash with aftershocks, then a news burst (sim::market::FLASH_CRASH).
        "flashcrash" => (
            market::shocked(base, market::FLASH_CRASH_SECONDS, &FLASH_CRASH, &mut rng),
            Some(FLASH_CRASH[0].at),
        ),
        // Four flash crashes with different ramp times (sim::market::CRASH_SERIES).
        "crashes" => (
            market::shocked(base, market::CRASH_SERIES_SECONDS, &CRASH_SERIES, &mut rng),
            Some(CRASH_SERIES[0].at),
        ),
        // A self-exciting market (sim::market::hawkes).
        "hawkes" => (market::hawkes(base, market::HAWKES_SECONDS, &mut rng), None),
        // A trading day with scheduled events: open, a macro release, close (sim::market::EVENT_DAY).
        "eventday" => (
            market::event_day(base, &mut rng),
            Some(market::EVENT_DAY_OPEN),
        ),
        _ => return None,
    };
    Some(Trace {
        name: name.to_string(),
        rates,
        spike_at,
        calendar: (name == "eventday").then(|| market::event_day_calendar(base)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_trace_holds_each_rate_until_the_next_second_given() {
        let t = Trace::from_csv("x", "second,arrivals_per_second\n0,100\n3, 1000\n5,50\n").unwrap();
        assert_eq!(t.rates, vec![100.0, 100.0, 100.0, 1000.0, 1000.0, 50.0]);
        assert_eq!(t.spike_at, Some(3.0));
    }

    #[test]
    fn a_csv_trace_without_a_header_and_with_comments_is_read() {
        let t = Trace::from_csv("x", "# load\n\n0,1\n1,2\n").unwrap();
        assert_eq!(t.rates, vec![1.0, 2.0]);
    }

    #[test]
    fn a_bad_csv_line_is_refused_with_its_number() {
        assert_eq!(
            Trace::from_csv("x", "0,1\n1;2\n"),
            Err(TraceError::ParseLine {
                line: 2,
                text: "1;2".into()
            })
        );
        assert_eq!(
            Trace::from_csv("x", "5,1\n2,2\n"),
            Err(TraceError::OrderSeconds { line: 2, second: 2 })
        );
        assert_eq!(
            Trace::from_csv("x", "second,rate\n"),
            Err(TraceError::Empty)
        );
    }

    #[test]
    fn every_built_in_trace_exists_and_repeats_with_its_seed() {
        for name in BUILT_IN {
            let a = built_in(name, 1000.0, 1).unwrap();
            assert_eq!(a, built_in(name, 1000.0, 1).unwrap());
            assert!(a.rates.iter().all(|r| *r >= 0.0));
        }
        assert!(built_in("nope", 1.0, 1).is_none());
    }
}
