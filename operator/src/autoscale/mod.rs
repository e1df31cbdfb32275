//! The autoscaler: signals in, a pure sizing policy, and a simulator that compares it with a KEDA+HPA model.

pub mod controller;
pub mod estimate;
pub mod policy;
pub mod schedule;
pub mod signals;
pub mod sim;
pub mod spec;

pub use policy::{
    Bounds, Decision, Direction, Observations, PolicyConfig, PolicyState, Reason, Targets, decide,
};
