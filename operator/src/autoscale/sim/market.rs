//! Market-shaped load traces: ramped flash crashes with aftershocks, and a self-exciting (Hawkes) market.
//!
//! Every parameter is a constant of this file, so a trace is described by the file alone.
//! The seed moves the noise (and, for the Hawkes market, the events themselves).

use super::rng::Rng;

/// A surge on top of the base load: a linear ramp to `peak` × the base over `ramp` seconds,
/// `hold` seconds at the top, then an exponential decay with time constant `decay`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shock {
    /// When the ramp starts, seconds.
    pub at: f64,
    /// Seconds from the base to the top.
    pub ramp: f64,
    /// The top, as a multiple of the base (25 = 25 × the base).
    pub peak: f64,
    /// Seconds at the top before the decay.
    pub hold: f64,
    /// Time constant of the decay, seconds.
    pub decay: f64,
}

impl Shock {
    /// The load the shock adds at `t`, as a multiple of the base.
    pub fn excess(&self, t: f64) -> f64 {
        let top = (self.peak - 1.0).max(0.0);
        let since = t - self.at;
        if since < 0.0 {
            0.0
        } else if since < self.ramp {
            // The second starting at `since` carries the rate reached at its end.
            top * ((since + 1.0) / self.ramp.max(1.0)).min(1.0)
        } else if since < self.ramp + self.hold {
            top
        } else {
            top * (-(since - self.ramp - self.hold) / self.decay.max(1e-9)).exp()
        }
    }

    /// The interval in which the shock adds more than `share` of its top (the ramp, the
    /// hold and the decay down to that share).
    pub fn active(&self, share: f64) -> (f64, f64) {
        let tail = self.decay * (1.0 / share.clamp(1e-9, 1.0)).ln();
        (self.at, self.at + self.ramp + self.hold + tail)
    }
}

/// The slow wave of the calm market: ± this share of the base …
const WAVE_AMPLITUDE: f64 = 0.1;
/// … over this period, seconds.
const WAVE_PERIOD: f64 = 900.0;
/// Per-second noise of the market traces: the standard deviation as a share of the rate
/// (±15 % at two deviations).
const MARKET_NOISE: f64 = 0.075;

/// The flash-crash trace: 30 minutes; a crash 300 s in that ramps to 25 × the base in 8 s
/// and decays with two aftershocks; a 6 × news burst of 60 s at 20 minutes.
pub const FLASH_CRASH_SECONDS: usize = 1800;
/// The shocks of the flash-crash trace.
pub const FLASH_CRASH: [Shock; 4] = [
    Shock {
        at: 300.0,
        ramp: 8.0,
        peak: 25.0,
        hold: 0.0,
        decay: 45.0,
    },
    // Aftershocks.
    Shock {
        at: 390.0,
        ramp: 4.0,
        peak: 10.0,
        hold: 0.0,
        decay: 25.0,
    },
    Shock {
        at: 480.0,
        ramp: 3.0,
        peak: 6.0,
        hold: 0.0,
        decay: 20.0,
    },
    // News burst.
    Shock {
        at: 1200.0,
        ramp: 2.0,
        peak: 6.0,
        hold: 60.0,
        decay: 2.0,
    },
];

/// The crash-series trace: 50 minutes, a flash crash every ten minutes with a different
/// ramp time (5, 8, 11, 15 s) and top (20–30 × the base), each followed by an aftershock.
pub const CRASH_SERIES_SECONDS: usize = 3000;
/// The shocks of the crash-series trace.
pub const CRASH_SERIES: [Shock; 8] = [
    Shock {
        at: 300.0,
        ramp: 5.0,
        peak: 20.0,
        hold: 0.0,
        decay: 40.0,
    },
    Shock {
        at: 380.0,
        ramp: 3.0,
        peak: 8.0,
        hold: 0.0,
        decay: 20.0,
    },
    Shock {
        at: 900.0,
        ramp: 8.0,
        peak: 30.0,
        hold: 0.0,
        decay: 45.0,
    },
    Shock {
        at: 1000.0,
        ramp: 4.0,
        peak: 10.0,
        hold: 0.0,
        decay: 25.0,
    },
    Shock {
        at: 1500.0,
        ramp: 11.0,
        peak: 25.0,
        hold: 0.0,
        decay: 60.0,
    },
    Shock {
        at: 1620.0,
        ramp: 5.0,
        peak: 8.0,
        hold: 0.0,
        decay: 30.0,
    },
    Shock {
        at: 2100.0,
        ramp: 15.0,
        peak: 22.0,
        hold: 0.0,
        decay: 50.0,
    },
    Shock {
        at: 2200.0,
        ramp: 4.0,
        peak: 6.0,
        hold: 0.0,
        decay: 20.0,
    },
];

/// The calm market around `base` (slow wave, noise) plus `shocks`, for `seconds`.
pub fn shocked(base: f64, seconds: usize, shocks: &[Shock], rng: &mut Rng) -> Vec<f64> {
    (0..seconds)
        .map(|s| {
            let t = s as f64;
            let wave = 1.0 + WAVE_AMPLITUDE * (std::f64::consts::TAU * t / WAVE_PERIOD).sin();
            let excess: f64 = shocks.iter().map(|k| k.excess(t)).sum();
            base * (wave + excess) * (1.0 + MARKET_NOISE * rng.normal()).max(0.0)
        })
        .collect()
}

