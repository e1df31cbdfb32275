//! What the policy sees of the world, and what it remembers between decisions.

use std::time::Duration;

/// One observation of a pipeline, assembled from Kafka and the consumers' metrics.
///
/// `None` means the signal is missing; the `*_stale` flags say that a signal is present
/// but older than its sampling period allows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observations {
    /// Partitions of the pipeline's topics.
    pub partitions: u32,
    /// Records behind, summed over partitions (committed against high watermark, clamped at zero).
    pub backlog: Option<u64>,
    /// The largest single partition's lag.
    pub max_partition_lag: Option<u64>,
    /// Records per second arriving (high-watermark growth), λ.
    pub arrival_rate: Option<f64>,
    /// Records per second one busy worker processes (committed progress ÷ busy workers), μ.
    pub service_rate: Option<f64>,
    /// Records per second processed by the whole group.
    pub throughput: Option<f64>,
    /// QuestDB flush latency, seconds.
    pub flush_latency: Option<f64>,
    /// The largest queue of records waiting for workers in one pod.
    pub queue_depth: Option<u64>,
    /// Consumer pods asked for.
    pub replicas: u32,
    /// Workers per pod asked for.
    pub workers: u32,
    /// Consumer pods that are ready.
    pub ready_replicas: u32,
    /// When the consumer group last rebalanced, on the policy's clock.
    pub last_rebalance: Option<Duration>,
    /// Kafka offsets are older than their sampling period allows.
    pub kafka_stale: bool,
    /// The consumers' metrics are older than their sampling period allows, or some pods did not answer.
    pub metrics_stale: bool,
}

/// The sink's latency and the group's throughput when capacity was last added, for the saturation guard.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScaleUpMark {
    /// When.
    pub at: Duration,
    /// Flush latency then, seconds.
    pub flush_latency: f64,
    /// Throughput then, records per second.
    pub throughput: f64,
}

/// What the policy carries from one decision to the next (returned in every [`crate::autoscale::Decision`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyState {
    /// When a bigger size started being wanted (for the scale-up stabilization).
    pub up_since: Option<Duration>,
    /// When a smaller size started being enough with the backlog drained (for the dwell).
    pub down_since: Option<Duration>,
    /// The most workers wanted since `down_since`: scale-down goes no lower.
    pub down_peak: u32,
    /// The sink and throughput at the last scale-up.
    pub last_up: Option<ScaleUpMark>,
    /// When the policy last changed the size.
    pub last_scale: Option<Duration>,
    /// When the policy last scaled down.
    pub last_down: Option<Duration>,
    /// How many times the dwell is doubled: each scale-up that undoes a scale-down younger
    /// than twice the dwell then in force adds one (up to a bound); any other scale-up clears it.
    pub dwell_doublings: u32,
    /// Arrival rates seen within the last `scale_down_stabilization`, for the surge reserve:
    /// (when, λ), each higher than every later one, so the first is the window's highest.
    pub recent_rates: Vec<(Duration, f64)>,
    /// The arrival rate the surge reserve was last sized for: reserve pods are added on their
    /// own only while the rate is within the headroom of it (a higher rate is the surge).
    pub reserve_rate: Option<f64>,
}

impl PolicyState {
    /// The state with `rate` seen at `now`, rates older than `window` forgotten.
    pub fn with_rate(&self, now: Duration, rate: f64, window: Duration) -> PolicyState {
        let mut recent = self.recent_rates.clone();
        while recent.last().is_some_and(|(_, r)| *r <= rate) {
            recent.pop();
        }
        recent.push((now, rate));
        recent.retain(|(at, _)| *at + window >= now);
        PolicyState {
            recent_rates: recent,
            ..self.clone()
        }
    }

    /// The highest arrival rate within the window, if any was seen.
    pub fn recent_peak_rate(&self) -> Option<f64> {
        self.recent_rates.first().map(|(_, r)| *r)
    }
}
