//! Smoothed rates from sampled counters: λ from high watermarks, μ from committed progress per busy worker.

use std::time::Duration;

/// A rate smoothed with an exponential moving average that snaps to a sudden change.
///
/// Noise is averaged over `tau`; a sample that differs from the average by more than `jump`
/// (a fraction) is taken as a real change of load and replaces the average at once, so a
/// spike is seen on the first sample after it.
#[derive(Clone, Debug)]
pub struct RateEstimator {
    tau: f64,
    jump: f64,
    last: Option<(Duration, f64)>,
    rate: Option<f64>,
    sample: Option<f64>,
}

impl RateEstimator {
    /// An estimator averaging over `tau` and snapping on a relative change above `jump`.
    pub fn new(tau: Duration, jump: f64) -> Self {
        Self {
            tau: tau.as_secs_f64().max(f64::MIN_POSITIVE),
            jump,
            last: None,
            rate: None,
            sample: None,
        }
    }

    /// Feeds the counter's value at `at`; returns the current estimate. A counter that went
    /// backwards (a reset) restarts the estimate from the next sample.
    pub fn observe(&mut self, at: Duration, counter: f64) -> Option<f64> {
        let Some((t0, c0)) = self.last.replace((at, counter)) else {
            return self.rate;
        };
        let dt = at.saturating_sub(t0).as_secs_f64();
        if dt <= 0.0 {
            return self.rate;
        }
        if counter < c0 {
            self.rate = None;
            self.sample = None;
            return None;
        }
        let sample = (counter - c0) / dt;
        self.sample = Some(sample);
        self.rate = Some(self.blend(sample, dt));
        self.rate
    }

    /// Feeds a ratio of two increments (e.g. records per busy worker-second); samples whose
    /// denominator is below `min_den` carry no information and are skipped.
    pub fn observe_ratio(&mut self, at: Duration, num: f64, den: f64, min_den: f64) -> Option<f64> {
        let dt = self
            .last
            .map_or(0.0, |(t0, _)| at.saturating_sub(t0).as_secs_f64());
        self.last = Some((at, 0.0));
        if den < min_den || num < 0.0 || !num.is_finite() || !den.is_finite() {
            return self.rate;
        }
        self.rate = Some(self.blend(num / den, dt.max(f64::MIN_POSITIVE)));
        self.rate
    }

    /// The current estimate.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// The rate between the last two counter readings alone, unsmoothed (`None` before two
    /// readings and after a reset).
    pub fn last_sample(&self) -> Option<f64> {
        self.sample
    }

    fn blend(&self, sample: f64, dt: f64) -> f64 {
        match self.rate {
            None => sample,
            Some(avg) if (sample - avg).abs() > self.jump * avg.abs().max(1.0) => sample,
            Some(avg) => {
                let alpha = 1.0 - (-dt / self.tau).exp();
                avg + alpha * (sample - avg)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn a_steady_counter_gives_its_rate() {
        let mut e = RateEstimator::new(s(20), 0.5);
        for i in 0..10 {
            e.observe(s(2 * i), 1000.0 * (2 * i) as f64);
        }
        assert!((e.rate().unwrap() - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn noise_is_averaged_but_a_jump_is_taken_at_once() {
        let mut e = RateEstimator::new(s(20), 0.5);
        let mut c = 0.0;
        for i in 0..20 {
            c += if i % 2 == 0 { 2200.0 } else { 1800.0 };
            e.observe(s(2 * i), c);
        }
        let r = e.rate().unwrap();
        assert!(
            (r - 1000.0).abs() < 120.0,
            "noisy rate averaged near 1000/s, got {r}"
        );
        c += 20_000.0;
        assert_eq!(e.observe(s(40), c), Some(10_000.0));
    }

    #[test]
    fn the_last_sample_is_the_rate_between_the_last_two_readings_unsmoothed() {
        let mut e = RateEstimator::new(s(20), 0.5);
        e.observe(s(0), 0.0);
        assert_eq!(e.last_sample(), None);
        e.observe(s(1), 1000.0);
        e.observe(s(2), 2200.0);
        assert_eq!(e.last_sample(), Some(1200.0));
        assert!(e.rate().unwrap() < 1200.0);
        e.observe(s(3), 5.0);
        assert_eq!(e.last_sample(), None);
    }

    #[test]
    fn a_counter_reset_restarts_the_estimate() {
        let mut e = RateEstimator::new(s(10), 0.5);
        e.observe(s(0), 100.0);
        e.observe(s(1), 200.0);
        assert_eq!(e.observe(s(2), 5.0), None);
        assert_eq!(e.observe(s(3), 105.0), Some(100.0));
    }

    #[test]
    fn a_ratio_with_no_denominator_keeps_the_last_estimate() {
        let mut e = RateEstimator::new(s(10), 0.5);
        assert_eq!(e.observe_ratio(s(1), 500.0, 0.1, 0.5), None);
        assert_eq!(e.observe_ratio(s(2), 500.0, 1.0, 0.5), Some(500.0));
        assert_eq!(e.observe_ratio(s(3), 0.0, 0.0, 0.5), Some(500.0));
    }
}
