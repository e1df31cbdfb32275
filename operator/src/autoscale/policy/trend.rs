//! Pure: the arrival rate's recent samples, and whether they are calm, rising, or ramping.
//!
//! The policy keeps the unsmoothed arrival rate and the backlog of its last decisions (at
//! least [`CALM_WINDOW`], and at least [`MIN_SAMPLES`] of them). A least-squares line through
//! them tells a calm, trended-flat load (the surge reserve is sized and joins only then) from
//! a rising one; the last few samples tell a steep ramp, which the sizing runs ahead of.

use std::time::Duration;

/// How long the rate must have been calm before the surge reserve is sized or joins.
pub const CALM_WINDOW: Duration = Duration::from_secs(30);
/// The fewest samples a verdict rests on (the window stretches back to hold them).
pub const MIN_SAMPLES: usize = 10;
/// A slope is beyond noise when the rise it makes over the window exceeds this many
/// standard errors of that rise (one-sided, a 2 % chance on noise alone) …
const NOISE_SIGMAS: f64 = 2.0;
/// … and this share of the window's mean rate (a smaller rise is no surge, whatever the
/// noise: a noiseless flat load is flat).
const MIN_RISE_SHARE: f64 = 0.01;
/// A calm window's scatter around its line is at most this share of its mean rate (the
/// per-second noise of a calm market is a few per cent) …
const CALM_SCATTER: f64 = 0.25;
/// … and at most this many times what its own noise from one second to the next explains:
/// a decay, a V or a spike inside the window scatters the samples around a line far more than
/// their successive changes do. Below [`MIN_RISE_SHARE`] of the mean, scatter is not structure.
const CALM_STRUCTURE: f64 = 1.5;
/// A ramp is this many successive rises …
const RAMP_STEPS: usize = 2;
/// … each larger than this many times the window's noise from one sample to the next.
const RAMP_SIGMAS: f64 = 3.0;
/// The median of |normal| ÷ its standard deviation: turns a median absolute change into a deviation.
const MAD_TO_SIGMA: f64 = 0.6745;

/// One decision's view of the load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// When, on the policy's clock.
    pub at: Duration,
    /// Arrivals per second since the previous reading, unsmoothed.
    pub rate: f64,
    /// Records behind.
    pub backlog: u64,
}

/// `window` with `sample` added and what is older than [`CALM_WINDOW`] dropped, keeping the
/// latest [`MIN_SAMPLES`] whatever their age.
pub fn record(window: &[Sample], sample: Sample) -> Vec<Sample> {
    let mut out: Vec<Sample> = window
        .iter()
        .copied()
        .filter(|s| s.at < sample.at)
        .collect();
    out.push(sample);
    let fresh = out
        .iter()
        .position(|s| s.at + CALM_WINDOW >= sample.at)
        .unwrap_or(out.len());
    let keep_from = fresh.min(out.len().saturating_sub(MIN_SAMPLES));
    out.split_off(keep_from)
}

/// A least-squares line through samples of a value over time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// Samples.
    pub n: usize,
    /// Seconds from the first sample to the last.
    pub span: f64,
    /// Mean value.
    pub mean: f64,
    /// Slope, value per second.
    pub slope: f64,
    /// Standard error of the slope.
    pub slope_error: f64,
    /// Standard deviation of the samples around the line.
    pub scatter: f64,
}

/// The line through `(seconds, value)` points; `None` for fewer than three or no time spread.
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let t_mean = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let mean = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let stt: f64 = points.iter().map(|p| (p.0 - t_mean).powi(2)).sum();
    if stt <= 0.0 {
        return None;
    }
    let sty: f64 = points.iter().map(|p| (p.0 - t_mean) * (p.1 - mean)).sum();
    let slope = sty / stt;
    let ssr: f64 = points
        .iter()
        .map(|p| (p.1 - mean - slope * (p.0 - t_mean)).powi(2))
        .sum();
    let variance = ssr / (nf - 2.0);
    let (first, last) = (points[0].0, points[n - 1].0);
    Some(Fit {
        n,
        span: last - first,
        mean,
        slope,
        slope_error: (variance / stt).sqrt(),
        scatter: variance.sqrt(),
    })
}

