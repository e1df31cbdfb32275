//! The policy's settings read from a validated pipeline's spec, field for field.

use std::time::Duration;

use super::policy::{PolicyConfig, Targets};
use crate::validate::ValidPipeline;

/// Time from asking for a pod to it consuming, used until the spec carries a setting for it:
/// start-up, readiness (the consumer's probe runs every 5 s) and the group's rebalance.
pub const DEFAULT_POD_READY_ESTIMATE: Duration = Duration::from_secs(15);

/// The policy configuration of a pipeline: `autoscaling.*`, `workers.{min,max}` and
/// `replicas.{min,max}`, as validation checked them (every range, `min <= max`).
pub fn policy_config(pipeline: &ValidPipeline) -> PolicyConfig {
    let spec = pipeline.spec();
    let a = &spec.autoscaling;
    // Validation refuses negative seconds and depths.
    let secs = |s: i32| Duration::from_secs(s.unsigned_abs().into());
    PolicyConfig {
        enabled: a.enabled && !spec.paused,
        headroom: a.headroom,
        drain_time: secs(a.drain_time_seconds),
        targets: Targets {
            lag_seconds: a.targets.lag_seconds,
            latency_ms: a.targets.latency_ms,
            queue_depth: a.targets.queue_depth.unsigned_abs(),
        },
        scale_up_stabilization: secs(a.stabilization.scale_up_seconds),
        scale_down_stabilization: secs(a.stabilization.scale_down_seconds),
        rebalance_settle: secs(a.rebalance_settle_seconds),
        per_worker_rate_hint: a.per_worker_rate_hint,
        pod_ready_estimate: DEFAULT_POD_READY_ESTIMATE,
        surge_factor: a.surge_factor,
        workers: pipeline.workers(),
        replicas: pipeline.replicas(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscale::policy::Bounds;
    use crate::crd::{
        AutoscalingSpec, AutoscalingTargets, IngestionPipeline, IngestionPipelineSpec,
        ReplicaBounds, Stabilization, WorkerBounds,
    };
    use crate::validate::validate;

    fn spec() -> IngestionPipelineSpec {
        serde_json::from_value(serde_json::json!({
            "source": { "bootstrapServers": "k:9092", "topics": ["trades"] },
            "sink": { "table": "trades", "address": "q:9000" },
        }))
        .expect("a minimal spec")
    }

    /// The policy configuration of a pipeline with spec `s`, which must be valid.
    fn config(s: &IngestionPipelineSpec) -> PolicyConfig {
        let pipeline = IngestionPipeline::new("p", s.clone());
        policy_config(&validate(&pipeline).expect("a valid spec"))
    }

    #[test]
    fn the_defaults_of_the_spec_are_the_defaults_of_the_policy() {
        let cfg = config(&spec());
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
        let cfg = config(&s);
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
        assert!(!config(&s).enabled);
        let mut s = spec();
        s.autoscaling.enabled = false;
        assert!(!config(&s).enabled);
    }
}
