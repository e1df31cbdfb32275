//! How many pods and workers a pipeline runs, from its spec and the autoscaler's decision.

use crate::crd::{IngestionPipelineSpec, IngestionPipelineStatus};

/// The size a pipeline runs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizing {
    /// Consumer pods (the Deployment's replicas).
    pub replicas: i32,
    /// Workers per pod.
    pub workers: i32,
}

/// Paused → zero pods. Autoscaling on → the autoscaler's wish (`status.autoscaler`)
/// clamped to the bounds, the minimum before its first decision. Autoscaling off →
/// `replicas.desired` (the scale subresource) clamped, and `workers.initial`.
pub fn sizing(spec: &IngestionPipelineSpec, status: Option<&IngestionPipelineStatus>) -> Sizing {
    let (rmin, rmax) = (spec.replicas.min, spec.replicas.max.max(spec.replicas.min));
    let (wmin, wmax) = (spec.workers.min, spec.workers.max.max(spec.workers.min));
    let wish = status.and_then(|s| s.autoscaler.as_ref());
    let (replicas, workers) = if spec.autoscaling.enabled {
        (
            wish.and_then(|w| w.desired_replicas)
                .unwrap_or(rmin)
                .clamp(rmin, rmax),
            wish.and_then(|w| w.desired_workers)
                .unwrap_or_else(|| spec.workers.initial())
                .clamp(wmin, wmax),
        )
    } else {
        (
            spec.replicas.desired.unwrap_or(rmin).clamp(rmin, rmax),
            spec.workers.initial(),
        )
    };
    Sizing {
        replicas: if spec.paused { 0 } else { replicas },
        workers,
    }
}
