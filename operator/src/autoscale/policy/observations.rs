//! What the policy sees of the world, and what it remembers between decisions.

use std::time::Duration;

use super::trend::Sample;

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
    /// Records per second arriving since the previous reading alone, unsmoothed: the rate's
    /// trend is judged on it (`None`: judged on `arrival_rate`).
    pub arrival_sample: Option<f64>,
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
    /// The capacity `autoscaling.schedules` holds now (`None`: no window is open or near).
    pub scheduled: Option<HeldCapacity>,
}

/// The capacity scheduled windows hold at a moment: minimums the size may not go below,
/// and a surge factor the reserve is sized by when it exceeds the configured one.
#[derive(Clone, Debug, PartialEq)]
pub struct HeldCapacity {
    /// The windows that hold it, each with its opening and closing.
    pub windows: Vec<String>,
    /// The fewest pods (0: no minimum).
    pub replicas: u32,
    /// The fewest workers per pod (0: no minimum).
    pub workers: u32,
    /// The surge factor (1: none).
    pub surge_factor: f64,
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
    /// The workers enough at each decision of the dwell: (when, workers), each more than
    /// every later one, so the first is the most of the last dwell — scale-down goes no lower.
    pub down_needs: Vec<(Duration, u32)>,
    /// The sink and throughput at the last scale-up.
    pub last_up: Option<ScaleUpMark>,
    /// When the policy last changed the size.
    pub last_scale: Option<Duration>,
    /// When the policy last scaled down.
    pub last_down: Option<Duration>,
    /// How many times the dwell is doubled: each scale-up that undoes a scale-down younger
    /// than twice the dwell then in force adds one (up to a bound); any other scale-up clears it.
    pub dwell_doublings: u32,
    /// The unsmoothed arrival rate and the backlog of the last decisions, for the calm test
    /// and the ramp (see [`super::trend`]).
    pub window: Vec<Sample>,
    /// The calm bases the surge reserve is sized from: (when, the rate of a calm window at
    /// the base), within the last `scale_down_stabilization`, each higher than every later
    /// one, so the first is the highest; the latest is kept whatever its age, so a surge
    /// longer than the dwell does not erase the base it rose from.
    pub calm_bases: Vec<(Duration, f64)>,
}

/// `window` — (when, value), each value higher than every later one, so the first is the
/// highest — with `value` seen at `now`, and what is older than `keep` dropped.
fn push_max<T: PartialOrd + Copy>(
    window: &[(Duration, T)],
    now: Duration,
    value: T,
    keep: Duration,
) -> Vec<(Duration, T)> {
    let mut out = window.to_vec();
    while out.last().is_some_and(|(_, v)| *v <= value) {
        out.pop();
    }
    out.push((now, value));
    out.retain(|(at, _)| *at + keep >= now);
    out
}

/// The highest value of such a window seen within `within` before `now`.
fn max_within<T: Copy>(window: &[(Duration, T)], now: Duration, within: Duration) -> Option<T> {
    window
        .iter()
        .find(|(at, _)| *at + within >= now)
        .map(|(_, v)| *v)
}

impl PolicyState {
    /// The state with the pending scale-up and the dwell towards a scale-down cleared.
    pub(super) fn cleared(&self) -> PolicyState {
        PolicyState {
            up_since: None,
            ..self.down_cleared()
        }
    }

    /// The state with the pending scale-up cleared.
    pub(super) fn up_cleared(&self) -> PolicyState {
        PolicyState {
            up_since: None,
            ..self.clone()
        }
    }

    /// The state with the dwell towards a scale-down cleared.
    pub(super) fn down_cleared(&self) -> PolicyState {
        PolicyState {
            down_since: None,
            down_needs: Vec::new(),
            ..self.clone()
        }
    }

    /// The state [`cleared`](Self::cleared), a bigger size wanted since `since`.
    pub(super) fn waiting_up(&self, since: Duration) -> PolicyState {
        PolicyState {
            up_since: Some(since),
            ..self.cleared()
        }
    }

    /// The state with a smaller size enough since `since`.
    pub(super) fn waiting_down(&self, since: Duration) -> PolicyState {
        PolicyState {
            down_since: Some(since),
            ..self.clone()
        }
    }

    /// The state after a correction of the size at `now`.
    pub(super) fn scaled_at(&self, now: Duration) -> PolicyState {
        PolicyState {
            last_scale: Some(now),
            ..self.clone()
        }
    }

    /// The state after a scale-up at `now`: [`cleared`](Self::cleared), with the saturation
    /// guard's `mark` and the dwell doubled `doublings` times.
    pub(super) fn after_up(&self, mark: ScaleUpMark, now: Duration, doublings: u32) -> PolicyState {
        PolicyState {
            last_up: Some(mark),
            last_scale: Some(now),
            dwell_doublings: doublings,
            ..self.cleared()
        }
    }

    /// The state after the surge reserve joined at `now`: [`cleared`](Self::cleared), with
    /// `last_up` the saturation guard's mark.
    pub(super) fn after_reserve(&self, now: Duration, last_up: Option<ScaleUpMark>) -> PolicyState {
        PolicyState {
            last_scale: Some(now),
            last_up,
            ..self.cleared()
        }
    }

    /// The state after a scale-down at `now`: [`cleared`](Self::cleared), with no
    /// saturation guard's mark.
    pub(super) fn after_down(&self, now: Duration) -> PolicyState {
        PolicyState {
            last_up: None,
            last_scale: Some(now),
            last_down: Some(now),
            ..self.cleared()
        }
    }

    /// The state with `workers` enough at `now`, needs older than `dwell` forgotten.
    pub fn with_down_need(&self, now: Duration, workers: u32, dwell: Duration) -> PolicyState {
        PolicyState {
            down_needs: push_max(&self.down_needs, now, workers, dwell),
            ..self.clone()
        }
    }

    /// The most workers enough at any decision of the last `dwell` before `now`.
    pub fn down_peak_within(&self, now: Duration, dwell: Duration) -> u32 {
        max_within(&self.down_needs, now, dwell).unwrap_or(0)
    }

    /// The state with the calm base `level` seen at `now`, bases older than `memory`
    /// forgotten (the latest is the one just seen).
    pub fn with_calm_base(&self, now: Duration, level: f64, memory: Duration) -> PolicyState {
        PolicyState {
            calm_bases: push_max(&self.calm_bases, now, level, memory),
            ..self.clone()
        }
    }

    /// The latest calm base.
    pub fn last_calm_base(&self) -> Option<f64> {
        self.calm_bases.last().map(|(_, r)| *r)
    }

    /// The rate the surge reserve is sized for at `now`: the highest calm base of the last
    /// `memory`, or the latest one when all are older.
    pub fn reserve_reference(&self, now: Duration, memory: Duration) -> Option<f64> {
        max_within(&self.calm_bases, now, memory).or(self.last_calm_base())
    }
}
