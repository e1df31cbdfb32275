//! How many pods and workers a pipeline runs, from its validated spec and the
//! autoscaler's decision.

use crate::autoscale::policy::Bounds;
use crate::validate::ValidPipeline;

/// The size a pipeline runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizing {
    /// Consumer pods (the Deployment's replicas).
    pub replicas: u32,
    /// Workers per pod.
    pub workers: u32,
}

impl Sizing {
    /// The pods as a Kubernetes count (`int32`).
    pub fn replicas_i32(&self) -> i32 {
        kube_count(self.replicas)
    }

    /// The workers as a Kubernetes count (`int32`).
    pub fn workers_i32(&self) -> i32 {
        kube_count(self.workers)
    }
}

/// A count as Kubernetes types it; validation bounds every count far below `i32::MAX`.
fn kube_count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Paused → zero pods. Autoscaling on → the autoscaler's wish (`status.autoscaler`)
/// kept within the bounds, the minimum before its first decision. Autoscaling off →
/// `replicas.desired` (the scale subresource) kept within the bounds, and the initial
/// workers.
pub fn sizing(pipeline: &ValidPipeline) -> Sizing {
    let spec = pipeline.spec();
    let (replicas, workers) = (pipeline.replicas(), pipeline.workers());
    // The wish is the status the autoscaler wrote, possibly under other bounds.
    let within = |bounds: Bounds, wish: i32| bounds.clamp(u32::try_from(wish).unwrap_or(0));
    let wish = pipeline
        .pipeline()
        .status
        .as_ref()
        .and_then(|s| s.autoscaler.as_ref());
    let (replicas, workers) = if spec.autoscaling.enabled {
        (
            wish.and_then(|w| w.desired_replicas)
                .map_or(replicas.min, |r| within(replicas, r)),
            wish.and_then(|w| w.desired_workers)
                .map_or(pipeline.initial_workers(), |w| within(workers, w)),
        )
    } else {
        (
            pipeline
                .desired_replicas()
                .map_or(replicas.min, |r| replicas.clamp(r)),
            pipeline.initial_workers(),
        )
    };
    Sizing {
        replicas: if spec.paused { 0 } else { replicas },
        workers,
    }
}
