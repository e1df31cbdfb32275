//! Adaptive batch size: large batches under load, small prompt ones when quiet, and
//! no growth while QuestDB's flush latency is above its target. Pure: time is passed in.

use std::time::Duration;

use crate::config::BatchConfig;

/// Flush latency above which the batch stops growing, unless set otherwise.
pub const DEFAULT_LATENCY_TARGET: Duration = Duration::from_millis(250);

/// Smoothing of the observed arrival rate (weight of the newest flush).
const RATE_ALPHA: f64 = 0.3;

/// Decides how many rows the next batch should hold.
///
/// The ideal batch is what arrives during one linger period (`rate × linger`): larger
/// batches would be flushed by the linger anyway, smaller ones cost more requests.
/// A batch that filled up doubles the target towards that ideal; a batch flushed by
/// the linger (quiet input) shrinks it towards the ideal, at most ÷4 per flush; a
/// flush slower than the latency target holds the size (no growth, and no shrinking
/// on a rate the slow flushes themselves limit), and one over twice the target
/// shrinks the batch by a quarter.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSizer {
    min: usize,
    max: usize,
    target: usize,
    linger: Duration,
    latency_target: Duration,
    rate: Option<f64>,
}

impl BatchSizer {
    /// Bounds are reordered if swapped; `initial` is clamped into them; a zero linger
    /// becomes 1 ms.
    pub fn new(min: usize, max: usize, initial: usize, linger: Duration) -> Self {
        let (min, max) = (min.min(max).max(1), max.max(min).max(1));
        BatchSizer {
            min,
            max,
            target: initial.clamp(min, max),
            linger: linger.max(Duration::from_millis(1)),
            latency_target: DEFAULT_LATENCY_TARGET,
            rate: None,
        }
    }

    pub fn with_latency_target(mut self, latency_target: Duration) -> Self {
        self.latency_target = latency_target;
        self
    }

    /// Rows the current batch should reach before it is flushed.
    pub fn target(&self) -> usize {
        self.target
    }

    /// Longest time a non-empty batch may wait before it is flushed.
    pub fn linger(&self) -> Duration {
        self.linger
    }

    /// Smoothed arrival rate in rows per second, once a flush has been observed.
    pub fn rate(&self) -> Option<f64> {
        self.rate
    }

    /// Records a flush of `rows` rows that took `flush_latency`, `since_last_flush`
    /// after the previous one, and adjusts the target.
    pub fn observe_flush(
        &mut self,
        rows: usize,
        flush_latency: Duration,
        since_last_flush: Duration,
    ) {
        let elapsed = since_last_flush.as_secs_f64().max(1e-3);
        let sample = rows as f64 / elapsed;
        let rate = match self.rate {
            Some(r) => r + RATE_ALPHA * (sample - r),
            None => sample,
        };
        self.rate = Some(rate);
        let ideal = (rate * self.linger.as_secs_f64())
            .round()
            .clamp(self.min as f64, self.max as f64) as usize;

        let next = if flush_latency > self.latency_target.saturating_mul(2) {
            self.target - self.target / 4
        } else if flush_latency > self.latency_target {
            // The observed rate is limited by the slow flushes themselves: hold.
            self.target
        } else if rows >= self.target {
            self.target.saturating_mul(2).min(ideal.max(self.target))
        } else {
            ideal.clamp(self.target / 4, self.target)
        };
        self.target = next.clamp(self.min, self.max);
    }
}

/// A batch sized within the validated batch settings.
impl From<&BatchConfig> for BatchSizer {
    fn from(batch: &BatchConfig) -> Self {
        BatchSizer::new(batch.min, batch.max, batch.initial, batch.linger)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINGER: Duration = Duration::from_millis(50);
    const FAST: Duration = Duration::from_millis(5);

    /// Simulates arrivals at `rate` rows/s with the given flush latency: a batch is
    /// flushed when it reaches the target or the linger expires.
    fn run(sizer: &mut BatchSizer, rate: f64, latency: Duration, flushes: usize) {
        for _ in 0..flushes {
            let fill = Duration::from_secs_f64(sizer.target() as f64 / rate);
            let wait = fill.min(sizer.linger());
            let rows = ((rate * wait.as_secs_f64()).round() as usize).min(sizer.target());
            sizer.observe_flush(rows, latency, wait + latency);
        }
    }

    #[test]
    fn initial_is_clamped_into_bounds() {
        assert_eq!(BatchSizer::new(100, 1000, 5, LINGER).target(), 100);
        assert_eq!(BatchSizer::new(100, 1000, 5000, LINGER).target(), 1000);
        assert_eq!(BatchSizer::new(1000, 100, 500, LINGER).target(), 500);
        assert_eq!(
            BatchSizer::new(1, 10, 5, Duration::ZERO).linger(),
            Duration::from_millis(1)
        );
    }

    #[test]
    fn load_ramp_grows_the_batch() {
        let mut s = BatchSizer::new(100, 50_000, 1000, LINGER);
        run(&mut s, 1_000.0, FAST, 20);
        let quiet = s.target();
        run(&mut s, 200_000.0, FAST, 20);
        let busy = s.target();
        run(&mut s, 2_000_000.0, FAST, 20);
        assert!(busy > quiet, "{quiet} -> {busy}");
        assert_eq!(s.target(), 50_000, "a very busy stream reaches the maximum");
    }

    #[test]
    fn growth_stops_at_what_one_linger_brings() {
        let mut s = BatchSizer::new(100, 50_000, 1000, LINGER);
        run(&mut s, 200_000.0, FAST, 50);
        // 200k rows/s × 50 ms = 10k rows.
        assert!((8_000..=12_000).contains(&s.target()), "{}", s.target());
    }

    #[test]
    fn quiet_input_shrinks_to_small_prompt_batches() {
        let mut s = BatchSizer::new(100, 50_000, 1000, LINGER);
        run(&mut s, 500_000.0, FAST, 30);
        assert!(s.target() > 10_000);
        run(&mut s, 200.0, FAST, 30);
        assert_eq!(s.target(), 100);
    }

    #[test]
    fn slow_flushes_stop_growth() {
        let mut s = BatchSizer::new(100, 50_000, 1000, LINGER)
            .with_latency_target(Duration::from_millis(100));
        run(&mut s, 2_000_000.0, Duration::from_millis(150), 30);
        assert_eq!(s.target(), 1000);
    }

    #[test]
    fn very_slow_flushes_shrink_the_batch() {
        let mut s = BatchSizer::new(100, 50_000, 8000, LINGER)
            .with_latency_target(Duration::from_millis(100));
        s.observe_flush(8000, Duration::from_millis(500), Duration::from_millis(10));
        assert_eq!(s.target(), 6000);
        for _ in 0..100 {
            s.observe_flush(
                s.target(),
                Duration::from_secs(2),
                Duration::from_millis(10),
            );
        }
        assert_eq!(s.target(), 100, "never below the minimum");
    }

    #[test]
    fn rate_is_smoothed() {
        let mut s = BatchSizer::new(1, 1000, 10, LINGER);
        assert_eq!(s.rate(), None);
        s.observe_flush(100, FAST, Duration::from_secs(1));
        s.observe_flush(200, FAST, Duration::from_secs(1));
        assert!((s.rate().unwrap() - 130.0).abs() < 1e-9);
    }
}
