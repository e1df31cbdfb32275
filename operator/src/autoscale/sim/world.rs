//! The simulated world: a topic of P partitions, a consumer group of pods × workers, and QuestDB.

use std::collections::VecDeque;

use super::rng::Rng;
use crate::autoscale::signals::{GroupLag, PartitionLag, PodCounters, partition_lag};

/// The topic's name in the simulated lag.
const TOPIC: &str = "trades";

/// The physical constants of a simulated pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct WorldConfig {
    /// Partitions of the topic.
    pub partitions: u32,
    /// Records per second one worker processes when QuestDB keeps up (μ).
    pub service_rate: f64,
    /// Seconds from a pod being asked for to it joining the group.
    pub pod_startup: f64,
    /// Seconds the whole group stops consuming when a member joins or leaves (or, with
    /// `incremental_rebalance`, the partitions that change owner).
    pub rebalance_pause: f64,
    /// Cooperative (incremental) rebalancing, as with cooperative-sticky or KIP-848
    /// assignment: partitions stay with their pod where the even spread allows, and only
    /// those that move pause. When false, every join or leave stops the whole group (eager).
    pub incremental_rebalance: bool,
    /// Seconds between offset commits.
    pub commit_interval: f64,
    /// Rows per second QuestDB can take.
    pub sink_capacity: f64,
    /// Flush latency of an idle QuestDB, seconds.
    pub sink_base_latency: f64,
    /// Simulation step, seconds.
    pub tick: f64,
}

