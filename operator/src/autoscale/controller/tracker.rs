//! Observations assembled from one round of readings, with the rate estimates and the memory
//! (last Kafka reading, pod set) they need between rounds. Pure: the caller does the I/O.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::autoscale::estimate::RateEstimator;
use crate::autoscale::policy::{Observations, PolicyConfig};
use crate::autoscale::signals::{ConsumerSignals, GroupLag};

/// λ and μ are averaged over this long …
const RATE_TAU: Duration = Duration::from_secs(10);
/// … and a sample this far (a fraction) from the average replaces it at once.
const RATE_JUMP: f64 = 0.5;
/// A μ sample needs at least this many busy worker-seconds per second behind it.
pub const MIN_BUSY_WORKERS: f64 = 0.05;
/// The workers count as saturated (having work waiting) with a backlog of at least this
/// many seconds of arrivals …
const SATURATED_SECONDS: f64 = 1.0;
/// … and at least this many records. A worker that waits for records (or lingers on a
/// small batch) shows its share of the arrivals, not what it could do: unsaturated, a
/// sample may raise μ but not lower it.
const SATURATED_RECORDS: u64 = 1000;

/// How long after a rebalance the consumers' rates still mix the pods before and after it
/// (the `rate()` window of the Prometheus queries, or two scrapes).
pub const RATE_WINDOW_SETTLE: Duration = Duration::from_secs(10);

/// After a change of the ready pods, how long μ is not sampled under `cfg`: the policy's
/// `rebalance_settle`, then [`RATE_WINDOW_SETTLE`].
pub fn settle(cfg: &PolicyConfig) -> Duration {
    cfg.rebalance_settle + RATE_WINDOW_SETTLE
}

/// What one round read; `None` where the reading failed.
#[derive(Clone, Debug)]
pub struct Readings<'a> {
    /// The policy's clock.
    pub now: Duration,
    /// The consumer group's lag, read this round.
    pub lag: Option<&'a GroupLag>,
    /// The consumers' metrics, read this round.
    pub consumers: Option<&'a ConsumerSignals>,
    /// The consumer pods that are ready (names).
    pub ready_pods: &'a BTreeSet<String>,
    /// Pods asked for.
    pub replicas: u32,
    /// Workers per pod asked for.
    pub workers: u32,
    /// After a change of the ready pods, how long μ is not sampled: the rebalance settles
    /// and the rates' window still mixes the pods that left with those that came.
    pub settle: Duration,
}

impl<'a> Readings<'a> {
    /// One round's readings under `cfg`, `asked` being the pods and workers per pod last
    /// asked for; μ is not sampled for [`settle`] after a change of the ready pods.
    pub fn of_round(
        now: Duration,
        lag: Option<&'a GroupLag>,
        consumers: Option<&'a ConsumerSignals>,
        ready_pods: &'a BTreeSet<String>,
        asked: (u32, u32),
        cfg: &PolicyConfig,
    ) -> Self {
        Self {
            now,
            lag,
            consumers,
            ready_pods,
            replicas: asked.0,
            workers: asked.1,
            settle: settle(cfg),
        }
    }
}

/// Turns successive rounds of readings into [`Observations`].
#[derive(Clone, Debug)]
pub struct Tracker {
    stale_after: Duration,
    forget_after: Duration,
    arrivals: RateEstimator,
    done: RateEstimator,
    service: RateEstimator,
    last_lag: Option<(Duration, GroupLag)>,
    pods: Option<BTreeSet<String>>,
    last_rebalance: Option<Duration>,
}

impl Tracker {
    /// A tracker marking Kafka data older than `stale_after` stale, and dropping it (the lag
    /// becomes unknown) once older than `forget_after`.
    pub fn new(stale_after: Duration, forget_after: Duration) -> Self {
        Self {
            stale_after,
            forget_after,
            arrivals: RateEstimator::new(RATE_TAU, RATE_JUMP),
            done: RateEstimator::new(RATE_TAU, RATE_JUMP),
            service: RateEstimator::new(RATE_TAU, RATE_JUMP),
            last_lag: None,
            pods: None,
            last_rebalance: None,
        }
    }

    /// Records done per second (written or dead-lettered, then committed): the growth of
    /// the summed high watermarks less the lag. Not a policy input; shown in the status.
    pub fn done_rate(&self) -> Option<f64> {
        self.done.rate()
    }

    /// The tracker of a loop that reads every `interval`, each read bounded by `timeout`:
    /// Kafka data is stale after three rounds and a timeout, and forgotten after ten rounds
    /// (at least 30 s).
    pub fn for_rounds(interval: Duration, timeout: Duration) -> Self {
        Self::new(
            interval * 3 + timeout,
            Duration::from_secs(30).max(interval * 10),
        )
    }

