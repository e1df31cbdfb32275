//! SIGKILL at random moments, many times, loses nothing and duplicates nothing: offsets
//! are stored only after QuestDB acknowledged the rows, and replays are absorbed by
//! DEDUP. Each kill comes after the consumer made progress, and the test checks where
//! the kills landed: mid-batch (records polled and not stored) and mid-commit (rows
//! acknowledged by QuestDB whose offsets were not committed yet).

#[path = "consumer_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use spate_tests::{
    TestEnv, create_topic, kafka_config, unique_name, unique_table, wait_for_questdb_count,
};
use support::{ConsumerProcess, ConsumerSpec, Jitter, counts, normalized_messages};

const PARTITIONS: i32 = 4;
const KILLS: usize = 8;

/// Offsets the group committed, summed over the partitions (records committed).
fn committed(topic: &str, group: &str) -> i64 {
    let reader: BaseConsumer = kafka_config()
        .set("group.id", group)
        .create()
        .expect("offset reader");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition(topic, p);
    }
    reader
        .committed_offsets(tpl, Duration::from_secs(10))
        .map(|tpl| {
            tpl.elements()
                .iter()
                .filter_map(|e| e.offset().to_raw())
                .filter(|o| *o > 0)
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_consumers_leave_no_row_missing_or_duplicated() {
    TestEnv::get();
    // Built before producing starts, so the kills fall while records still arrive.
    support::consumer_binary();
    let topic = unique_name("crash");
    let table = unique_table("crash");
    create_topic(&topic, PARTITIONS).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1)
        .await
        .expect("dlq topic");

    // One row per message, so rows and offsets compare.
    let messages = normalized_messages(&topic, 40_000);
    let rows = messages.len();
    // About 5 000 a second: the consumer is never idle between kills.
    let producer = support::produce_paced(&topic, &messages, 1_000, Duration::from_millis(150));

    let mut spec = ConsumerSpec::new(&topic, &table);
    // Small batches: many flushes and offset stores to be interrupted.
    spec.extra.push(("BATCH_SIZE".into(), "200".into()));
    spec.extra.push(("SPATE_BATCH_MIN".into(), "50".into()));
    spec.extra.push(("SPATE_BATCH_MAX".into(), "500".into()));
    spec.extra
        .push(("SPATE_COMMIT_INTERVAL_MS".into(), "1000".into()));
    let mut jitter = Jitter::new();
    let (mut mid_batch, mut mid_commit) = (0, 0);
    for kill in 0..KILLS {
        let committed_at_start = committed(&topic, &spec.group);
        let mut consumer = ConsumerProcess::start(&spec);
        // Progress first: the kill must not land before the group join. The time to
        // the first acknowledged flush is the recovery from the previous kill.
        let started = Instant::now();
        while consumer
            .metric("trades_processed_total")
            .await
            .unwrap_or(0.0)
            < 1.0
            && started.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if kill > 0 {
            eprintln!(
                "RECOVERY consumer_sigkill: {:.2} s",
                started.elapsed().as_secs_f64()
            );
        }
        // Then a random moment, and the first instant after it at which records are in
        // flight and a flush was just acknowledged (its offsets stored, the commit due
        // within the commit interval): the kill is aimed mid-batch and mid-commit.
        tokio::time::sleep(Duration::from_millis(jitter.between(100, 1_000))).await;
        let aim = Instant::now();
        let mut last_acked = consumer
            .metric("trades_processed_total")
            .await
            .unwrap_or(0.0);
        let (inflight, acked) = loop {
            let acked = consumer
                .metric("trades_processed_total")
                .await
                .unwrap_or(0.0);
            let inflight = consumer
                .metric("spate_inflight_records")
                .await
                .unwrap_or(0.0);
            if (acked > last_acked && inflight > 0.0) || aim.elapsed() > Duration::from_secs(5) {
                break (inflight, acked as i64);
            }
            last_acked = acked;
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        consumer.kill();
        let committed = committed(&topic, &spec.group);
        // This incarnation read from `committed_at_start`; what it had acknowledged
        // beyond the final commit was stored but not committed when it died.
        let landed_mid_batch = inflight > 0.0;
        let landed_mid_commit = committed_at_start + acked > committed;
        mid_batch += usize::from(landed_mid_batch);
        mid_commit += usize::from(landed_mid_commit);
        eprintln!(
            "kill {kill}: in flight {inflight}, acknowledged {acked} from {committed_at_start}, committed {committed}"
        );
        if producer.is_finished() {
            break;
        }
    }
    producer.await.expect("producer");
    eprintln!("kills mid-batch {mid_batch}, mid-commit {mid_commit} (of at most {KILLS})");
    assert!(mid_batch >= 1, "no kill landed mid-batch");
    assert!(
        mid_commit >= 1,
        "no kill landed between an acknowledgement and its commit"
    );

    let consumer = ConsumerProcess::start(&spec);
    if let Err(e) = wait_for_questdb_count(&table, rows as i64, Duration::from_secs(120)).await {
        panic!("{e}\nconsumer log:\n{}", consumer.log_tail());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(counts(&table).await, (rows as i64, rows as i64));
}
