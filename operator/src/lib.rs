//! spate-operator: reconciles IngestionPipeline resources into consumer workloads.

pub mod autoscale;
pub mod build;
pub mod context;
pub mod crd;
pub mod error;
pub mod http;
pub mod inspect;
pub mod issuer;
pub mod lease;
pub mod metrics;
pub mod reconcile;
pub mod run;
pub mod validate;