    /// The observations of this round.
    ///
    /// - backlog and partitions from the latest lag reading, stale when it is not from this
    ///   round or older than `stale_after`, unknown when older than `forget_after`;
    /// - λ from the growth of the summed high watermarks;
    /// - μ from processed records per busy worker-second; while no backlog keeps the workers
    ///   saturated a sample may raise the estimate but not lower it;
    /// - a change of the set of ready pods counts as a consumer-group rebalance, and μ is not
    ///   sampled for `settle` after it;
    /// - consumer metrics that are missing or stale mark the observations stale.
    pub fn observe(&mut self, r: &Readings<'_>) -> Observations {
        let now = r.now;
        if let Some(lag) = r.lag {
            self.arrivals.observe(now, lag.high_watermarks() as f64);
            self.done.observe(
                now,
                (lag.high_watermarks() as f64 - lag.total() as f64).max(0.0),
            );
            self.last_lag = Some((now, lag.clone()));
        }
        if let Some(before) = &self.pods
            && before != r.ready_pods
        {
            self.last_rebalance = Some(now);
        }
        let lambda = self.arrivals.rate().unwrap_or(0.0);
        let saturated = r.lag.is_some_and(|l| {
            let backlog = l.total();
            backlog >= SATURATED_RECORDS && backlog as f64 >= lambda * SATURATED_SECONDS
        });
        let settled = self.last_rebalance.is_none_or(|at| now >= at + r.settle);
        if settled
            && let Some(c) = r.consumers
            && let (Some(throughput), Some(mu)) = (c.throughput, c.service_rate)
            && mu > 0.0
            && (saturated || self.service.rate().is_none_or(|known| mu > known))
        {
            self.service
                .observe_ratio(now, throughput, throughput / mu, MIN_BUSY_WORKERS);
        }
        self.pods = Some(r.ready_pods.clone());

        let fresh_lag = self
            .last_lag
            .as_ref()
            .filter(|(at, _)| now.saturating_sub(*at) <= self.forget_after)
            .map(|(at, lag)| (now.saturating_sub(*at), lag));
        let kafka_stale =
            r.lag.is_none() || fresh_lag.is_none_or(|(age, _)| age > self.stale_after);
        let consumers = r.consumers.cloned().unwrap_or_default();
        Observations {
            partitions: fresh_lag.map_or(0, |(_, l)| l.partitions.len() as u32),
            backlog: fresh_lag.map(|(_, l)| l.total()),
            max_partition_lag: fresh_lag.map(|(_, l)| l.max()),
            arrival_rate: fresh_lag.and(self.arrivals.rate()),
            arrival_sample: r.lag.and(self.arrivals.last_sample()),
            service_rate: self.service.rate(),
            throughput: consumers.throughput,
            flush_latency: consumers.flush_latency,
            queue_depth: consumers.queue_depth.map(|q| q.max(0.0) as u64),
            replicas: r.replicas,
            workers: r.workers,
            ready_replicas: r.ready_pods.len() as u32,
            last_rebalance: self.last_rebalance,
            kafka_stale,
            metrics_stale: r.consumers.is_none_or(|c| c.stale),
            scheduled: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscale::signals::PartitionLag;

    fn lag(parts: &[(i64, i64)]) -> GroupLag {
        GroupLag {
            partitions: parts
                .iter()
                .enumerate()
                .map(|(i, &(high, committed))| PartitionLag {
                    topic: "t".into(),
                    partition: i as i32,
                    low: 0,
                    high,
                    committed: Some(committed),
                    lag: (high - committed).max(0) as u64,
                })
                .collect(),
        }
    }

    fn pods(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn consumers(throughput: f64, mu: f64, stale: bool) -> ConsumerSignals {
        ConsumerSignals {
            throughput: Some(throughput),
            service_rate: Some(mu),
            flush_latency: Some(0.02),
            queue_depth: Some(10.0),
            pods_seen: 1,
            stale,
            ..ConsumerSignals::default()
        }
    }

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn tracker() -> Tracker {
        Tracker::new(s(5), s(30))
    }

    fn round<'a>(
        now: u64,
        lag: Option<&'a GroupLag>,
        c: Option<&'a ConsumerSignals>,
        ready: &'a BTreeSet<String>,
    ) -> Readings<'a> {
        Readings {
            now: s(now),
            lag,
            consumers: c,
            ready_pods: ready,
            replicas: 1,
            workers: 2,
            settle: s(5),
        }
    }

    #[test]
    fn backlog_arrivals_and_service_rate_come_from_two_rounds() {
        let mut t = tracker();
        let ready = pods(&["a"]);
        let c = consumers(1000.0, 800.0, false);
        let first = t.observe(&round(
            0,
            Some(&lag(&[(100, 100), (100, 100)])),
            Some(&c),
            &ready,
        ));
        assert_eq!(first.arrival_rate, None, "one reading gives no rate");
        assert_eq!(first.service_rate, Some(800.0), "the first estimate");
        let l = lag(&[(2100, 100), (2100, 100)]);
        let o = t.observe(&round(1, Some(&l), Some(&c), &ready));
        assert_eq!(o.partitions, 2);
        assert_eq!(o.backlog, Some(4000));
        assert_eq!(o.max_partition_lag, Some(2000));
        assert_eq!(o.arrival_rate, Some(4000.0));
        assert_eq!(o.service_rate, Some(800.0));
        assert_eq!(o.throughput, Some(1000.0));
        assert_eq!(t.done_rate(), Some(0.0), "nothing committed in between");
        assert_eq!((o.replicas, o.workers, o.ready_replicas), (1, 2, 1));
        assert!(!o.kafka_stale && !o.metrics_stale);
        assert_eq!(o.last_rebalance, None);
    }

    #[test]
    fn a_failed_kafka_read_keeps_the_last_lag_but_marks_it_stale_then_forgets_it() {
        let mut t = tracker();
        let ready = pods(&["a"]);
        let c = consumers(1000.0, 800.0, false);
        let l = lag(&[(100, 50)]);
        t.observe(&round(0, Some(&l), Some(&c), &ready));
        let o = t.observe(&round(2, None, Some(&c), &ready));
        assert_eq!(o.backlog, Some(50));
        assert!(o.kafka_stale);
        let o = t.observe(&round(31, None, Some(&c), &ready));
        assert_eq!((o.backlog, o.arrival_rate, o.partitions), (None, None, 0));
        assert!(o.kafka_stale);
    }

    #[test]
    fn missing_or_stale_consumer_metrics_mark_the_observations_stale() {
        let mut t = tracker();
        let ready = pods(&["a"]);
        let l = lag(&[(100, 50)]);
        assert!(t.observe(&round(0, Some(&l), None, &ready)).metrics_stale);
        let c = consumers(1000.0, 800.0, true);
        assert!(
            t.observe(&round(1, Some(&l), Some(&c), &ready))
                .metrics_stale
        );
    }

    #[test]
    fn a_change_of_the_ready_pods_counts_as_a_rebalance() {
        let mut t = tracker();
        let l = lag(&[(100, 50)]);
        let one = pods(&["a"]);
        let two = pods(&["a", "b"]);
        assert_eq!(
            t.observe(&round(0, Some(&l), None, &one)).last_rebalance,
            None
        );
        assert_eq!(
            t.observe(&round(1, Some(&l), None, &one)).last_rebalance,
            None
        );
        let o = t.observe(&round(2, Some(&l), None, &two));
        assert_eq!((o.last_rebalance, o.ready_replicas), (Some(s(2)), 2));
        assert_eq!(
            t.observe(&round(3, Some(&l), None, &two)).last_rebalance,
            Some(s(2))
        );
    }

    #[test]
    fn workers_waiting_for_records_do_not_lower_the_service_rate() {
        let mut t = tracker();
        let ready = pods(&["a"]);
        let busy = consumers(20_000.0, 5000.0, false);
        // A backlog of 50 000 records: the workers are saturated, 5000/s each.
        t.observe(&round(0, Some(&lag(&[(50_000, 0)])), Some(&busy), &ready));
        let o = t.observe(&round(
            1,
            Some(&lag(&[(60_000, 20_000)])),
            Some(&busy),
            &ready,
        ));
        assert_eq!(o.service_rate, Some(5000.0));
        // Drained: eight workers share 2000/s and mostly wait; that is not their capacity.
        let waiting = consumers(2000.0, 300.0, false);
        let o = t.observe(&round(
            2,
            Some(&lag(&[(62_000, 61_800)])),
            Some(&waiting),
            &ready,
        ));
        assert_eq!(o.service_rate, Some(5000.0));
        // Almost no load: 10 records/s over 0.002 busy workers carries no information either.
        let idle = consumers(10.0, 5000.0, false);
        let o = t.observe(&round(
            3,
            Some(&lag(&[(90_000, 62_000)])),
            Some(&idle),
            &ready,
        ));
        assert_eq!(o.service_rate, Some(5000.0));
        // Unsaturated but faster (bigger batches under more load): that is capacity shown.
        let faster = consumers(8000.0, 7000.0, false);
        let o = t.observe(&round(
            4,
            Some(&lag(&[(98_000, 97_900)])),
            Some(&faster),
            &ready,
        ));
        assert!(o.service_rate.unwrap() > 5000.0, "{:?}", o.service_rate);
    }

    #[test]
    fn the_service_rate_is_not_sampled_while_a_rebalance_settles() {
        let mut t = tracker();
        let one = pods(&["a"]);
        let two = pods(&["a", "b"]);
        let busy = consumers(20_000.0, 5000.0, false);
        t.observe(&round(0, Some(&lag(&[(50_000, 0)])), Some(&busy), &one));
        t.observe(&round(1, Some(&lag(&[(70_000, 0)])), Some(&busy), &one));
        // A pod joins: the rates mix the group before and after; 300/s is not believed …
        let mixed = consumers(1000.0, 300.0, false);
        let o = t.observe(&round(2, Some(&lag(&[(90_000, 0)])), Some(&mixed), &two));
        assert_eq!(o.service_rate, Some(5000.0));
        let o = t.observe(&round(6, Some(&lag(&[(99_000, 0)])), Some(&mixed), &two));
        assert_eq!(o.service_rate, Some(5000.0));
        // … until it has settled.
        let o = t.observe(&round(7, Some(&lag(&[(99_000, 0)])), Some(&mixed), &two));
        assert_eq!(o.service_rate, Some(300.0));
    }
}