impl Default for WorldConfig {
    fn default() -> Self {
        Self {
            partitions: 32,
            service_rate: 10_000.0,
            pod_startup: 10.0,
            rebalance_pause: 3.0,
            incremental_rebalance: false,
            commit_interval: 1.0,
            sink_capacity: 600_000.0,
            sink_base_latency: 0.02,
            tick: 0.1,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Partition {
    /// Records not yet processed: (arrival time, count), oldest first.
    queue: VecDeque<(f64, u64)>,
    high_watermark: u64,
    processed: u64,
    committed: u64,
    credit: f64,
    /// The pod holding it (index into the pods), with incremental rebalancing.
    owner: Option<usize>,
    /// It consumes again from then on, with incremental rebalancing.
    paused_until: f64,
}

#[derive(Clone, Debug)]
struct Pod {
    /// Unique in a run: a pod that replaces another has another name.
    name: String,
    ready_at: f64,
    joined: bool,
    /// What its `/metrics` would show (from its start: a new pod's counters start at zero).
    counters: PodCounters,
}

/// The group's totals a baseline controller reads (spate's reads the lag and each pod's
/// counters: [`World::group_lag`], [`World::ready_pods`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Readings {
    /// Simulated time, seconds.
    pub now: f64,
    /// Per partition: high watermark − committed offset.
    pub partition_lags: Vec<i64>,
    /// Sum of the high watermarks.
    pub high_watermarks: u64,
    /// Records processed (trades_processed_total).
    pub processed: u64,
    /// Worker-seconds spent busy (spate_worker_busy_seconds_total).
    pub busy_seconds: f64,
    /// Pods asked for.
    pub replicas: u32,
    /// Workers per pod asked for.
    pub workers: u32,
}

/// The simulated topic, consumer group and QuestDB.
#[derive(Clone, Debug)]
pub struct World {
    cfg: WorldConfig,
    rng: Rng,
    now: f64,
    parts: Vec<Partition>,
    pods: Vec<Pod>,
    workers: u32,
    paused_until: f64,
    /// Pods created so far: the next pod's name.
    pods_created: u64,
    next_commit: f64,
    carry: f64,
    arrived: u64,
    processed: u64,
    busy_seconds: f64,
    flush_latency: f64,
    /// End-to-end latency histogram: records per 50 ms bucket.
    latency_hist: Vec<u64>,
}

const LATENCY_BUCKET: f64 = 0.05;
const LATENCY_BUCKETS: usize = 2 * 3600 * 20;

impl World {
    /// A world with `replicas` pods (already joined) of `workers` workers each.
    pub fn new(cfg: WorldConfig, seed: u64, replicas: u32, workers: u32) -> Self {
        let parts = vec![Partition::default(); cfg.partitions.max(1) as usize];
        let pods = (0..replicas).map(|i| pod(i.into(), 0.0, true)).collect();
        let mut world = Self {
            flush_latency: cfg.sink_base_latency,
            next_commit: cfg.commit_interval,
            cfg,
            rng: Rng::new(seed),
            now: 0.0,
            parts,
            pods,
            workers,
            paused_until: 0.0,
            pods_created: replicas.into(),
            carry: 0.0,
            arrived: 0,
            processed: 0,
            busy_seconds: 0.0,
            latency_hist: vec![0; LATENCY_BUCKETS],
        };
        if world.cfg.incremental_rebalance {
            world.reassign();
        }
        world
    }

    /// The constants.
    pub fn config(&self) -> &WorldConfig {
        &self.cfg
    }

    /// Simulated time, seconds.
    pub fn now(&self) -> f64 {
        self.now
    }

    /// Asks for `replicas` pods of `workers` workers: workers change at once (live); new pods
    /// join after the start-up delay; removed pods leave at once (newest first).
    pub fn set_size(&mut self, replicas: u32, workers: u32) {
        self.workers = workers;
        let want = replicas as usize;
        while self.pods.len() > want {
            let pod = self.pods.pop().expect("non-empty");
            if pod.joined {
                self.rebalance();
            }
        }
        while self.pods.len() < want {
            let ready_at = self.now + self.cfg.pod_startup;
            self.pods.push(pod(self.pods_created, ready_at, false));
            self.pods_created += 1;
        }
    }

    fn rebalance(&mut self) {
        if self.cfg.incremental_rebalance {
            self.reassign();
        } else {
            self.paused_until = self.now + self.cfg.rebalance_pause;
        }
    }

    /// Sticky assignment over the joined pods: each keeps its partitions up to an even
    /// share; the rest (a leaving pod's, a surplus) go to pods under their share and pause.
    fn reassign(&mut self) {
        let joined: Vec<usize> = (0..self.pods.len())
            .filter(|&i| self.pods[i].joined)
            .collect();
        if joined.is_empty() {
            for p in &mut self.parts {
                p.owner = None;
            }
            return;
        }
        let total = self.parts.len();
        let mut held = vec![0usize; self.pods.len()];
        for p in &self.parts {
            if let Some(o) = p
                .owner
                .filter(|&o| o < self.pods.len() && self.pods[o].joined)
            {
                held[o] += 1;
            }
        }
        // The extra partitions of an uneven spread go to the pods holding most already.
        let mut order = joined.clone();
        order.sort_by_key(|&i| (std::cmp::Reverse(held[i]), i));
        let mut quota = vec![0usize; self.pods.len()];
        for (k, &i) in order.iter().enumerate() {
            quota[i] = total / joined.len() + usize::from(k < total % joined.len());
        }
        let mut count = vec![0usize; self.pods.len()];
        let mut moved = Vec::new();
        for (n, p) in self.parts.iter().enumerate() {
            match p
                .owner
                .filter(|&o| o < self.pods.len() && self.pods[o].joined)
            {
                Some(o) if count[o] < quota[o] => count[o] += 1,
                _ => moved.push(n),
            }
        }
        let mut free = order.iter().copied().cycle();
        for n in moved {
            let to = free
                .by_ref()
                .find(|&i| count[i] < quota[i])
                .expect("quotas cover every partition");
            count[to] += 1;
            let p = &mut self.parts[n];
            if p.owner.is_some() {
                p.paused_until = self.now + self.cfg.rebalance_pause;
            }
            p.owner = Some(to);
        }
    }

    /// Advances one tick with `rate` arrivals per second.
    pub fn step(&mut self, rate: f64) {
        let dt = self.cfg.tick;
        self.arrive(rate * dt);
        let mut joined_now = false;
        for pod in &mut self.pods {
            if !pod.joined && self.now >= pod.ready_at {
                pod.joined = true;
                joined_now = true;
            }
        }
        if joined_now {
            self.rebalance();
        }
        let demand = if self.now >= self.paused_until {
            self.consume(dt)
        } else {
            0.0
        };
        let rho = (demand / (self.cfg.sink_capacity * dt)).clamp(0.0, 0.98);
        self.flush_latency = self.cfg.sink_base_latency / (1.0 - rho);
        self.now += dt;
        if self.now + 1e-9 >= self.next_commit {
            self.next_commit += self.cfg.commit_interval;
            for p in &mut self.parts {
                p.committed = p.processed;
            }
        }
    }

    fn arrive(&mut self, expected: f64) {
        let total = expected + self.carry;
        let n = total.floor().max(0.0) as u64;
        self.carry = total - n as f64;
        let parts = self.parts.len() as u64;
        let (each, extra) = (n / parts, n % parts);
        let start = self.rng.below(parts);
        for (i, p) in self.parts.iter_mut().enumerate() {
            let k = each + u64::from(((i as u64 + parts - start) % parts) < extra);
            if k > 0 {
                p.queue.push_back((self.now, k));
                p.high_watermark += k;
            }
        }
        self.arrived += n;
    }

    /// Consumes one tick of work; returns the records the workers wanted to flush (sink demand).
    fn consume(&mut self, dt: f64) -> f64 {
        let joined = self.pods.iter().filter(|p| p.joined).count() as u32;
        if joined == 0 {
            return 0.0;
        }
        let p_count = self.parts.len() as u32;
        let mu = self.cfg.service_rate;
        // The pod consuming each partition (an index into the pods).
        let members: Vec<usize> = (0..self.pods.len())
            .filter(|&i| self.pods[i].joined)
            .collect();
        let owners: Vec<Option<usize>> = if self.cfg.incremental_rebalance {
            self.parts.iter().map(|p| p.owner).collect()
        } else {
            (0..p_count as usize)
                .map(|p| Some(members[p % members.len()]))
                .collect()
        };
        // Eager: partitions round-robin over the joined pods. Incremental: each with its
        // sticky owner, none while it pauses. Pod i holds a_i of them and uses min(W, a_i)
        // workers, shared evenly by its partitions.
        let caps: Vec<f64> = if self.cfg.incremental_rebalance {
            let mut held = vec![0u32; self.pods.len()];
            for o in self.parts.iter().filter_map(|p| p.owner) {
                held[o] += 1;
            }
            self.parts
                .iter()
                .map(|p| match p.owner {
                    Some(o) if self.now >= p.paused_until => {
                        mu * dt * self.workers.min(held[o]) as f64 / held[o] as f64
                    }
                    _ => 0.0,
                })
                .collect()
        } else {
            (0..p_count)
                .map(|p| {
                    let pod = p % joined;
                    let held = p_count / joined + u32::from(pod < p_count % joined);
                    let used = self.workers.min(held) as f64;
                    mu * dt * used / held as f64
                })
                .collect()
        };
        let demand: f64 = self
            .parts
            .iter()
            .zip(&caps)
            .map(|(p, c)| (backlog(p) as f64).min(*c))
            .sum();
        let sink = self.cfg.sink_capacity * dt;
        let f = if demand > sink { sink / demand } else { 1.0 };
        let done_at = self.now + dt;
        let latency = self.flush_latency;
        let mut flushed = vec![false; self.pods.len()];
        for ((p, cap), owner) in self.parts.iter_mut().zip(&caps).zip(&owners) {
            let avail = p.credit + cap * f;
            let want = avail.floor() as u64;
            let take = want.min(backlog(p));
            p.credit = if take < want {
                0.0
            } else {
                avail - take as f64
            };
            let mut left = take;
            while left > 0 {
                let front = p.queue.front_mut().expect("backlog covers take");
                let k = front.1.min(left);
                let age = done_at - front.0 + latency;
                let bucket = ((age / LATENCY_BUCKET) as usize).min(LATENCY_BUCKETS - 1);
                self.latency_hist[bucket] += k;
                front.1 -= k;
                left -= k;
                if front.1 == 0 {
                    p.queue.pop_front();
                }
            }
            p.processed += take;
            self.processed += take;
            let busy = take as f64 / (mu * f);
            self.busy_seconds += busy;
            if let Some(o) = owner.filter(|_| take > 0) {
                let c = &mut self.pods[o].counters;
                c.processed += take as f64;
                c.busy_seconds += busy;
                flushed[o] = true;
            }
        }
        // A pod that processed records this tick flushed them once, at the sink's latency.
        for (pod, flushed) in self.pods.iter_mut().zip(flushed) {
            if flushed {
                pod.counters.flush_seconds += latency;
                pod.counters.flushes += 1.0;
            }
        }
        demand
    }

    /// What a controller can read now.
    pub fn readings(&self) -> Readings {
        Readings {
            now: self.now,
            partition_lags: self
                .parts
                .iter()
                .map(|p| p.high_watermark as i64 - p.committed as i64)
                .collect(),
            high_watermarks: self.parts.iter().map(|p| p.high_watermark).sum(),
            processed: self.processed,
            busy_seconds: self.busy_seconds,
            replicas: self.pods.len() as u32,
            workers: self.workers,
        }
    }

    /// Pods asked for, and workers per pod.
    pub fn size(&self) -> (u32, u32) {
        (self.pods.len() as u32, self.workers)
    }

    /// The consumer group's lag as Kafka reports it: per partition, the high watermark and
    /// the committed offset.
    pub fn group_lag(&self) -> GroupLag {
        GroupLag {
            partitions: self
                .parts
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let (high, committed) = (p.high_watermark as i64, p.committed as i64);
                    PartitionLag {
                        topic: TOPIC.into(),
                        partition: i as i32,
                        low: 0,
                        high,
                        committed: Some(committed),
                        lag: partition_lag(0, high, Some(committed)),
                    }
                })
                .collect(),
        }
    }

