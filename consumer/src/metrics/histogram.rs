//! A histogram filled in batches: each worker counts observations into its own plain
//! buckets and adds them to the shared atomic buckets once per batch. The prometheus
//! crate's histograms take one value at a time, which costs too much per record.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{Bucket, Histogram, Metric, MetricFamily, MetricType};

struct Shared {
    desc: Desc,
    /// Upper bounds in milliseconds, ascending.
    bounds_ms: Vec<u64>,
    /// Per-bucket (not cumulative) counts; the last one is `+Inf`.
    buckets: Vec<AtomicU64>,
    sum_ms: AtomicU64,
}

/// A histogram of millisecond durations, exposed in seconds.
#[derive(Clone)]
pub struct BatchHistogram {
    shared: Arc<Shared>,
}

impl BatchHistogram {
    pub fn new(name: &str, help: &str, bounds_ms: &[u64]) -> Result<Self, prometheus::Error> {
        let desc = Desc::new(name.into(), help.into(), Vec::new(), HashMap::new())?;
        let mut bounds_ms = bounds_ms.to_vec();
        bounds_ms.sort_unstable();
        bounds_ms.dedup();
        Ok(Self {
            shared: Arc::new(Shared {
                desc,
                buckets: (0..=bounds_ms.len()).map(|_| AtomicU64::new(0)).collect(),
                bounds_ms,
                sum_ms: AtomicU64::new(0),
            }),
        })
    }

    /// A per-worker recorder.
    pub fn local(&self) -> LocalBatchHistogram {
        LocalBatchHistogram {
            counts: vec![0; self.shared.buckets.len()],
            bounds_ms: self.shared.bounds_ms.clone(),
            sum_ms: 0,
            shared: self.shared.clone(),
        }
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.shared
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .sum()
    }
}

impl Collector for BatchHistogram {
    fn desc(&self) -> Vec<&Desc> {
        vec![&self.shared.desc]
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let s = &self.shared;
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(s.bounds_ms.len());
        for (i, bound) in s.bounds_ms.iter().enumerate() {
            cumulative += s.buckets[i].load(Ordering::Relaxed);
            let mut b = Bucket::default();
            b.set_upper_bound(*bound as f64 / 1000.0);
            b.set_cumulative_count(cumulative);
            buckets.push(b);
        }
        cumulative += s.buckets[s.bounds_ms.len()].load(Ordering::Relaxed);
        let mut h = Histogram::default();
        h.set_bucket(buckets);
        h.set_sample_count(cumulative);
        h.set_sample_sum(s.sum_ms.load(Ordering::Relaxed) as f64 / 1000.0);
        let mut m = Metric::default();
        m.set_histogram(h);
        let mut family = MetricFamily::default();
        family.set_name(s.desc.fq_name.clone());
        family.set_help(s.desc.help.clone());
        family.set_field_type(MetricType::HISTOGRAM);
        family.set_metric(vec![m]);
        vec![family]
    }
}

/// One worker's buckets: plain integers, published with [`LocalBatchHistogram::flush`].
pub struct LocalBatchHistogram {
    counts: Vec<u64>,
    bounds_ms: Vec<u64>,
    sum_ms: u64,
    shared: Arc<Shared>,
}

impl LocalBatchHistogram {
    /// Records one duration in milliseconds.
    #[inline]
    pub fn observe_ms(&mut self, ms: u64) {
        // Branch-free: the bucket is the number of bounds below the value.
        let index = self
            .bounds_ms
            .iter()
            .map(|&b| usize::from(ms > b))
            .sum::<usize>();
        self.counts[index] += 1;
        self.sum_ms += ms;
    }

    /// Adds the local counts to the shared histogram and resets them.
    pub fn flush(&mut self) {
        for (local, shared) in self.counts.iter_mut().zip(&self.shared.buckets) {
            if *local > 0 {
                shared.fetch_add(*local, Ordering::Relaxed);
                *local = 0;
            }
        }
        if self.sum_ms > 0 {
            self.shared.sum_ms.fetch_add(self.sum_ms, Ordering::Relaxed);
            self.sum_ms = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_with_prometheus_bounds_semantics() {
        let h = BatchHistogram::new("lat_seconds", "latency", &[10, 100]).unwrap();
        let mut local = h.local();
        for ms in [5, 10, 11, 100, 1000] {
            local.observe_ms(ms);
        }
        assert_eq!(h.count(), 0, "nothing shared before the flush");
        local.flush();
        let family = &h.collect()[0];
        let hist = family.get_metric()[0].get_histogram();
        let cumulative: Vec<u64> = hist
            .get_bucket()
            .iter()
            .map(|b| b.cumulative_count())
            .collect();
        assert_eq!(cumulative, vec![2, 4]);
        assert_eq!(hist.get_sample_count(), 5);
        assert!((hist.get_sample_sum() - 1.126).abs() < 1e-9);
        assert_eq!(family.name(), "lat_seconds");
    }
}
