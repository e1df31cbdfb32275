//! spate-operator: reconciles IngestionPipeline resources into consumer workloads.

pub mod apply;
pub mod autoscale;
pub mod build;
pub mod conditions;
pub mod context;
pub mod controller;
pub mod crd;
pub mod error;
pub mod http;
pub mod inspect;
pub mod issuer;
pub mod lease;
pub mod metrics;
pub mod notable;
pub mod observe;
pub mod reconcile;
pub mod run;
pub mod validate;
