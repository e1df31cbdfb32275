//! The policy's settings read from an `IngestionPipeline` spec, field for field.

use std::time::Duration;

use super::policy::{Bounds, PolicyConfig, Targets};
use crate::crd::IngestionPipelineSpec;

/// Time from asking for a pod to it consuming, used until the spec carries a setting for it:
/// start-up, readiness (the consumer's probe runs every 5 s) and the group's rebalance.
pub const DEFAULT_POD_READY_ESTIMATE: Duration = Duration::from_secs(15);

/// The policy configuration of a pipeline: `autoscaling.*`, `workers.{min,max}` and
/// `replicas.{min,max}`. Negative or inverted values (refused by the CRD's rules, but
/// possible on an old object) are read as the nearest sane ones.
pub fn policy_config(spec: &IngestionPipelineSpec) -> PolicyConfig {
    let a = &spec.autoscaling;
    let secs = |s: i32| Duration::from_secs(u64::try_from(s).unwrap_or(0));
    PolicyConfig {
        enabled: a.enabled && !spec.paused,
        headroom: if a.headroom.is_finite() {
            a.headroom.max(0.0)
        } else {
            0.0
        },
        drain_time: secs(a.drain_time_seconds).max(Duration::from_secs(1)),
        targets: Targets {
            lag_seconds: a.targets.lag_seconds,
            latency_ms: a.targets.latency_ms,
            queue_depth: u64::try_from(a.targets.queue_depth).unwrap_or(0),
        },
        scale_up_stabilization: secs(a.stabilization.scale_up_seconds),
        scale_down_stabilization: secs(a.stabilization.scale_down_seconds),
        rebalance_settle: secs(a.rebalance_settle_seconds),
        per_worker_rate_hint: a.per_worker_rate_hint.filter(|h| h.is_finite() && *h > 0.0),
        pod_ready_estimate: DEFAULT_POD_READY_ESTIMATE,
        surge_factor: if a.surge_factor.is_finite() {
            a.surge_factor.max(1.0)
        } else {
            1.0
        },
        workers: bounds(spec.workers.min.max(1), spec.workers.max),
        replicas: bounds(spec.replicas.min.max(0), spec.replicas.max),
    }
}

fn bounds(min: i32, max: i32) -> Bounds {
    let min = u32::try_from(min).unwrap_or(0);
    let max = u32::try_from(max).unwrap_or(0).max(min);
    Bounds { min, max }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{
        AutoscalingSpec, AutoscalingTargets, ReplicaBounds, Stabilization, WorkerBounds,
    };

    fn spec() -> IngestionPipelineSpec {
        serde_json::from_value(serde_json::json!({
            "source": { "bootstrapServers": "k:9092", "topics": ["trades"] },
            "sink": { "table": "trades" },
        }))
        .expect("a minimal spec")
    }

    #[test]
    fn the_defaults_of_the_spec_are_the_defaults_of_the_policy() {
        let cfg = policy_config(&spec());
        assert_eq!(cfg, PolicyConfig::default());
    }

    #[test]
    fn every_field_is_carried_over() {
        let mut s = spec();
        s.workers = WorkerBounds {
            min: 2,
            max: 6,
            initial: Some(3),
        };
        s.replicas = ReplicaBounds {
            min: 1,
            max: 5,
            desired: Some(4),
        };
        s.autoscaling = AutoscalingSpec {
            enabled: true,
            headroom: 0.5,
            drain_time_seconds: 30,
            targets: AutoscalingTargets {
                lag_seconds: 4.0,
                latency_ms: 800.0,
                queue_depth: 5000,
            },
            stabilization: Stabilization {
                scale_up_seconds: 3,
                scale_down_seconds: 20,
            },
            rebalance_settle_seconds: 6,
            per_worker_rate_hint: Some(4000.0),
            surge_factor: 3.0,
            schedules: Vec::new(),
        };
        let cfg = policy_config(&s);
        assert_eq!(
            cfg,
            PolicyConfig {
                enabled: true,
                headroom: 0.5,
                drain_time: Duration::from_secs(30),
                targets: Targets {
                    lag_seconds: 4.0,
                    latency_ms: 800.0,
                    queue_depth: 5000
                },
                scale_up_stabilization: Duration::from_secs(3),
                scale_down_stabilization: Duration::from_secs(20),
                rebalance_settle: Duration::from_secs(6),
                per_worker_rate_hint: Some(4000.0),
                pod_ready_estimate: DEFAULT_POD_READY_ESTIMATE,
                surge_factor: 3.0,
                workers: Bounds { min: 2, max: 6 },
                replicas: Bounds { min: 1, max: 5 },
            }
        );
    }

    #[test]
    fn a_paused_or_disabled_pipeline_is_not_autoscaled() {
        let mut s = spec();
        s.paused = true;
        assert!(!policy_config(&s).enabled);
        let mut s = spec();
        s.autoscaling.enabled = false;
        assert!(!policy_config(&s).enabled);
    }

    #[test]
    fn nonsense_values_are_read_as_the_nearest_sane_ones() {
        let mut s = spec();
        s.workers = WorkerBounds {
            min: 0,
            max: -3,
            initial: None,
        };
        s.replicas = ReplicaBounds {
            min: -1,
            max: -1,
            desired: None,
        };
        s.autoscaling.drain_time_seconds = -5;
        s.autoscaling.headroom = f64::NAN;
        s.autoscaling.per_worker_rate_hint = Some(-1.0);
        s.autoscaling.surge_factor = f64::NAN;
        let cfg = policy_config(&s);
        assert_eq!(cfg.workers, Bounds { min: 1, max: 1 });
        assert_eq!(cfg.replicas, Bounds { min: 0, max: 0 });
        assert_eq!(cfg.drain_time, Duration::from_secs(1));
        assert_eq!(cfg.headroom, 0.0);
        assert_eq!(cfg.per_worker_rate_hint, None);
        assert_eq!(cfg.surge_factor, 1.0);
        s.autoscaling.surge_factor = 0.5;
        assert_eq!(policy_config(&s).surge_factor, 1.0);
    }
}
