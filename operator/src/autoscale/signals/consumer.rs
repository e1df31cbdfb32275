//! The consumer's metrics the autoscaler needs, and the signals derived from two readings of them.

use super::text::{Sample, sum};

/// One pod's counters and gauges at one moment (names from the consumer's `/metrics`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodCounters {
    /// `trades_processed_total`.
    pub processed: f64,
    /// `spate_worker_busy_seconds_total`.
    pub busy_seconds: f64,
    /// `spate_workers`.
    pub workers: f64,
    /// `spate_queue_depth`.
    pub queue_depth: f64,
    /// `spate_flush_latency_seconds_sum`.
    pub flush_seconds: f64,
    /// `spate_flush_latency_seconds_count`.
    pub flushes: f64,
}

impl PodCounters {
    /// The counters in a parsed exposition; None when it lacks the processed-trades counter
    /// (not a spate consumer).
    pub fn from_samples(samples: &[Sample]) -> Option<PodCounters> {
        Some(PodCounters {
            processed: sum(samples, "trades_processed_total")?,
            busy_seconds: sum(samples, "spate_worker_busy_seconds_total").unwrap_or(0.0),
            workers: sum(samples, "spate_workers").unwrap_or(0.0),
            queue_depth: sum(samples, "spate_queue_depth").unwrap_or(0.0),
            flush_seconds: sum(samples, "spate_flush_latency_seconds_sum").unwrap_or(0.0),
            flushes: sum(samples, "spate_flush_latency_seconds_count").unwrap_or(0.0),
        })
    }
}

/// What the consumers say about the pipeline's processing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsumerSignals {
    /// Records per second processed by all pods.
    pub throughput: Option<f64>,
    /// Records per second per busy worker (μ): processed ÷ busy worker-seconds.
    pub service_rate: Option<f64>,
    /// Per pod: busy worker-seconds per second ÷ workers.
    pub busy_ratio: Vec<(String, f64)>,
    /// The largest queue depth of one pod.
    pub queue_depth: Option<f64>,
    /// Mean QuestDB flush latency, seconds.
    pub flush_latency: Option<f64>,
    /// Workers per pod as the pods report them (the largest).
    pub workers: Option<f64>,
    /// Pods that answered.
    pub pods_seen: usize,
    /// Some pod did not answer, or the data is older than allowed.
    pub stale: bool,
}

/// Rates between two readings of every pod (`(pod, before, after)`, `seconds` apart).
/// A counter that went backwards (a restarted pod) contributes nothing for this interval.
pub fn signals_between(
    pods: &[(String, PodCounters, PodCounters)],
    seconds: f64,
) -> ConsumerSignals {
    let mut out = ConsumerSignals {
        pods_seen: pods.len(),
        ..ConsumerSignals::default()
    };
    if seconds <= 0.0 || pods.is_empty() {
        out.stale = true;
        return out;
    }
    let (mut processed, mut busy, mut flush_s, mut flushes) = (0.0, 0.0, 0.0, 0.0);
    for (pod, a, b) in pods {
        let dp = b.processed - a.processed;
        let db = b.busy_seconds - a.busy_seconds;
        if dp < 0.0 || db < 0.0 {
            continue;
        }
        processed += dp;
        busy += db;
        if b.flushes >= a.flushes && b.flush_seconds >= a.flush_seconds {
            flush_s += b.flush_seconds - a.flush_seconds;
            flushes += b.flushes - a.flushes;
        }
        if b.workers > 0.0 {
            out.busy_ratio.push((pod.clone(), db / seconds / b.workers));
        }
        out.queue_depth = Some(out.queue_depth.unwrap_or(0.0).max(b.queue_depth));
        out.workers = Some(out.workers.unwrap_or(0.0).max(b.workers));
    }
    out.throughput = Some(processed / seconds);
    out.service_rate = (busy > 0.0).then(|| processed / busy);
    out.flush_latency = (flushes > 0.0).then(|| flush_s / flushes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscale::signals::text::parse;

    /// Every series the autoscaler reads from a pod (here and in Prometheus mode) is
    /// one the consumer exports, from its first scrape on.
    #[test]
    fn every_series_the_autoscaler_reads_is_one_the_consumer_exports() {
        let metrics = spate_consumer::metrics::Metrics::new().expect("the consumer's registry");
        let samples = parse(&metrics.render());
        for name in [
            "trades_processed_total",
            "spate_worker_busy_seconds_total",
            "spate_workers",
            "spate_queue_depth",
            "spate_flush_latency_seconds_sum",
            "spate_flush_latency_seconds_count",
        ] {
            assert!(
                sum(&samples, name).is_some(),
                "the consumer exports no {name}"
            );
        }
        assert!(PodCounters::from_samples(&samples).is_some());
    }

    fn counters(
        processed: f64,
        busy: f64,
        workers: f64,
        flush_s: f64,
        flushes: f64,
    ) -> PodCounters {
        PodCounters {
            processed,
            busy_seconds: busy,
            workers,
            queue_depth: 0.0,
            flush_seconds: flush_s,
            flushes,
        }
    }

    #[test]
    fn counters_are_read_from_the_consumers_metric_names() {
        let text = "trades_processed_total 10\nspate_worker_busy_seconds_total 2.5\nspate_workers 4\n\
                    spate_queue_depth 9\nspate_flush_latency_seconds_sum 0.3\nspate_flush_latency_seconds_count 6\n";
        let c = PodCounters::from_samples(&parse(text)).unwrap();
        assert_eq!(
            c,
            PodCounters {
                processed: 10.0,
                busy_seconds: 2.5,
                workers: 4.0,
                queue_depth: 9.0,
                flush_seconds: 0.3,
                flushes: 6.0
            }
        );
        assert_eq!(PodCounters::from_samples(&parse("up 1\n")), None);
    }

    #[test]
    fn throughput_service_rate_busy_ratio_and_latency_come_from_the_increments() {
        let pods = vec![
            (
                "a".to_string(),
                counters(0.0, 0.0, 4.0, 0.0, 0.0),
                counters(10_000.0, 20.0, 4.0, 1.0, 10.0),
            ),
            (
                "b".to_string(),
                counters(0.0, 0.0, 2.0, 0.0, 0.0),
                counters(5_000.0, 10.0, 2.0, 1.0, 10.0),
            ),
        ];
        let s = signals_between(&pods, 10.0);
        assert_eq!(s.throughput, Some(1500.0));
        assert_eq!(s.service_rate, Some(500.0));
        assert_eq!(s.busy_ratio, vec![("a".into(), 0.5), ("b".into(), 0.5)]);
        assert_eq!(s.flush_latency, Some(0.1));
        assert_eq!((s.pods_seen, s.stale), (2, false));
    }

    #[test]
    fn a_restarted_pod_adds_nothing_for_that_interval() {
        let pods = vec![(
            "a".to_string(),
            counters(9000.0, 9.0, 1.0, 0.0, 0.0),
            counters(10.0, 0.1, 1.0, 0.0, 0.0),
        )];
        let s = signals_between(&pods, 10.0);
        assert_eq!((s.throughput, s.service_rate), (Some(0.0), None));
    }
}