/// The Hawkes market lasts an hour.
pub const HAWKES_SECONDS: usize = 3600;
/// Market events (news, large orders) arrive on their own at this rate, per second: one
/// every five minutes …
pub const HAWKES_BASELINE: f64 = 1.0 / 300.0;
/// … and each one triggers this many more on average (the branching ratio, below 1 for a
/// stationary market) …
pub const HAWKES_BRANCHING: f64 = 0.8;
/// … with an excitation that decays with this time constant, seconds (the trades an event
/// brings decay alike).
pub const HAWKES_DECAY: f64 = 20.0;
/// The trades an event adds at once, as a multiple of the base: exponentially distributed
/// with this mean.
pub const HAWKES_JUMP_MEAN: f64 = 2.0;

/// A self-exciting market around `base`: events form a Hawkes process with an exponential
/// kernel, drawn second by second — the events of a second are Poisson with intensity
/// `HAWKES_BASELINE + Σ β·n·e^(−β(t−tᵢ))` over past events tᵢ (n = `HAWKES_BRANCHING`, 1/β =
/// `HAWKES_DECAY`, discretised so that each event triggers n more on average). Each event adds
/// an exponentially distributed jump of trades that decays with the same time constant.
/// Per-second noise as the other market traces.
pub fn hawkes(base: f64, seconds: usize, rng: &mut Rng) -> Vec<f64> {
    let keep = (-1.0 / HAWKES_DECAY).exp();
    let (mut excitation, mut trades) = (0.0, 0.0);
    (0..seconds)
        .map(|_| {
            let intensity = HAWKES_BASELINE + excitation;
            let events = rng.poisson(intensity);
            for _ in 0..events {
                trades += HAWKES_JUMP_MEAN * rng.exponential();
            }
            excitation = excitation * keep + events as f64 * HAWKES_BRANCHING * (1.0 - keep);
            let rate = base * (1.0 + trades) * (1.0 + MARKET_NOISE * rng.normal()).max(0.0);
            trades *= keep;
            rate
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shock_ramps_to_its_peak_holds_and_decays() {
        let k = Shock {
            at: 10.0,
            ramp: 4.0,
            peak: 5.0,
            hold: 2.0,
            decay: 10.0,
        };
        assert_eq!(k.excess(9.0), 0.0);
        assert_eq!(k.excess(10.0), 1.0);
        assert_eq!(k.excess(13.0), 4.0);
        assert_eq!(k.excess(15.0), 4.0);
        assert!((k.excess(26.0) - 4.0 * (-1.0f64).exp()).abs() < 1e-12);
        let (from, to) = k.active(0.05);
        assert_eq!(from, 10.0);
        assert!((to - (16.0 + 10.0 * 20.0f64.ln())).abs() < 1e-9);
    }

    #[test]
    fn the_crash_traces_ramp_to_twenty_to_thirty_times_within_five_to_fifteen_seconds() {
        for k in FLASH_CRASH.iter().chain(&CRASH_SERIES) {
            assert!(k.peak <= 30.0 && k.ramp <= 15.0, "{k:?}");
        }
        let crashes: Vec<_> = FLASH_CRASH
            .iter()
            .chain(&CRASH_SERIES)
            .filter(|k| k.peak >= 20.0)
            .collect();
        assert_eq!(crashes.len(), 5);
        assert!(crashes.iter().all(|k| (5.0..=15.0).contains(&k.ramp)));
        let ramps: Vec<f64> = CRASH_SERIES
            .iter()
            .filter(|k| k.peak >= 20.0)
            .map(|k| k.ramp)
            .collect();
        assert_eq!(ramps, [5.0, 8.0, 11.0, 15.0]);
    }

    #[test]
    fn the_hawkes_market_clusters_its_bursts() {
        // The mean event rate of a stationary Hawkes process is baseline / (1 − branching):
        // over many hours the drawn events come close to it, and the load rises well above
        // the base in bursts.
        let mut rng = Rng::new(11);
        let rates = hawkes(1000.0, 200 * 3600, &mut rng);
        let mean = rates.iter().sum::<f64>() / rates.len() as f64 / 1000.0;
        // Each event adds HAWKES_JUMP_MEAN × HAWKES_DECAY base-seconds of trades on average.
        let expected = 1.0
            + HAWKES_BASELINE / (1.0 - HAWKES_BRANCHING)
                * HAWKES_JUMP_MEAN
                * (1.0 / (1.0 - (-1.0 / HAWKES_DECAY).exp()));
        assert!(
            (mean - expected).abs() < 0.1 * expected,
            "mean {mean} × base, expected {expected}"
        );
        let peak = rates.iter().copied().fold(0.0, f64::max) / 1000.0;
        assert!(peak > 5.0, "peak {peak} × base");
    }
}
