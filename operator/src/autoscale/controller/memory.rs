//! The autoscaler's memory in the pipeline's status. The live policy's clock is the time
//! since the Unix epoch, so what one leader remembers means the same to the next.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::autoscale::policy::{PolicyState, ScaleUpMark};
use crate::crd::{AutoscalerMemory, RememberedRate, RememberedScaleUp, RememberedWorkers};

/// The policy's clock now: the time since the Unix epoch.
pub fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A time on the policy's clock as a date.
pub fn wall_clock(at: Duration) -> chrono::DateTime<chrono::Utc> {
    let secs = i64::try_from(at.as_secs()).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(secs, at.subsec_nanos()).unwrap_or_default()
}

fn ms(at: Duration) -> i64 {
    at.as_millis().min(i64::MAX as u128) as i64
}

fn at(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0) as u64)
}

/// What of `state` survives a change of leader, written by `writer`. The trend window is
/// left out: it is a few seconds of samples, refilled by the next leader's first rounds.
pub fn remember(state: &PolicyState, writer: &str) -> AutoscalerMemory {
    AutoscalerMemory {
        writer: Some(writer.to_string()),
        calm_bases: state
            .calm_bases
            .iter()
            .map(|(when, rate)| RememberedRate {
                at_ms: ms(*when),
                per_second: *rate,
            })
            .collect(),
        down_needs: state
            .down_needs
            .iter()
            .map(|(when, workers)| RememberedWorkers {
                at_ms: ms(*when),
                workers: (*workers).min(i32::MAX as u32) as i32,
            })
            .collect(),
        dwell_doublings: (state.dwell_doublings > 0)
            .then_some(state.dwell_doublings.min(i32::MAX as u32) as i32),
        up_since_ms: state.up_since.map(ms),
        down_since_ms: state.down_since.map(ms),
        last_scale_ms: state.last_scale.map(ms),
        last_down_ms: state.last_down.map(ms),
        last_up: state.last_up.map(|m| RememberedScaleUp {
            at_ms: ms(m.at),
            flush_latency_seconds: m.flush_latency,
            throughput: m.throughput,
        }),
    }
}

/// The policy's state from a memory; values a policy never writes (negative counts, rates
/// that are not finite) are dropped.
pub fn recall(memory: &AutoscalerMemory) -> PolicyState {
    PolicyState {
        calm_bases: memory
            .calm_bases
            .iter()
            .filter(|r| r.per_second.is_finite() && r.per_second >= 0.0)
            .map(|r| (at(r.at_ms), r.per_second))
            .collect(),
        down_needs: memory
            .down_needs
            .iter()
            .filter(|n| n.workers >= 0)
            .map(|n| (at(n.at_ms), n.workers as u32))
            .collect(),
        dwell_doublings: memory.dwell_doublings.unwrap_or(0).max(0) as u32,
        up_since: memory.up_since_ms.map(at),
        down_since: memory.down_since_ms.map(at),
        last_scale: memory.last_scale_ms.map(at),
        last_down: memory.last_down_ms.map(at),
        last_up: memory
            .last_up
            .as_ref()
            .filter(|m| m.flush_latency_seconds.is_finite() && m.throughput.is_finite())
            .map(|m| ScaleUpMark {
                at: at(m.at_ms),
                flush_latency: m.flush_latency_seconds,
                throughput: m.throughput,
            }),
        window: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscale::policy::trend::Sample;

    fn state() -> PolicyState {
        let t = |s: u64| Duration::from_millis(1_764_000_000_000 + s * 1000);
        PolicyState {
            up_since: Some(t(40)),
            down_since: None,
            down_needs: vec![(t(10), 12), (t(20), 8)],
            last_up: Some(ScaleUpMark {
                at: t(30),
                flush_latency: 0.012,
                throughput: 24_000.0,
            }),
            last_scale: Some(t(30)),
            last_down: Some(t(5)),
            dwell_doublings: 2,
            window: vec![Sample {
                at: t(41),
                rate: 25_000.0,
                backlog: 90_000,
            }],
            calm_bases: vec![(t(1), 1_050.0), (t(3), 990.0)],
        }
    }

    #[test]
    fn a_new_leader_recalls_all_but_the_trend_window() {
        let s = state();
        let recalled = recall(&remember(&s, "operator-a"));
        assert_eq!(
            recalled,
            PolicyState {
                window: Vec::new(),
                ..s
            }
        );
    }

    #[test]
    fn the_memory_names_its_writer_and_round_trips_through_json() {
        let m = remember(&state(), "operator-a");
        assert_eq!(m.writer.as_deref(), Some("operator-a"));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["calmBases"][0]["perSecond"], 1_050.0);
        assert_eq!(json["dwellDoublings"], 2);
        let back: AutoscalerMemory = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn values_no_policy_writes_are_dropped() {
        let m = AutoscalerMemory {
            calm_bases: vec![
                RememberedRate {
                    at_ms: 1,
                    per_second: f64::NAN,
                },
                RememberedRate {
                    at_ms: 2,
                    per_second: 500.0,
                },
            ],
            down_needs: vec![RememberedWorkers {
                at_ms: 1,
                workers: -3,
            }],
            dwell_doublings: Some(-1),
            ..AutoscalerMemory::default()
        };
        let s = recall(&m);
        assert_eq!(s.calm_bases, vec![(Duration::from_millis(2), 500.0)]);
        assert!(s.down_needs.is_empty());
        assert_eq!(s.dwell_doublings, 0);
    }
}
