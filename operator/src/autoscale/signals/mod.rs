//! Signal readers: consumer-group lag from Kafka, consumer metrics from Prometheus or the pods.

pub mod consumer;
pub mod kafka;
pub mod prometheus;
pub mod scrape;
pub mod text;

pub use consumer::{ConsumerSignals, PodCounters};
pub use kafka::{GroupLag, GroupLagReader, PartitionLag, partition_lag};
pub use prometheus::PrometheusReader;
pub use scrape::PodScraper;

/// Why a signal could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// Creating the Kafka client failed.
    #[error("creating the Kafka client: {0}")]
    CreateKafkaClient(#[source] rdkafka::error::KafkaError),
    /// Reading the topic's metadata failed.
    #[error("reading metadata of topic {topic}: {source}")]
    FetchMetadata {
        /// Topic.
        topic: String,
        /// Cause.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// The topic does not exist or has no partitions.
    #[error("topic {0} has no partitions")]
    MissingTopic(String),
    /// Reading the group's committed offsets failed.
    #[error("reading committed offsets of group {group}: {source}")]
    FetchCommittedOffsets {
        /// Group.
        group: String,
        /// Cause.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// Reading a partition's watermarks failed.
    #[error("reading watermarks of {topic}/{partition}: {source}")]
    FetchWatermarks {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Cause.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// A Prometheus query failed.
    #[error("querying Prometheus for {query}: {message}")]
    QueryPrometheus {
        /// The PromQL.
        query: String,
        /// What went wrong.
        message: String,
    },
    /// Scraping a pod failed.
    #[error("scraping {url}: {message}")]
    ScrapePod {
        /// The metrics URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}
