//! One test per knob of the KEDA + HPA model, each checking the behaviour its documentation describes.

use std::time::Duration;

use super::*;

fn s(x: u64) -> Duration {
    Duration::from_secs(x)
}

/// The HPA's own bounds start at one replica: KEDA's minReplicaCount 0 is KEDA's business.
fn hpa(cfg: KedaConfig) -> Hpa {
    Hpa::new(cfg, s(0))
}

#[test]
fn the_metric_is_the_total_lag_with_negative_lags_clamped() {
    let cfg = KedaConfig::default();
    assert_eq!(kafka_scaler_metric(&cfg, &[5, -3, 4]), 9);
}

#[test]
fn the_metric_is_capped_at_partitions_times_the_threshold_unless_idle_consumers_are_allowed() {
    let cfg = KedaConfig::default();
    assert_eq!(kafka_scaler_metric(&cfg, &[1000, 1000, 1000]), 30);
    let idle = KedaConfig {
        allow_idle_consumers: true,
        ..cfg
    };
    assert_eq!(kafka_scaler_metric(&idle, &[1000, 1000, 1000]), 3000);
}

#[test]
fn limit_to_partitions_with_lag_caps_the_metric_at_the_partitions_that_have_lag() {
    let cfg = KedaConfig {
        limit_to_partitions_with_lag: true,
        ..KedaConfig::default()
    };
    // Two of four partitions behind: at most two replicas' worth of lag.
    assert_eq!(kafka_scaler_metric(&cfg, &[1000, 0, 1000, -1]), 20);
    assert_eq!(kafka_scaler_metric(&cfg, &[5, 0, 0, 0]), 5);
}

#[test]
fn the_scaler_is_active_only_above_the_activation_lag_threshold() {
    let cfg = KedaConfig {
        activation_lag_threshold: 50,
        ..KedaConfig::default()
    };
    assert!(!kafka_scaler_active(&cfg, &[20, 30]));
    assert!(kafka_scaler_active(&cfg, &[20, 31]));
    // The default, 0: any lag activates.
    assert!(kafka_scaler_active(&KedaConfig::default(), &[1]));
    assert!(!kafka_scaler_active(&KedaConfig::default(), &[0, -2]));
}

#[test]
fn keda_wakes_a_target_at_zero_on_its_polling_interval_when_the_scaler_is_active() {
    let cfg = KedaConfig::default();
    let mut a = Activation::new(s(10));
    assert!(!a.due(s(9)));
    assert_eq!(a.poll(&cfg, s(10), true, 0), Some(1));
    // The next poll is a pollingInterval later.
    assert!(!a.due(s(39)));
    assert!(a.due(s(40)));
    assert_eq!(a.poll(&cfg, s(40), true, 3), None);
    let at_least_two = KedaConfig {
        min_replicas: 2,
        ..cfg
    };
    assert_eq!(
        Activation::new(s(0)).poll(&at_least_two, s(0), true, 0),
        Some(2)
    );
}

#[test]
fn keda_scales_to_zero_only_after_the_cooldown_period_and_only_with_min_replica_count_zero() {
    let cfg = KedaConfig::default();
    let mut a = Activation::new(s(0));
    assert_eq!(a.poll(&cfg, s(0), true, 2), None);
    assert_eq!(a.poll(&cfg, s(30), false, 2), None);
    assert_eq!(a.poll(&cfg, s(299), false, 2), None);
    assert_eq!(a.poll(&cfg, s(300), false, 2), Some(0));
    let floor = KedaConfig {
        min_replicas: 1,
        ..cfg
    };
    let mut a = Activation::new(s(0));
    a.poll(&floor, s(0), true, 2);
    assert_eq!(a.poll(&floor, s(3600), false, 2), None);
}

#[test]
fn changes_within_the_tolerance_are_ignored() {
    let mut hpa = hpa(KedaConfig::default());
    assert_eq!(hpa.sync(s(0), 105, 10), 10);
    assert_eq!(hpa.sync(s(15), 125, 10), 13);
}

#[test]
fn a_scale_up_is_limited_to_doubling_or_four_pods_per_period() {
    let mut hpa = hpa(KedaConfig::default());
    assert_eq!(hpa.sync(s(0), 10_000, 1), 5);
    assert_eq!(hpa.sync(s(15), 10_000, 5), 10);
    assert_eq!(hpa.sync(s(30), 10_000, 10), 20);
}

