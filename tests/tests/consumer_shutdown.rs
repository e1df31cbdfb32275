//! SIGTERM drains, commits synchronously and leaves the group: with periodic commits
//! effectively off, the offsets committed at shutdown cover every record written.

#[path = "consumer_support/mod.rs"]
mod support;

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use spate_tests::{
    TestEnv, create_topic, kafka_config, unique_name, unique_table, wait_for_questdb_count,
};
use support::{ConsumerProcess, ConsumerSpec, mixed_messages, produce};

const PARTITIONS: i32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_commits_every_written_offset_and_exits() {
    TestEnv::get();
    let topic = unique_name("shutdown");
    let table = unique_table("shutdown");
    create_topic(&topic, PARTITIONS).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1)
        .await
        .expect("dlq topic");

    let messages = mixed_messages(&topic, 3_000);
    let rows: usize = messages.iter().map(|m| m.rows).sum();
    produce(&topic, &messages).await;

    let mut spec = ConsumerSpec::new(&topic, &table);
    // Only the shutdown commit can commit anything.
    spec.extra
        .push(("SPATE_COMMIT_INTERVAL_MS".into(), "3600000".into()));
    let mut consumer = ConsumerProcess::start(&spec);
    wait_for_questdb_count(&table, rows as i64, Duration::from_secs(90))
        .await
        .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));

    assert!(
        consumer.terminate(Duration::from_secs(30)),
        "exited on SIGTERM\n{}",
        consumer.log_tail()
    );
    let status = consumer.child.wait().expect("exit status");
    assert!(
        status.success(),
        "exit status {status}\n{}",
        consumer.log_tail()
    );

    let group = spec.group.clone();
    let topic2 = topic.clone();
    let (committed, ends) = tokio::task::spawn_blocking(move || {
        let reader: BaseConsumer = kafka_config()
            .set("group.id", &group)
            .create()
            .expect("group reader");
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            tpl.add_partition(&topic2, p);
        }
        let committed = reader
            .committed_offsets(tpl, Duration::from_secs(10))
            .expect("committed offsets");
        let ends: Vec<i64> = (0..PARTITIONS)
            .map(|p| {
                reader
                    .fetch_watermarks(&topic2, p, Duration::from_secs(10))
                    .expect("watermarks")
                    .1
            })
            .collect();
        let committed: Vec<Offset> = (0..PARTITIONS)
            .map(|p| {
                committed
                    .find_partition(&topic2, p)
                    .map(|e| e.offset())
                    .unwrap_or(Offset::Invalid)
            })
            .collect();
        (committed, ends)
    })
    .await
    .expect("reader");
    // An empty partition has nothing to commit.
    let committed: Vec<Option<i64>> = committed
        .iter()
        .zip(&ends)
        .map(|(o, &end)| if end == 0 { Some(0) } else { o.to_raw() })
        .collect();
    let ends: Vec<Option<i64>> = ends.into_iter().map(Some).collect();
    assert!(ends.iter().any(|e| *e > Some(0)));
    assert_eq!(committed, ends, "committed offsets = end offsets");
}
