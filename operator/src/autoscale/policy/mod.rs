//! The scaling policy: a pure function of (config, state, observations, now) to a decision.

mod config;
mod decide;
mod decision;
mod grow;
mod load;
mod observations;
mod reserve;
mod round;
mod scheduled;
mod shrink;
mod sizing;
pub mod trend;

#[cfg(test)]
mod tests;

pub use config::{Bounds, PolicyConfig, Targets};
pub use decide::decide;
pub use decision::{Decision, Direction, Reason};
pub use load::Load;
pub use observations::{HeldCapacity, Observations, PolicyState, ScaleUpMark};
pub use sizing::{Layout, effective_workers, layout, snap_to_partitions, surge_reserve};