#[test]
fn select_policy_min_takes_the_smaller_change_and_disabled_none() {
    let with = |select| KedaConfig {
        behavior: HpaBehavior {
            scale_up: HpaRules {
                select,
                ..HpaBehavior::default().scale_up
            },
            ..HpaBehavior::default()
        },
        ..KedaConfig::default()
    };
    // From 10: +100 % allows 20, +4 pods 14.
    assert_eq!(hpa(with(SelectPolicy::Max)).sync(s(0), 10_000, 10), 20);
    assert_eq!(hpa(with(SelectPolicy::Min)).sync(s(0), 10_000, 10), 14);
    assert_eq!(hpa(with(SelectPolicy::Disabled)).sync(s(0), 10_000, 10), 10);
}

#[test]
fn a_scale_up_stabilization_window_scales_up_only_to_the_lowest_recommendation_in_it() {
    let cfg = KedaConfig {
        behavior: HpaBehavior {
            scale_up: HpaRules {
                stabilization_window: s(60),
                ..HpaBehavior::default().scale_up
            },
            ..HpaBehavior::default()
        },
        ..KedaConfig::default()
    };
    let mut hpa = hpa(cfg);
    assert_eq!(hpa.sync(s(0), 20, 2), 2);
    // 80 now, but 20 (2 replicas) within the last minute: stay.
    assert_eq!(hpa.sync(s(15), 80, 2), 2);
    // A minute on, 8 wanted throughout the window: up, as far as the policies allow (+4 pods).
    assert_eq!(hpa.sync(s(61), 80, 2), 6);
}

#[test]
fn a_scale_down_keeps_the_highest_recommendation_of_the_last_five_minutes() {
    let mut hpa = hpa(KedaConfig::default());
    assert_eq!(hpa.sync(s(0), 200, 20), 20);
    assert_eq!(hpa.sync(s(15), 10, 20), 20);
    assert_eq!(hpa.sync(s(299), 10, 20), 20);
    assert_eq!(hpa.sync(s(301), 10, 20), 1);
}

#[test]
fn a_scale_down_policy_limits_the_pods_removed_per_period() {
    // One pod a minute, no stabilization.
    let cfg = KedaConfig {
        behavior: HpaBehavior {
            scale_down: HpaRules {
                stabilization_window: Duration::ZERO,
                select: SelectPolicy::Max,
                policies: vec![HpaPolicy {
                    kind: PolicyKind::Pods,
                    value: 1,
                    period: s(60),
                }],
            },
            ..HpaBehavior::default()
        },
        ..KedaConfig::default()
    };
    let mut hpa = hpa(cfg);
    assert_eq!(hpa.sync(s(0), 10, 5), 4);
    // The period started at 5 pods, one already removed.
    assert_eq!(hpa.sync(s(15), 10, 4), 4);
    assert_eq!(hpa.sync(s(61), 10, 4), 3);
}

#[test]
fn a_periods_start_counts_the_pods_removed_in_it_too() {
    // Down from 10 to 5 at 0 s (no stabilization), then up: +100 % of the period's start (10)
    // allows 20, not 10.
    let cfg = KedaConfig {
        behavior: HpaBehavior {
            scale_down: HpaRules {
                stabilization_window: Duration::ZERO,
                ..HpaBehavior::default().scale_down
            },
            ..HpaBehavior::default()
        },
        ..KedaConfig::default()
    };
    let mut hpa = hpa(cfg);
    assert_eq!(hpa.sync(s(0), 50, 10), 5);
    assert_eq!(hpa.sync(s(10), 10_000, 5), 20);
}

#[test]
fn the_replicas_stay_within_min_and_max() {
    let cfg = KedaConfig {
        min_replicas: 2,
        max_replicas: 6,
        ..KedaConfig::default()
    };
    assert_eq!(hpa(cfg).sync(s(0), 1000, 4), 6);
    let floor = KedaConfig {
        min_replicas: 2,
        ..KedaConfig::default()
    };
    assert_eq!(hpa(floor).sync(s(0), 0, 2), 2);
    // minReplicaCount 0: the HPA itself keeps one replica; zero is KEDA's activation.
    assert_eq!(hpa(KedaConfig::default()).sync(s(0), 0, 3), 1);
}

#[test]
fn syncs_come_every_period() {
    let mut hpa = Hpa::new(KedaConfig::default(), s(7));
    assert!(!hpa.due(s(6)));
    assert!(hpa.due(s(7)));
    hpa.sync(s(7), 0, 1);
    assert!(!hpa.due(s(21)));
    assert!(hpa.due(s(22)));
}
