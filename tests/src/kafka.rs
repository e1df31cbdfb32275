//! Kafka helpers: client configuration for the local broker and topic creation.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use crate::{Error, TestEnv, eventually};

/// A client configuration with the local broker as bootstrap server; add the producer or
/// consumer settings a test needs.
pub fn kafka_config() -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &TestEnv::get().kafka_brokers);
    config
}

/// Creates `topic` with `partitions` partitions (one replica) and waits until every
/// partition has a leader, so producers and consumers can use it at once.
pub async fn create_topic(topic: &str, partitions: i32) -> Result<(), Error> {
    let failed = |reason: String| Error::CreateTopic {
        topic: topic.to_owned(),
        reason,
    };
    let admin: AdminClient<DefaultClientContext> =
        kafka_config().create().map_err(|e| failed(e.to_string()))?;
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .map_err(|e| failed(e.to_string()))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(failed(code.to_string())),
        }
    }
    let want = usize::try_from(partitions).unwrap_or_default();
    eventually(
        &format!("leaders of topic {topic}"),
        Duration::from_secs(30),
        || async {
            let metadata = admin
                .inner()
                .fetch_metadata(Some(topic), Duration::from_secs(5))
                .map_err(|e| e.to_string())?;
            let led = metadata
                .topics()
                .iter()
                .filter(|t| t.name() == topic && t.error().is_none())
                .flat_map(|t| t.partitions())
                .filter(|p| p.error().is_none() && p.leader() >= 0)
                .count();
            if led == want {
                Ok(())
            } else {
                Err(format!("{led} of {want} partitions have a leader"))
            }
        },
    )
    .await
}
