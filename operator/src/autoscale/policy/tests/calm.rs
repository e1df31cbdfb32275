//! The rate's window (`policy::trend`): what counts as calm, rising or ramping.

use super::super::trend::{self, MIN_SAMPLES, fit, record};
use super::*;

/// Samples once a second from 0 to `to` of `rate(t)`, with a backlog of `backlog(t)`.
fn series(to: u64, rate: impl Fn(u64) -> f64, backlog: impl Fn(u64) -> u64) -> Vec<Sample> {
    (0..=to)
        .map(|t| Sample {
            at: secs(t),
            rate: rate(t),
            backlog: backlog(t),
        })
        .collect()
}

/// ±5 % around `level`, alternating.
fn noisy(level: f64) -> impl Fn(u64) -> f64 {
    move |t| level * if t.is_multiple_of(2) { 1.05 } else { 0.95 }
}

#[test]
fn a_flat_noisy_window_is_calm_at_its_mean() {
    let w = series(30, noisy(6000.0), |_| 0);
    let level = trend::calm_level(&w, 0.1, 6000.0).expect("calm");
    assert!((level - 6000.0).abs() < 0.01 * 6000.0, "{level}");
}

#[test]
fn a_window_shorter_than_the_calm_window_tells_nothing() {
    let w = series(20, |_| 6000.0, |_| 0);
    assert_eq!(trend::calm_level(&w, 0.1, 6000.0), None);
    assert!(trend::calm_level(&series(27, |_| 6000.0, |_| 0), 0.1, 6000.0).is_some());
}

#[test]
fn a_rise_beyond_the_noise_is_not_calm_and_a_drift_beyond_the_bound_neither() {
    // 0.3 % a second under ±5 % noise: 9 % over the window, beyond the noise.
    let rise = |t: u64| noisy(6000.0)(t) * (1.0 + 0.003 * t as f64);
    assert_eq!(
        trend::calm_level(&series(30, rise, |_| 0), 0.1, 6000.0),
        None
    );
    // A fall is no rise, but 15 % over the window is beyond a drift of 10 %.
    let fall = |t: u64| noisy(6000.0)(t) * (1.0 - 0.005 * t as f64);
    assert_eq!(
        trend::calm_level(&series(30, fall, |_| 0), 0.1, 6000.0),
        None
    );
    let slow_fall = |t: u64| noisy(6000.0)(t) * (1.0 - 0.002 * t as f64);
    assert!(trend::calm_level(&series(30, slow_fall, |_| 0), 0.1, 6000.0).is_some());
}

#[test]
fn a_decay_followed_by_a_rise_is_not_calm_though_its_line_is_flat() {
    // A V: down 2 % a second for 15 s, then back up, with ±2 % noise. The line through it is
    // flat, but the samples scatter around it far more than their own noise explains.
    let v = |t: u64| {
        let depth = 0.02 * (15.0 - (t as f64 - 15.0).abs());
        6000.0 * (1.0 - depth) * if t.is_multiple_of(2) { 1.02 } else { 0.98 }
    };
    let w = series(30, v, |_| 0);
    let f = fit(&w
        .iter()
        .map(|s| (s.at.as_secs_f64(), s.rate))
        .collect::<Vec<_>>())
    .unwrap();
    assert!(f.slope.abs() * f.span < 0.01 * f.mean, "{f:?}");
    assert_eq!(trend::calm_level(&w, 0.1, 6000.0), None);
}

#[test]
fn a_growing_backlog_is_not_calm() {
    let w = series(30, |_| 6000.0, |t| 300 * t);
    assert_eq!(trend::calm_level(&w, 0.1, 6000.0), None);
    // Growing by less than a second of arrivals over the window is not growing.
    let w = series(30, |_| 6000.0, |t| 100 * t);
    assert!(trend::calm_level(&w, 0.1, 6000.0).is_some());
}

#[test]
fn two_successive_rises_beyond_the_noise_are_a_ramp_and_one_step_is_not() {
    // 5000/s more every second from 29 s, under ±5 % noise.
    let ramp = |t: u64| {
        noisy(6000.0)(t)
            + if t >= 29 {
                5000.0 * (t - 28) as f64
            } else {
                0.0
            }
    };
    assert_eq!(trend::ramp_slope(&series(29, ramp, |_| 0)), None);
    let slope = trend::ramp_slope(&series(30, ramp, |_| 0)).expect("a ramp");
    assert!((4000.0..=5600.0).contains(&slope), "{slope}");
    let step = |t: u64| noisy(6000.0)(t) + if t >= 29 { 6000.0 } else { 0.0 };
    assert_eq!(trend::ramp_slope(&series(30, step, |_| 0)), None);
    // Rises inside the noise are no ramp.
    let wobble = |t: u64| 6000.0 + (t % 3) as f64 * 300.0;
    assert_eq!(trend::ramp_slope(&series(30, wobble, |_| 0)), None);
}

#[test]
fn the_window_keeps_the_calm_window_and_at_least_its_fewest_samples() {
    let recorded = |times: &mut dyn Iterator<Item = u64>| {
        times.fold(Vec::new(), |w, t| {
            let sample = Sample {
                at: secs(t),
                rate: 1.0,
                backlog: 0,
            };
            record(&w, sample)
        })
    };
    let w = recorded(&mut (0..=100));
    assert_eq!(w.first().map(|s| s.at), Some(secs(100) - CALM_WINDOW));
    // Sparse samples: the window reaches back to hold the fewest a verdict rests on.
    let w = recorded(&mut (0..=1000).step_by(60));
    assert_eq!(w.len(), MIN_SAMPLES);
}
