//! A model of the Flink Kubernetes operator's job autoscaler applied to the consumer group:
//! rate-based target utilisation with a metrics window, a stabilization interval and a
//! restart time, with its documented defaults (`AutoScalerOptions` of
//! apache/flink-kubernetes-operator; docs/autoscaling.md gives each).

use std::time::Duration;

/// The autoscaler's options that matter for one source-fed job.
#[derive(Clone, Debug, PartialEq)]
pub struct FlinkConfig {
    /// `job.autoscaler.target.utilization` (0.7).
    pub target_utilization: f64,
    /// `job.autoscaler.target.utilization.boundary` (0.3): no scaling while the processing
    /// capacity lies between the rates the target ± the boundary call for.
    pub utilization_boundary: f64,
    /// `job.autoscaler.metrics.window` (15 min): rates are averaged over it, and nothing is
    /// decided before it is full.
    pub metrics_window: Duration,
    /// `job.autoscaler.stabilization.interval` (5 min): after a rescale (and at start), no
    /// metrics are collected for this long.
    pub stabilization_interval: Duration,
    /// `job.autoscaler.restart.time` (5 min): the expected restart, whose arrivals the new
    /// size must also catch up.
    pub restart_time: Duration,
    /// `job.autoscaler.catch-up.duration` (30 min): the backlog is to be processed within it.
    pub catch_up_duration: Duration,
    /// `job.autoscaler.scale-down.max-factor` (0.6): a scale-down keeps at least 40 %.
    pub scale_down_max_factor: f64,
    /// `job.autoscaler.scale-up.grace-period` (1 h): no scale-down this long after a scale-up.
    pub scale_up_grace_period: Duration,
    /// `job.autoscaler.backlog-processing.lag-threshold` (5 min): a lag of more than this much
    /// input is a backlog being processed, during which nothing scales down.
    pub backlog_lag_threshold: Duration,
    /// `kubernetes.operator.reconcile.interval` (60 s): how often metrics are collected and
    /// the autoscaler evaluates.
    pub reconcile_interval: Duration,
}

impl Default for FlinkConfig {
    fn default() -> Self {
        let min = |m: u64| Duration::from_secs(60 * m);
        Self {
            target_utilization: 0.7,
            utilization_boundary: 0.3,
            metrics_window: min(15),
            stabilization_interval: min(5),
            restart_time: min(5),
            catch_up_duration: min(30),
            scale_down_max_factor: 0.6,
            scale_up_grace_period: min(60),
            backlog_lag_threshold: min(5),
            reconcile_interval: Duration::from_secs(60),
        }
    }
}

/// One collection of metrics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlinkSample {
    /// When.
    pub at: Duration,
    /// Records per second arriving since the last collection.
    pub input_rate: f64,
    /// Records per second one worker processes while busy (the true processing rate of a subtask).
    pub true_rate: f64,
    /// Records behind.
    pub lag: f64,
}

/// The autoscaler's state: the collected metrics since the last rescale, and when it rescaled.
#[derive(Clone, Debug)]
pub struct FlinkAutoscaler {
    cfg: FlinkConfig,
    history: Vec<FlinkSample>,
    last_rescale: Duration,
    last_scale_up: Option<Duration>,
}

