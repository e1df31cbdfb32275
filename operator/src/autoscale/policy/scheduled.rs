//! Rule 2a: scheduled capacity. A window of `autoscaling.schedules` raises the minimums
//! (and the surge factor) every other rule works within; a correction up to them is the
//! window's own decision.

use std::borrow::Cow;

use super::config::PolicyConfig;
use super::decision::{Decision, Reason};
use super::observations::{HeldCapacity, Observations};

/// The configuration within a window: `replicas.min`, `workers.min` and the surge factor
/// raised to what the window holds (each within its maximum).
pub(super) fn within_window<'a>(
    cfg: &'a PolicyConfig,
    held: Option<&HeldCapacity>,
) -> Cow<'a, PolicyConfig> {
    let Some(h) = held else {
        return Cow::Borrowed(cfg);
    };
    let mut raised = cfg.clone();
    raised.replicas.min = cfg.replicas.min.max(h.replicas.min(cfg.replicas.max));
    raised.workers.min = cfg.workers.min.max(h.workers.min(cfg.workers.max));
    raised.surge_factor = cfg.surge_factor.max(h.surge_factor);
    if raised == *cfg {
        Cow::Borrowed(cfg)
    } else {
        Cow::Owned(raised)
    }
}

/// A correction up to a window's minimums, told as the window's.
pub(super) fn held(obs: &Observations, correction: Decision) -> Decision {
    let windows = obs
        .scheduled
        .as_ref()
        .map_or_else(String::new, |h| h.windows.join(", "));
    Decision {
        reason: Reason::Scheduled,
        message: format!(
            "scheduled capacity for {windows}: {}×{} → {}×{}",
            obs.replicas, obs.workers, correction.replicas, correction.workers
        ),
        ..correction
    }
}