    /// The ready pods (those that joined the group), each with what its `/metrics` shows now.
    pub fn ready_pods(&self) -> Vec<(String, PodCounters)> {
        self.pods
            .iter()
            .filter(|p| p.joined)
            .map(|p| {
                let counters = PodCounters {
                    workers: self.workers as f64,
                    ..p.counters.clone()
                };
                (p.name.clone(), counters)
            })
            .collect()
    }

    /// Records that arrived so far.
    pub fn arrived(&self) -> u64 {
        self.arrived
    }

    /// Records processed so far.
    pub fn processed(&self) -> u64 {
        self.processed
    }

    /// Records waiting in the partitions.
    pub fn backlog(&self) -> u64 {
        self.parts.iter().map(backlog).sum()
    }

    /// Committed lag summed over partitions (what Kafka reports).
    pub fn lag(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| p.high_watermark - p.committed)
            .sum()
    }

    /// The `q` quantile (0..=1) of end-to-end latency over every processed record, seconds.
    pub fn latency_quantile(&self, q: f64) -> f64 {
        let total: u64 = self.latency_hist.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = (q * total as f64).ceil() as u64;
        let mut seen = 0;
        for (i, n) in self.latency_hist.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return (i + 1) as f64 * LATENCY_BUCKET;
            }
        }
        LATENCY_BUCKETS as f64 * LATENCY_BUCKET
    }
}

/// The `n`th pod of a run, ready (joined) from `ready_at`.
fn pod(n: u64, ready_at: f64, joined: bool) -> Pod {
    Pod {
        name: format!("consumer-{n}"),
        ready_at,
        joined,
        counters: PodCounters::default(),
    }
}

fn backlog(p: &Partition) -> u64 {
    p.high_watermark - p.processed
}
