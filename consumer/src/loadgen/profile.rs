//! Rate profiles (trades per second over time) and the pacer that turns one into
//! "how many trades should have been sent by now".

use std::fmt;
use std::str::FromStr;

/// Target trade rate over time since the start of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Profile {
    /// As fast as the producer can go.
    Max,
    /// `steady:RATE`.
    Steady { rate: f64 },
    /// `step:FROM:TO:AT_SECS`: `from` until `at`, then `to`.
    Step { from: f64, to: f64, at: f64 },
    /// `ramp:FROM:TO:SECS`: linear from `from` to `to` over `secs`, then `to`.
    Ramp { from: f64, to: f64, secs: f64 },
    /// `burst:BASE:PEAK:EVERY_SECS:LEN_SECS`: `peak` for `len` seconds at the start of
    /// every `every` seconds, `base` otherwise.
    Burst {
        base: f64,
        peak: f64,
        every: f64,
        len: f64,
    },
}

impl Profile {
    /// Trades per second at `t` seconds.
    pub fn rate_at(&self, t: f64) -> f64 {
        match *self {
            Profile::Max => f64::INFINITY,
            Profile::Steady { rate } => rate,
            Profile::Step { from, to, at } => {
                if t < at {
                    from
                } else {
                    to
                }
            }
            Profile::Ramp { from, to, secs } => {
                if t >= secs {
                    to
                } else {
                    from + (to - from) * t / secs
                }
            }
            Profile::Burst {
                base,
                peak,
                every,
                len,
            } => {
                if t.rem_euclid(every) < len {
                    peak
                } else {
                    base
                }
            }
        }
    }

    /// Trades that should have been sent by `t` seconds (the integral of the rate).
    pub fn total_by(&self, t: f64) -> f64 {
        let t = t.max(0.0);
        match *self {
            Profile::Max => f64::INFINITY,
            Profile::Steady { rate } => rate * t,
            Profile::Step { from, to, at } => from * t.min(at) + to * (t - at).max(0.0),
            Profile::Ramp { from, to, secs } => {
                let r = t.min(secs);
                from * r + (to - from) * r * r / (2.0 * secs) + to * (t - secs).max(0.0)
            }
            Profile::Burst {
                base,
                peak,
                every,
                len,
            } => {
                let full = (t / every).floor();
                let in_burst = full * len + (t - full * every).min(len);
                base * t + (peak - base) * in_burst
            }
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Profile::Max => write!(f, "max"),
            Profile::Steady { rate } => write!(f, "steady:{rate}"),
            Profile::Step { from, to, at } => write!(f, "step:{from}:{to}:{at}"),
            Profile::Ramp { from, to, secs } => write!(f, "ramp:{from}:{to}:{secs}"),
            Profile::Burst {
                base,
                peak,
                every,
                len,
            } => write!(f, "burst:{base}:{peak}:{every}:{len}"),
        }
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.split(':');
        let kind = parts.next().unwrap_or_default();
        let nums: Vec<f64> = parts
            .map(|p| p.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0))
            .collect::<Option<_>>()
            .ok_or_else(|| format!("profile {s:?}: parameters must be non-negative numbers"))?;
        let usage = "max, steady:RATE, step:FROM:TO:AT_SECS, ramp:FROM:TO:SECS or burst:BASE:PEAK:EVERY_SECS:LEN_SECS";
        let profile = match (kind, nums.as_slice()) {
            ("max", []) => Profile::Max,
            ("steady", [rate]) => Profile::Steady { rate: *rate },
            ("step", [from, to, at]) => Profile::Step {
                from: *from,
                to: *to,
                at: *at,
            },
            ("ramp", [from, to, secs]) if *secs > 0.0 => Profile::Ramp {
                from: *from,
                to: *to,
                secs: *secs,
            },
            ("burst", [base, peak, every, len]) if *every > 0.0 && len <= every => Profile::Burst {
                base: *base,
                peak: *peak,
                every: *every,
                len: *len,
            },
            _ => return Err(format!("invalid profile {s:?}: expected {usage}")),
        };
        Ok(profile)
    }
}