impl FlinkAutoscaler {
    /// A job started at `started` (the first stabilization interval runs from it).
    pub fn new(cfg: FlinkConfig, started: Duration) -> Self {
        Self {
            cfg,
            history: Vec::new(),
            last_rescale: started,
            last_scale_up: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FlinkConfig {
        &self.cfg
    }

    /// Collects `sample` and decides: the parallelism (total workers) to run, when it changes.
    /// `parallelism` is the workers running, `max` the most the job can use.
    pub fn evaluate(&mut self, sample: FlinkSample, parallelism: u32, max: u32) -> Option<u32> {
        let cfg = &self.cfg;
        let now = sample.at;
        if now < self.last_rescale + cfg.stabilization_interval {
            return None;
        }
        self.history.push(sample);
        let first = self.history[0].at;
        if now.saturating_sub(first) < cfg.metrics_window {
            return None;
        }
        self.history.retain(|s| s.at + cfg.metrics_window >= now);
        let n = self.history.len() as f64;
        let input = self.history.iter().map(|s| s.input_rate).sum::<f64>() / n;
        let true_rate = self.history.iter().map(|s| s.true_rate).sum::<f64>() / n;
        if true_rate <= 0.0 || parallelism == 0 {
            return None;
        }
        let capacity = true_rate * parallelism as f64;
        let catch_up = cfg.catch_up_duration.as_secs_f64().max(1.0);
        let lag_rate = sample.lag / catch_up;
        let restart_rate = input * cfg.restart_time.as_secs_f64() / catch_up;
        let backlog = sample.lag > input * cfg.backlog_lag_threshold.as_secs_f64();
        let (upper, lower) = if backlog {
            (1.0, 0.0)
        } else {
            (
                cfg.target_utilization + cfg.utilization_boundary,
                cfg.target_utilization - cfg.utilization_boundary,
            )
        };
        let at = |u: f64| input / u.clamp(f64::MIN_POSITIVE, 1.0);
        let scale_up_below = lag_rate + at(upper);
        let scale_down_above = lag_rate + restart_rate + at(lower);
        let grace = self
            .last_scale_up
            .is_some_and(|t| now < t + cfg.scale_up_grace_period);
        let up = capacity < scale_up_below;
        let down = capacity > scale_down_above && lower > 0.0 && !grace;
        if !up && !down {
            return None;
        }
        let target = lag_rate + restart_rate + at(cfg.target_utilization);
        let floor = 1.0 - cfg.scale_down_max_factor;
        let factor = (target / capacity).max(floor);
        let next = ((parallelism as f64 * factor).ceil() as u32).clamp(1, max.max(1));
        if next == parallelism || (up && next < parallelism) || (down && next > parallelism) {
            return None;
        }
        if next > parallelism {
            self.last_scale_up = Some(now);
        }
        self.last_rescale = now;
        self.history.clear();
        Some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: u64) -> Duration {
        Duration::from_secs(x)
    }

    /// Minute-by-minute samples of `input` records/s, μ = 10 000, no lag, from `from` to `to` s.
    fn feed(a: &mut FlinkAutoscaler, input: f64, from: u64, to: u64, p: u32) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        let mut p = p;
        for t in (from..=to).step_by(60) {
            let sample = FlinkSample {
                at: s(t),
                input_rate: input,
                true_rate: 10_000.0,
                lag: 0.0,
            };
            if let Some(next) = a.evaluate(sample, p, 32) {
                out.push((t, next));
                p = next;
            }
        }
        out
    }

    #[test]
    fn nothing_is_decided_before_the_stabilization_interval_and_a_full_metrics_window() {
        let mut a = FlinkAutoscaler::new(FlinkConfig::default(), s(0));
        // 70 000/s on 2 workers: far too few, but the first decision comes at 5 + 15 min.
        let decisions = feed(&mut a, 70_000.0, 0, 1500, 2);
        assert_eq!(decisions, [(1200, 12)]);
    }

    #[test]
    fn the_job_is_sized_for_the_windows_average_rate_at_the_target_utilization() {
        // 70 000/s at 70 % of 10 000/s per worker: 10 workers without a restart to catch up …
        let cfg = FlinkConfig {
            restart_time: Duration::ZERO,
            ..FlinkConfig::default()
        };
        let mut a = FlinkAutoscaler::new(cfg, s(0));
        assert_eq!(feed(&mut a, 70_000.0, 0, 1500, 2), [(1200, 10)]);
        // … and with the restart's arrivals caught up over the catch-up duration (70 000 × 300
        // / 1800 = 11 667/s more): ceil(111 667 / 10 000) = 12.
        let mut a = FlinkAutoscaler::new(FlinkConfig::default(), s(0));
        assert_eq!(feed(&mut a, 70_000.0, 0, 1200, 2), [(1200, 12)]);
    }

    #[test]
    fn a_capacity_within_the_utilization_boundary_is_left_alone() {
        // 6 workers = 60 000/s for 40 000/s: 67 % busy, inside 40–100 %.
        let mut a = FlinkAutoscaler::new(FlinkConfig::default(), s(0));
        assert_eq!(feed(&mut a, 40_000.0, 0, 3000, 6), []);
    }

    #[test]
    fn a_backlog_is_caught_up_within_the_catch_up_duration() {
        let cfg = FlinkConfig {
            restart_time: Duration::ZERO,
            ..FlinkConfig::default()
        };
        let mut a = FlinkAutoscaler::new(cfg, s(0));
        let sample = |t, lag| FlinkSample {
            at: s(t),
            input_rate: 35_000.0,
            true_rate: 10_000.0,
            lag,
        };
        for t in (300..1200).step_by(60) {
            assert_eq!(a.evaluate(sample(t, 0.0), 5, 32), None);
        }
        // 36 000 000 behind: 20 000/s more for 30 min; (35 000/0.7 + 20 000) / 10 000 = 7.
        assert_eq!(a.evaluate(sample(1200, 36_000_000.0), 5, 32), Some(7));
    }

    #[test]
    fn a_scale_down_keeps_at_least_two_fifths_and_waits_out_the_grace_period() {
        let mut a = FlinkAutoscaler::new(FlinkConfig::default(), s(0));
        // 2000/s on 20 workers: the target would be 1, but at most 60 % go at once.
        assert_eq!(feed(&mut a, 2_000.0, 0, 1200, 20), [(1200, 8)]);
        // After a scale-up, no scale-down for an hour.
        let mut a = FlinkAutoscaler::new(FlinkConfig::default(), s(0));
        assert_eq!(feed(&mut a, 70_000.0, 0, 1200, 2), [(1200, 12)]);
        let later = feed(&mut a, 2_000.0, 1260, 1200 + 3540, 12);
        assert!(later.is_empty(), "{later:?}");
        let after = feed(&mut a, 2_000.0, 1200 + 3600, 1200 + 6000, 12);
        assert_eq!(after.first(), Some(&(4800, 5)));
    }

    #[test]
    fn nothing_scales_down_while_a_backlog_of_more_than_five_minutes_is_processed() {
        let mut a = FlinkAutoscaler::new(FlinkConfig::default(), s(0));
        let sample = |t| FlinkSample {
            at: s(t),
            input_rate: 2_000.0,
            true_rate: 10_000.0,
            lag: 2_000.0 * 600.0,
        };
        for t in (0..=3000).step_by(60) {
            assert_eq!(a.evaluate(sample(t), 20, 32), None, "t={t}");
        }
    }
}
