//! The autoscaler: signals in, a pure sizing policy, a KEDA+HPA baseline and a simulator to compare them.

pub mod controller;
pub mod estimate;
pub mod keda;
pub mod policy;
pub mod signals;
pub mod sim;
pub mod spec;

pub use policy::{
    Bounds, Decision, Direction, Observations, PolicyConfig, PolicyState, Reason, Targets, decide,
};