impl Fit {
    /// The line rises beyond noise over its span: by more than [`NOISE_SIGMAS`] standard
    /// errors, more than [`MIN_RISE_SHARE`] of the mean, and more than `floor`.
    pub fn rises(&self, floor: f64) -> bool {
        let rise = self.slope * self.span;
        rise > NOISE_SIGMAS * self.slope_error * self.span
            && rise > MIN_RISE_SHARE * self.mean.abs()
            && rise > floor
    }

    /// Calm and trended flat: not rising beyond noise, drifting by at most `drift` × the mean
    /// over the span either way, and scattered around the line by at most [`CALM_SCATTER`]
    /// of the mean and [`CALM_STRUCTURE`] × `noise` (the samples' own deviation from one to
    /// the next).
    pub fn calm(&self, drift: f64, noise: f64) -> bool {
        !self.rises(0.0)
            && (self.slope * self.span).abs() <= drift * self.mean
            && self.scatter <= CALM_SCATTER * self.mean
            && self.scatter <= (CALM_STRUCTURE * noise).max(MIN_RISE_SHARE * self.mean)
    }
}

/// The window spans at least [`CALM_WINDOW`] (less a tenth) with at least [`MIN_SAMPLES`].
fn long_enough(window: &[Sample]) -> bool {
    let span = match (window.first(), window.last()) {
        (Some(a), Some(b)) => b.at.saturating_sub(a.at),
        _ => Duration::ZERO,
    };
    window.len() >= MIN_SAMPLES && span + CALM_WINDOW / 10 >= CALM_WINDOW
}

fn points(window: &[Sample], value: fn(&Sample) -> f64) -> Vec<(f64, f64)> {
    window
        .iter()
        .map(|s| (s.at.as_secs_f64(), value(s)))
        .collect()
}

/// The rate's mean over the window when it is calm there (see [`Fit::calm`]) and the
/// backlog is not growing beyond noise by more than `backlog_floor` records; `None` otherwise,
/// and while the window is too short to tell.
pub fn calm_level(window: &[Sample], drift: f64, backlog_floor: f64) -> Option<f64> {
    if !long_enough(window) {
        return None;
    }
    let rate = fit(&points(window, |s| s.rate))?;
    let backlog = fit(&points(window, |s| s.backlog as f64))?;
    (rate.calm(drift, noise(window)) && !backlog.rises(backlog_floor)).then_some(rate.mean)
}

/// The slope of a steep ramp, records/s per second: the last [`RAMP_STEPS`] changes from one
/// sample to the next each rose by more than [`RAMP_SIGMAS`] times the window's noise (the
/// median absolute change, as a deviation) and by more than [`MIN_RISE_SHARE`] of the rate
/// per second; the smallest of those rises per second. `None` when the rate is not ramping
/// (a step is one rise, not a ramp).
pub fn ramp_slope(window: &[Sample]) -> Option<f64> {
    if window.len() < MIN_SAMPLES {
        return None;
    }
    let changes = changes(window);
    let noise = median_change(&changes) / MAD_TO_SIGMA;
    let last = &changes[changes.len() - RAMP_STEPS..];
    let slope = last.iter().copied().fold(f64::INFINITY, f64::min);
    let rate = window.last().map_or(0.0, |s| s.rate);
    (slope > RAMP_SIGMAS * noise && slope > MIN_RISE_SHARE * rate && slope > 0.0).then_some(slope)
}

/// The rate's change from each sample to the next, per second.
fn changes(window: &[Sample]) -> Vec<f64> {
    window
        .windows(2)
        .map(|w| {
            let dt = w[1].at.saturating_sub(w[0].at).as_secs_f64().max(1e-9);
            (w[1].rate - w[0].rate) / dt
        })
        .collect()
}

/// The median of the changes' sizes (0 for none).
fn median_change(changes: &[f64]) -> f64 {
    let mut sizes: Vec<f64> = changes.iter().map(|c| c.abs()).collect();
    sizes.sort_by(f64::total_cmp);
    sizes.get(sizes.len() / 2).copied().unwrap_or(0.0)
}

/// The samples' own noise, as a deviation: from the median absolute change between
/// successive samples (robust to the few large changes of a step or a ramp), which for
/// independent noise is √2 deviations.
pub fn noise(window: &[Sample]) -> f64 {
    let steps: Vec<f64> = window.windows(2).map(|w| w[1].rate - w[0].rate).collect();
    median_change(&steps) / MAD_TO_SIGMA / std::f64::consts::SQRT_2
}
