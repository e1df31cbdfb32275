//! Sizing arithmetic: workers wanted from rates, and their layout into pods over partitions.

use super::config::PolicyConfig;

/// Workers that can work at once when `partitions` are spread evenly over `replicas` pods of
/// `workers` each: a partition is processed by one worker at a time, so a pod uses at most as
/// many workers as it holds partitions.
pub fn effective_workers(partitions: u32, replicas: u32, workers: u32) -> u32 {
    if replicas == 0 || partitions == 0 {
        return 0;
    }
    let base = partitions / replicas;
    let heavy = partitions % replicas; // pods holding one partition more
    heavy * workers.min(base + 1) + (replicas - heavy) * workers.min(base)
}

/// Rounds a total close to the partition count up to it, so that the group is never left one
/// worker short of one per partition: within a tenth of `partitions` (at least one).
pub fn snap_to_partitions(total: u32, partitions: u32) -> u32 {
    let slack = partitions.div_ceil(10).max(1);
    if partitions > 0 && total < partitions && total + slack >= partitions {
        partitions
    } else {
        total
    }
}

/// A size: pods and workers per pod, with the workers they can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Consumer pods.
    pub replicas: u32,
    /// Workers per pod.
    pub workers: u32,
    /// Workers that can work at once (see [`effective_workers`]).
    pub effective: u32,
}

/// The size that gives `wanted` usable workers.
///
/// With `keep_pods` (on the way up: workers first) the current pod count is kept whenever
/// changing the workers alone reaches `wanted` — a live change, no rebalance; otherwise, and
/// on the way down, the fewest pods that reach it. Pods never exceed the partitions, and the
/// total is snapped to the partition count when close to it.
pub fn layout(
    cfg: &PolicyConfig,
    partitions: u32,
    current_replicas: u32,
    wanted: u32,
    keep_pods: bool,
) -> Layout {
    let partitions = partitions.max(1);
    let r_min = cfg.replicas.min.max(1).min(partitions);
    let r_max = cfg.replicas.max.max(1).min(partitions).max(r_min);
    let w_min = cfg.workers.min.max(1);
    let w_max = cfg.workers.max.max(w_min);
    let ceiling = effective_workers(partitions, r_max, w_max);
    let wanted = snap_to_partitions(wanted.max(1), partitions).min(ceiling);

    let fewest = (r_min..=r_max)
        .find(|&r| effective_workers(partitions, r, w_max) >= wanted)
        .unwrap_or(r_max);
    let current = current_replicas.clamp(r_min, r_max);
    let replicas = if keep_pods && current >= fewest {
        current
    } else {
        fewest
    };
    let workers = (w_min..=w_max)
        .find(|&w| effective_workers(partitions, replicas, w) >= wanted)
        .unwrap_or(w_max);
    Layout {
        replicas,
        workers,
        effective: effective_workers(partitions, replicas, workers),
    }
}

/// Total workers the rates call for: `ceil((λ·(1+headroom) + backlog/T_drain) / μ)`.
pub fn wanted_workers(
    arrival_rate: f64,
    headroom: f64,
    backlog: u64,
    drain_seconds: f64,
    service_rate: f64,
) -> u32 {
    let demand =
        arrival_rate.max(0.0) * (1.0 + headroom.max(0.0)) + backlog as f64 / drain_seconds.max(1.0);
    let n = (demand / service_rate.max(f64::MIN_POSITIVE)).ceil();
    if n.is_finite() {
        n.clamp(0.0, u32::MAX as f64) as u32
    } else {
        u32::MAX
    }
}

/// Pods to keep so that a surge to `surge_factor` × `rate` is carried by raising the workers
/// of running pods alone: the fewest pods (within the bounds, never more than the partitions)
/// whose `workers.max` workers each can use `ceil(rate · surge_factor / μ)` workers, or
/// every partition when that is fewer. 0 when `surge_factor` ≤ 1 (no reserve).
pub fn surge_reserve(cfg: &PolicyConfig, partitions: u32, rate: f64, service_rate: f64) -> u32 {
    let wanted = cfg.surge_factor > 1.0 && rate > 0.0; // false for NaN too
    if !wanted {
        return 0;
    }
    let partitions = partitions.max(1);
    let r_min = cfg.replicas.min.max(1).min(partitions);
    let r_max = cfg.replicas.max.max(1).min(partitions).max(r_min);
    let w_max = cfg.workers.max.max(cfg.workers.min).max(1);
    let need = wanted_workers(rate * cfg.surge_factor, 0.0, 0, 1.0, service_rate)
        .min(effective_workers(partitions, r_max, w_max));
    (r_min..=r_max)
        .find(|&r| effective_workers(partitions, r, w_max) >= need)
        .unwrap_or(r_max)
}