/// Tells how many trades may be sent now to follow a profile.
#[derive(Debug, Clone)]
pub struct Pacer {
    profile: Profile,
    sent: u64,
}

impl Pacer {
    pub fn new(profile: Profile) -> Self {
        Pacer { profile, sent: 0 }
    }

    /// Trades that may be sent at `elapsed_secs` to catch up with the profile
    /// (`u64::MAX` for [`Profile::Max`]).
    pub fn allowance(&self, elapsed_secs: f64) -> u64 {
        let due = self.profile.total_by(elapsed_secs);
        if due.is_infinite() {
            return u64::MAX;
        }
        (due.floor() as u64).saturating_sub(self.sent)
    }

    pub fn record_sent(&mut self, trades: u64) {
        self.sent += trades;
    }

    pub fn sent(&self) -> u64 {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Profile {
        s.parse().unwrap()
    }

    #[test]
    fn parses_every_profile_and_rejects_junk() {
        assert_eq!(p("max"), Profile::Max);
        assert_eq!(p("steady:1000"), Profile::Steady { rate: 1000.0 });
        assert_eq!(
            p("step:10:100:5"),
            Profile::Step {
                from: 10.0,
                to: 100.0,
                at: 5.0
            }
        );
        assert_eq!(
            p("ramp:0:100:10"),
            Profile::Ramp {
                from: 0.0,
                to: 100.0,
                secs: 10.0
            }
        );
        assert_eq!(
            p("burst:10:1000:30:5"),
            Profile::Burst {
                base: 10.0,
                peak: 1000.0,
                every: 30.0,
                len: 5.0
            }
        );
        for bad in [
            "",
            "steady",
            "steady:-1",
            "steady:x",
            "ramp:1:2:0",
            "burst:1:2:5:6",
            "wave:1",
            "step:1:2",
        ] {
            assert!(bad.parse::<Profile>().is_err(), "{bad}");
        }
        assert_eq!(p(&p("burst:1:2:3:1").to_string()), p("burst:1:2:3:1"));
    }

    #[test]
    fn rates_follow_the_shape() {
        assert_eq!(p("step:10:100:5").rate_at(4.9), 10.0);
        assert_eq!(p("step:10:100:5").rate_at(5.0), 100.0);
        assert_eq!(p("ramp:0:100:10").rate_at(5.0), 50.0);
        assert_eq!(p("ramp:0:100:10").rate_at(50.0), 100.0);
        let b = p("burst:10:1000:30:5");
        assert_eq!(
            (b.rate_at(1.0), b.rate_at(6.0), b.rate_at(31.0)),
            (1000.0, 10.0, 1000.0)
        );
    }

    #[test]
    fn totals_are_integrals_of_rates() {
        for profile in [
            p("steady:100"),
            p("step:10:100:5"),
            p("ramp:0:100:10"),
            p("burst:10:1000:30:5"),
        ] {
            let dt = 0.001;
            let mut numeric = 0.0;
            let mut t = 0.0;
            while t < 70.0 - 1e-9 {
                numeric += profile.rate_at(t + dt / 2.0) * dt;
                t += dt;
            }
            let exact = profile.total_by(70.0);
            assert!(
                (numeric - exact).abs() < 1.0,
                "{profile}: {numeric} vs {exact}"
            );
        }
    }

    #[test]
    fn pacer_allows_what_is_due() {
        let mut pacer = Pacer::new(p("steady:1000"));
        assert_eq!(pacer.allowance(0.5), 500);
        pacer.record_sent(400);
        assert_eq!(pacer.allowance(0.5), 100);
        pacer.record_sent(200);
        assert_eq!(pacer.allowance(0.5), 0, "ahead of schedule");
        assert_eq!(Pacer::new(Profile::Max).allowance(0.0), u64::MAX);
    }
}
