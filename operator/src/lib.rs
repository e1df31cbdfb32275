//! spate-operator: reconciles IngestionPipeline resources into consumer workloads.

pub mod autoscale;
