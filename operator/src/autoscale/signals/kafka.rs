//! Consumer-group lag read from Kafka: committed offsets against watermarks, per partition.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::SignalError;

/// Records a partition is behind: from the committed offset (or the low watermark when
/// nothing is committed or the commit points below it, as retention deleted those records)
/// to the high watermark, never negative.
pub fn partition_lag(low: i64, high: i64, committed: Option<i64>) -> u64 {
    let from = committed.filter(|c| *c >= 0).unwrap_or(low).max(low);
    (high - from).max(0) as u64
}

/// One partition's offsets and lag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionLag {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Low watermark (oldest record kept).
    pub low: i64,
    /// High watermark (next offset to be written).
    pub high: i64,
    /// The group's committed offset, if any.
    pub committed: Option<i64>,
    /// See [`partition_lag`].
    pub lag: u64,
}

/// A consumer group's lag over its topics at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupLag {
    /// Every partition.
    pub partitions: Vec<PartitionLag>,
}

impl GroupLag {
    /// Records behind, summed.
    pub fn total(&self) -> u64 {
        self.partitions.iter().map(|p| p.lag).sum()
    }

    /// The largest partition lag.
    pub fn max(&self) -> u64 {
        self.partitions.iter().map(|p| p.lag).max().unwrap_or(0)
    }

    /// Sum of high watermarks: its growth over time is the arrival rate.
    pub fn high_watermarks(&self) -> i64 {
        self.partitions.iter().map(|p| p.high).sum()
    }
}

/// Reads a group's committed offsets without joining it (a consumer with the group's id that
/// never subscribes) and the partitions' watermarks. Blocking: call from `spawn_blocking`.
pub struct GroupLagReader {
    consumer: BaseConsumer,
    group: String,
    timeout: Duration,
}

impl GroupLagReader {
    /// A reader for `group` through `brokers`, with extra client properties (security etc.).
    pub fn new(
        brokers: &str,
        group: &str,
        options: &[(String, String)],
        timeout: Duration,
    ) -> Result<Self, SignalError> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false");
        for (k, v) in options {
            cfg.set(k, v);
        }
        let consumer: BaseConsumer = cfg.create().map_err(SignalError::CreateKafkaClient)?;
        Ok(Self {
            consumer,
            group: group.to_string(),
            timeout,
        })
    }

    /// The lag of every partition of `topics`.
    pub fn read(&self, topics: &[String]) -> Result<GroupLag, SignalError> {
        let mut tpl = TopicPartitionList::new();
        for topic in topics {
            let md = self
                .consumer
                .fetch_metadata(Some(topic), self.timeout)
                .map_err(|source| SignalError::FetchMetadata {
                    topic: topic.clone(),
                    source,
                })?;
            let partitions = md
                .topics()
                .iter()
                .find(|t| t.name() == topic && t.error().is_none())
                .map(|t| t.partitions().iter().map(|p| p.id()).collect::<Vec<_>>())
                .unwrap_or_default();
            if partitions.is_empty() {
                return Err(SignalError::MissingTopic(topic.clone()));
            }
            for p in partitions {
                tpl.add_partition(topic, p);
            }
        }
        let committed = self
            .consumer
            .committed_offsets(tpl.clone(), self.timeout)
            .map_err(|source| SignalError::FetchCommittedOffsets {
                group: self.group.clone(),
                source,
            })?;
        let mut out = GroupLag::default();
        for el in tpl.elements() {
            let (topic, partition) = (el.topic().to_string(), el.partition());
            let (low, high) = self
                .consumer
                .fetch_watermarks(&topic, partition, self.timeout)
                .map_err(|source| SignalError::FetchWatermarks {
                    topic: topic.clone(),
                    partition,
                    source,
                })?;
            let committed =
                committed
                    .find_partition(&topic, partition)
                    .and_then(|e| match e.offset() {
                        Offset::Offset(o) => Some(o),
                        _ => None,
                    });
            let lag = partition_lag(low, high, committed);
            tracing::trace!(%topic, partition, low, high, ?committed, lag, "partition lag");
            out.partitions.push(PartitionLag {
                topic,
                partition,
                low,
                high,
                committed,
                lag,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_runs_from_the_committed_offset_to_the_high_watermark() {
        assert_eq!(partition_lag(0, 100, Some(40)), 60);
    }

    #[test]
    fn lag_is_never_negative() {
        assert_eq!(partition_lag(0, 100, Some(150)), 0);
    }

    #[test]
    fn without_a_commit_the_whole_retained_partition_is_behind() {
        assert_eq!(partition_lag(20, 100, None), 80);
        assert_eq!(partition_lag(20, 100, Some(-1001)), 80);
    }

    #[test]
    fn a_commit_below_the_low_watermark_counts_from_the_low_watermark() {
        assert_eq!(partition_lag(50, 100, Some(10)), 50);
    }

    #[test]
    fn totals_sum_the_partitions() {
        let p = |partition, high, lag| PartitionLag {
            topic: "t".into(),
            partition,
            low: 0,
            high,
            committed: None,
            lag,
        };
        let g = GroupLag {
            partitions: vec![p(0, 10, 3), p(1, 20, 7)],
        };
        assert_eq!((g.total(), g.max(), g.high_watermarks()), (10, 7, 30));
    }
}
