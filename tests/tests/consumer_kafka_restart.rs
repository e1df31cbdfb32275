//! The Kafka broker stopped and started again during a drain: the consumer rides it out
//! (librdkafka reconnects, the group re-forms) and every trade lands once, including
//! trades produced after the restart. The time from the broker being back to the first
//! new rows is printed (`RECOVERY kafka_restart`), never asserted. This suite restarts
//! the environment's own broker, so it lives alone in its test binary (cargo runs test
//! binaries one at a time).

#[path = "consumer_support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use spate_tests::{
    TestEnv, create_topic, questdb_count, unique_name, unique_table, wait_for_questdb_count,
};
use support::{
    ConsumerProcess, ConsumerSpec, counts, normalized_messages, produce, time_to_progress,
};

fn kafka(action: &str) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("env/components/kafka.sh");
    let ok = Command::new(&script)
        .arg(action)
        .status()
        .expect("run kafka.sh")
        .success();
    assert!(ok, "kafka.sh {action}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_during_a_drain_loses_and_duplicates_nothing() {
    TestEnv::get();
    let topic = unique_name("kafkarestart");
    let table = unique_table("kafkarestart");
    create_topic(&topic, 4).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1).await.expect("dlq");
    let messages = normalized_messages(&topic, 80_000);
    let rows = messages.len();
    produce(&topic, &messages).await;
    let consumer = ConsumerProcess::start(&ConsumerSpec::new(&topic, &table));
    time_to_progress(None, &table, 1_000, Duration::from_secs(90))
        .await
        .unwrap_or_else(|| panic!("no rows before the restart\n{}", consumer.log_tail()));

    kafka("stop");
    let at_stop = questdb_count(&table).await.unwrap_or(0);
    eprintln!("broker stopped with {at_stop} of {rows} rows written");
    tokio::time::sleep(Duration::from_secs(2)).await;
    kafka("start");
    // The backlog fetched before the stop may all be written while the broker starts
    // (its start takes a while: TLS listeners, SCRAM users); trades produced now can
    // only arrive through the restarted broker.
    let after = normalized_messages(&format!("{topic}-after"), 10_000);
    produce(&topic, &after).await;
    let rows = rows + after.len();
    let before = questdb_count(&table).await.unwrap_or(0);
    // A partition left unable to fetch is sought back to its position after 30 s
    // (`fetch_stall`); the count says whether that happened.
    let Some(recovery) = time_to_progress(None, &table, before, Duration::from_secs(120)).await
    else {
        let stalls = consumer
            .metric("spate_errors_total{kind=\"fetch_stall\"}")
            .await;
        panic!(
            "no progress after the restart (fetch stalls handled: {stalls:?})\n{}",
            consumer.log_tail()
        );
    };
    eprintln!(
        "RECOVERY kafka_restart: {:.2} s from the broker's start and the new trades",
        recovery.as_secs_f64()
    );
    wait_for_questdb_count(&table, rows as i64, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", consumer.log_tail()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(counts(&table).await, (rows as i64, rows as i64));
}
