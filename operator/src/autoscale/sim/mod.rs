//! The simulator: a deterministic discrete-time model to compare the policy with KEDA+HPA.
//!
//! A topic of P partitions receives a trace of arrivals; a consumer group of pods × workers
//! drains it into a QuestDB whose latency rises near saturation. spate's real [`decide`]
//! (fed through the operator's own scrape rates and tracker, from the world's lag and pods'
//! metrics) and models of KEDA's Kafka scaler + the HPA and of the Flink autoscaler each
//! drive their own copy of the world; the runs are summarised, tabled and plotted.
//!
//! [`decide`]: crate::autoscale::policy::decide

pub mod control;
pub mod flink;
pub mod frontier;
pub mod keda;
pub mod market;
pub mod pareto;
pub mod report;
pub mod rng;
pub mod run;
pub mod scatter;
pub mod scenario;
pub mod svg;
pub mod sweep;
pub mod trace;
pub mod world;

#[cfg(test)]
mod crash_tests;
#[cfg(test)]
mod tests;

pub use report::table;
pub use run::Summary;
pub use scenario::{
    Comparison, MARKET_DATA_SURGE_FACTOR, Scenario, TUNED_LAG_THRESHOLD_SECONDS,
    tuned_lag_threshold,
};
pub use sweep::{Spread, Sweep, parity_targets, step_targets};
pub use trace::{BUILT_IN, Trace, built_in};
