//! Pure: what the policy makes of the arrival rate at one decision — where a steep ramp leads,
//! whether it is calm, and the calm base the surge reserve is sized from.

use std::time::Duration;

use super::config::PolicyConfig;
use super::observations::{Observations, PolicyState};
use super::trend::{self, Sample};

/// The arrival rate as the policy reads it at one decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    /// λ, smoothed.
    pub lambda: f64,
    /// The rate since the previous reading alone (λ when unknown).
    pub sample: f64,
    /// The slope of a steep ramp, records/s per second (see [`trend::ramp_slope`]).
    pub ramp: Option<f64>,
    /// The rate is calm: trended flat over the calm window, the backlog not growing.
    pub calm: bool,
    /// The rate is calm at its base now: a calm, trended-flat window within the headroom of
    /// the last calm base (or the first one, or below it).
    pub at_base: bool,
    /// The rate the surge reserve is sized for (0: none yet).
    pub reference: f64,
}

impl Load {
    /// The rate `seconds` from now: λ, or ahead of a steep ramp the latest sample plus the
    /// ramp's slope over that time, whichever is higher.
    pub fn rate_in(&self, seconds: f64) -> f64 {
        match self.ramp {
            Some(slope) => self.lambda.max(self.sample + slope * seconds),
            None => self.lambda,
        }
    }
}

/// The state with this decision's reading added to the rate's window: fresh readings only.
pub fn remember_sample(state: &PolicyState, obs: &Observations, now: Duration) -> PolicyState {
    let rate = obs.arrival_sample.or(obs.arrival_rate);
    match (rate, obs.backlog) {
        (Some(rate), Some(backlog)) if !obs.kafka_stale && rate.is_finite() => PolicyState {
            window: trend::record(
                &state.window,
                Sample {
                    at: now,
                    rate,
                    backlog,
                },
            ),
            ..state.clone()
        },
        _ => state.clone(),
    }
}

/// The load at this decision, and the state with a new calm base when the rate is calm at
/// its base. A calm window within the headroom of the last calm base (or below it, or the
/// first) is the new base; a calm window above it is a surge's plateau, and the base it rose
/// from is kept, however long the surge lasts.
pub fn read_load(
    cfg: &PolicyConfig,
    state: &PolicyState,
    obs: &Observations,
    lambda: f64,
    now: Duration,
) -> (Load, PolicyState) {
    let window = &state.window;
    let sample = obs.arrival_sample.unwrap_or(lambda);
    // A backlog growing by less than a second of arrivals over the window is not growing.
    let calm = trend::calm_level(window, cfg.headroom / 2.0, lambda.max(1.0));
    let at_base = calm.is_some_and(|level| {
        state
            .last_calm_base()
            .is_none_or(|base| level <= base * (1.0 + cfg.headroom))
    });
    let state = match calm {
        Some(level) if at_base => state.with_calm_base(now, level, cfg.scale_down_stabilization),
        _ => state.clone(),
    };
    let reference = state
        .reserve_reference(now, cfg.scale_down_stabilization)
        .unwrap_or(0.0);
    let load = Load {
        lambda,
        sample,
        ramp: trend::ramp_slope(window),
        calm: calm.is_some(),
        at_base,
        reference,
    };
    (load, state)
}
