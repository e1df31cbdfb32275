//! A rebalance storm while the workers change live: members join and leave the group
//! every few seconds (half of them SIGKILLed, half stopped with SIGTERM) while the one
//! member that stays has its worker count changed through the control API, and trades
//! keep arriving. Every trade lands once.

#[path = "consumer_support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use spate_tests::{TestEnv, create_topic, unique_name, unique_table, wait_for_questdb_count};
use support::{
    ConsumerProcess, ConsumerSpec, Jitter, counts, normalized_messages, put_workers,
    time_to_progress,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_joining_and_leaving_while_workers_change_lose_and_duplicate_nothing() {
    TestEnv::get();
    support::consumer_binary();
    let topic = unique_name("storm");
    let table = unique_table("storm");
    create_topic(&topic, 8).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1).await.expect("dlq");
    let messages = normalized_messages(&topic, 30_000);
    let rows = messages.len();
    let producer = support::produce_paced(&topic, &messages, 1_000, Duration::from_millis(200));
    let spec = ConsumerSpec::new(&topic, &table);
    let stable = ConsumerProcess::start(&spec);
    time_to_progress(None, &table, 0, Duration::from_secs(60))
        .await
        .unwrap_or_else(|| panic!("no rows\n{}", stable.log_tail()));

    let mut jitter = Jitter::new();
    let started = Instant::now();
    let mut changes = 0;
    let mut members = 0;
    while !producer.is_finished() && started.elapsed() < Duration::from_secs(90) {
        let mut guest = ConsumerProcess::start(&spec);
        members += 1;
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(jitter.between(500, 1_200))).await;
            let w = jitter.between(1, 5) as usize;
            let (status, body) = put_workers(&stable, &spec.token, w).await;
            assert_eq!(status, 200, "{body}");
            changes += 1;
        }
        if members % 2 == 0 {
            guest.kill();
        } else {
            guest.terminate(Duration::from_secs(15));
        }
    }
    producer.await.expect("producer");
    eprintln!("{members} members joined and left, {changes} worker changes");
    assert!(members >= 3, "the storm had {members} members");
    wait_for_questdb_count(&table, rows as i64, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", stable.log_tail()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(counts(&table).await, (rows as i64, rows as i64));
    let rebalances = stable.metric("spate_rebalances_total").await.unwrap_or(0.0);
    eprintln!("rebalances seen by the member that stayed: {rebalances}");
    assert!(rebalances >= 4.0, "{rebalances} rebalances");
}
