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

/// The scheduled-event day: 80 minutes of a trading day, compressed.
pub const EVENT_DAY_SECONDS: usize = 4800;
/// The market opens at 10 min …
pub const EVENT_DAY_OPEN: f64 = 600.0;
/// … and closes at 70 min.
pub const EVENT_DAY_CLOSE: f64 = 4200.0;
/// The trading level before the open, between open and close, and after the close, as
/// multiples of the base.
const EVENT_DAY_LEVELS: [f64; 3] = [0.5, 2.0, 0.3];
/// The day's scheduled shocks: the opening auction, a macro release at 40 min, and the
/// closing auction.
pub const EVENT_DAY: [Shock; 3] = [
    Shock {
        at: EVENT_DAY_OPEN,
        ramp: 5.0,
        peak: 8.0,
        hold: 0.0,
        decay: 120.0,
    },
    Shock {
        at: 2400.0,
        ramp: 3.0,
        peak: 15.0,
        hold: 0.0,
        decay: 60.0,
    },
    Shock {
        at: 4080.0,
        ramp: 30.0,
        peak: 6.0,
        hold: 90.0,
        decay: 10.0,
    },
];

/// The event day on the calendar: Monday 9 March 2026 from 09:20 in New York (the day after
/// the clocks sprang forward), so the open is at 09:30, the macro release at 10:00 and the
/// closing auction at 10:28 — a day compressed into 80 minutes. Its schedules hold, from
/// [`EVENT_DAY_LEAD_SECONDS`] before each event, the pods its expected peak needs.
pub fn event_day_calendar(base: f64) -> super::trace::Calendar {
    use chrono::TimeZone;
    let starts = chrono_tz::America::New_York
        .with_ymd_and_hms(2026, 3, 9, 9, 20, 0)
        .single()
        .expect("09:20 exists in New York that day")
        .with_timezone(&chrono::Utc);
    let pods =
        |peak: f64| (peak * base * (1.0 + EVENT_DAY_HEADROOM) / EVENT_DAY_POD_RATE).ceil() as i32;
    super::trace::Calendar {
        starts,
        schedules: EVENT_DAY_SCHEDULES
            .iter()
            .map(
                |&(name, cron, duration, peak)| crate::crd::CapacitySchedule {
                    name: name.into(),
                    cron: cron.into(),
                    time_zone: "America/New_York".into(),
                    duration_seconds: duration,
                    lead_seconds: EVENT_DAY_LEAD_SECONDS,
                    min_replicas: Some(pods(peak).max(1)),
                    min_workers: None,
                    surge_factor: None,
                },
            )
            .collect(),
    }
}

/// How long before each event its capacity is asked for: four times the 15 s the policy
/// assumes a pod takes to consume.
pub const EVENT_DAY_LEAD_SECONDS: i32 = 60;

/// The records per second one pod is taken to carry when the schedules are sized: 8
/// workers of 10 000/s, the simulated world's defaults, as an SRE would read them off a
/// load test.
pub const EVENT_DAY_POD_RATE: f64 = 80_000.0;

/// The headroom the schedules are sized with (the policy's default).
const EVENT_DAY_HEADROOM: f64 = 0.2;

/// The schedules an SRE sets for the event day: (name, cron, seconds, expected peak as a
/// multiple of the base rate): the session's level (2) plus the event's shock — the open's
/// 8, the release's 15, the closing auction's 6.
pub const EVENT_DAY_SCHEDULES: [(&str, &str, i32, f64); 3] = [
    ("open", "30 9 * * 1-5", 300, 10.0),
    ("macro-release", "0 10 * * 1-5", 180, 17.0),
    ("closing-auction", "28 10 * * 1-5", 150, 8.0),
];

/// A scheduled-event day around `base`: the trading level before, during and after the
/// session (`EVENT_DAY_LEVELS`), the slow wave and the noise of the calm market, and the
/// scheduled shocks of `EVENT_DAY`.
pub fn event_day(base: f64, rng: &mut Rng) -> Vec<f64> {
    (0..EVENT_DAY_SECONDS)
        .map(|s| {
            let t = s as f64;
            let [before, during, after] = EVENT_DAY_LEVELS;
            let level = if t < EVENT_DAY_OPEN {
                before
            } else if t < EVENT_DAY_CLOSE {
                during
            } else {
                after
            };
            let wave = 1.0 + WAVE_AMPLITUDE * (std::f64::consts::TAU * t / WAVE_PERIOD).sin();
            let excess: f64 = EVENT_DAY.iter().map(|k| k.excess(t)).sum();
            base * (level * wave + excess) * (1.0 + MARKET_NOISE * rng.normal()).max(0.0)
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
    fn the_event_days_schedules_open_with_its_events() {
        let cal = event_day_calendar(12_000.0);
        let windows = crate::autoscale::schedule::parse_all(&cal.schedules).expect("valid");
        let at = |t: f64| cal.at(t);
        for (w, event) in windows
            .iter()
            .zip([EVENT_DAY_OPEN, EVENT_DAY[1].at, EVENT_DAY[2].at])
        {
            let o = w.covering(at(event)).expect("the window covers its event");
            assert_eq!(o.opens, at(event), "{}", w.name());
            assert_eq!(o.asked, at(event - f64::from(EVENT_DAY_LEAD_SECONDS)));
        }
        assert_eq!(
            crate::autoscale::schedule::held_at(&windows, at(300.0)),
            None
        );
    }

    #[test]
    fn the_event_day_opens_releases_news_and_closes_at_its_set_times() {
        let mut rng = Rng::new(3);
        let r = event_day(1000.0, &mut rng);
        let mean = |a: usize, b: usize| r[a..b].iter().sum::<f64>() / (b - a) as f64;
        assert!(mean(300, 590) < 700.0, "pre-market");
        // The opening auction, then the session's level.
        assert!(mean(606, 616) > 5000.0);
        assert!((1700.0..2300.0).contains(&mean(1800, 2300)));
        // The macro release at 40 min, the closing auction, the after-hours level.
        assert!(mean(2403, 2410) > 9000.0);
        assert!(mean(4110, 4200) > 5000.0);
        assert!(mean(4500, 4800) < 450.0);
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
