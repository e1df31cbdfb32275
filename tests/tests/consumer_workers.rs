//! W changes at run time through the authenticated control endpoint: the worker threads
//! follow, the consumer stays in its group (no rebalance) and keeps writing.

#[path = "consumer_support/mod.rs"]
mod support;

use std::time::Duration;

use spate_tests::{
    TestEnv, create_topic, eventually, unique_name, unique_table, wait_for_questdb_count,
};
use support::{ConsumerProcess, ConsumerSpec, mixed_messages, produce, put_workers};

async fn wait_metric(consumer: &ConsumerProcess, series: &str, value: f64) {
    eventually(
        &format!("{series} = {value}"),
        Duration::from_secs(30),
        || async {
            match consumer.metric(series).await {
                Some(v) if v == value => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_workers_at_run_time_needs_no_rebalance() {
    TestEnv::get();
    let topic = unique_name("workers");
    let table = unique_table("workers");
    create_topic(&topic, 4).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1)
        .await
        .expect("dlq topic");

    let mut spec = ConsumerSpec::new(&topic, &table);
    spec.workers = 1;
    let consumer = ConsumerProcess::start(&spec);
    wait_metric(&consumer, "spate_assigned_partitions", 4.0).await;
    wait_metric(&consumer, "spate_workers_active", 1.0).await;

    let first = mixed_messages(&format!("{topic}-a"), 2_000);
    let mut rows: usize = first.iter().map(|m| m.rows).sum();
    produce(&topic, &first).await;
    // Generous: what this test checks is the worker change below, not start-up time (one
    // run on a loaded machine once took over 60 s to see its first rows).
    wait_for_questdb_count(&table, rows as i64, Duration::from_secs(150))
        .await
        .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));
    let rebalances = consumer
        .metric("spate_rebalances_total")
        .await
        .expect("spate_rebalances_total");

    // Unauthenticated and out-of-range requests change nothing.
    assert_eq!(put_workers(&consumer, "wrong", 3).await.0, 401);
    assert_eq!(put_workers(&consumer, &spec.token, 0).await.0, 422);

    let (status, body) = put_workers(&consumer, &spec.token, 3).await;
    assert_eq!(status, 200, "{body}");
    let state: serde_json::Value = serde_json::from_str(&body).expect("state json");
    assert_eq!(state["workers"], 3);
    wait_metric(&consumer, "spate_workers", 3.0).await;
    wait_metric(&consumer, "spate_workers_active", 3.0).await;

    let second = mixed_messages(&format!("{topic}-b"), 2_000);
    rows += second.iter().map(|m| m.rows).sum::<usize>();
    produce(&topic, &second).await;
    wait_for_questdb_count(&table, rows as i64, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));

    let (status, _) = put_workers(&consumer, &spec.token, 1).await;
    assert_eq!(status, 200);
    wait_metric(&consumer, "spate_workers_active", 1.0).await;
    let third = mixed_messages(&format!("{topic}-c"), 1_000);
    rows += third.iter().map(|m| m.rows).sum::<usize>();
    produce(&topic, &third).await;
    wait_for_questdb_count(&table, rows as i64, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));

    assert_eq!(
        consumer.metric("spate_rebalances_total").await,
        Some(rebalances),
        "no rebalance while W changed"
    );
    assert_eq!(
        consumer.metric("spate_assigned_partitions").await,
        Some(4.0)
    );
}
