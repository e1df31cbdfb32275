//! SIGKILL at random moments loses nothing and duplicates nothing: offsets are stored
//! only after QuestDB acknowledged the rows, and replays are absorbed by DEDUP.

#[path = "consumer_support/mod.rs"]
mod support;

use std::time::Duration;

use spate_tests::{TestEnv, create_topic, unique_name, unique_table, wait_for_questdb_count};
use support::{ConsumerProcess, ConsumerSpec, Jitter, first_row, mixed_messages, produce};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_consumers_leave_no_row_missing_or_duplicated() {
    TestEnv::get();
    // Built before producing starts, so the kills fall while records still arrive.
    support::consumer_binary();
    let topic = unique_name("crash");
    let table = unique_table("crash");
    create_topic(&topic, 4).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1)
        .await
        .expect("dlq topic");

    let messages = mixed_messages(&topic, 30_000);
    let rows: usize = messages.iter().map(|m| m.rows).sum();
    // Produced while the consumer is being killed, in slices.
    let producer = {
        let (topic, messages) = (topic.clone(), messages.clone());
        tokio::spawn(async move {
            for slice in messages.chunks(1_500) {
                produce(&topic, slice).await;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        })
    };

    let mut spec = ConsumerSpec::new(&topic, &table);
    // Small batches: many flushes and offset stores to be interrupted.
    spec.extra.push(("BATCH_SIZE".into(), "200".into()));
    spec.extra.push(("SPATE_BATCH_MIN".into(), "50".into()));
    spec.extra.push(("SPATE_BATCH_MAX".into(), "500".into()));
    let mut jitter = Jitter::new();
    for _ in 0..4 {
        let mut consumer = ConsumerProcess::start(&spec);
        tokio::time::sleep(Duration::from_millis(jitter.between(800, 3_000))).await;
        consumer.kill();
    }
    producer.await.expect("producer");

    let consumer = ConsumerProcess::start(&spec);
    if let Err(e) = wait_for_questdb_count(&table, rows as i64, Duration::from_secs(120)).await {
        panic!("{e}\nconsumer log:\n{}", consumer.log_tail());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let counts = first_row(&format!(
        "select count(), count_distinct(concat(symbol, '/', trade_id)) from {table}"
    ))
    .await;
    assert_eq!(counts[0].as_i64(), Some(rows as i64), "rows");
    assert_eq!(counts[1].as_i64(), Some(rows as i64), "distinct trades");
}
