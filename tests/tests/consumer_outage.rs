//! QuestDB stopped mid-run and started again: the consumer pauses its partitions, keeps
//! its memory bounded while the outage lasts, and writes every row once QuestDB is back.

#[path = "consumer_support/mod.rs"]
mod support;

use std::time::Duration;

use spate_tests::{TestEnv, create_topic, eventually, unique_name, unique_table};
use support::{
    ConsumerProcess, ConsumerSpec, DedicatedQuestdb, mixed_messages, produce, rss_kib,
    wait_dedicated_rows,
};

const HIGH_WATERMARK: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_questdb_outage_pauses_partitions_and_loses_nothing() {
    TestEnv::get();
    let topic = unique_name("outage");
    let table = unique_table("outage");
    create_topic(&topic, 3).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1)
        .await
        .expect("dlq topic");

    let mut questdb = DedicatedQuestdb::new(&topic);
    questdb.start().await;
    let mut spec = ConsumerSpec::new(&topic, &table);
    spec.questdb_http = questdb.http_url();
    spec.extra.extend([
        ("SPATE_HIGH_WATERMARK".into(), HIGH_WATERMARK.to_string()),
        ("SPATE_LOW_WATERMARK".into(), "500".into()),
        ("SPATE_QUEUE_CAPACITY".into(), "1000".into()),
    ]);
    let consumer = ConsumerProcess::start(&spec);
    let before = mixed_messages(&format!("{topic}-a"), 3_000);
    let mut rows: usize = before.iter().map(|m| m.rows).sum();
    produce(&topic, &before).await;
    wait_dedicated_rows(&questdb, &table, rows, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));

    // Outage: far more records arrive than the high watermark.
    questdb.stop();
    let during = mixed_messages(&format!("{topic}-b"), 30_000);
    rows += during.iter().map(|m| m.rows).sum::<usize>();
    produce(&topic, &during).await;
    eventually("backpressure active", Duration::from_secs(60), || async {
        match consumer.metric("spate_backpressure_active").await {
            Some(1.0) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));
    let mut max_inflight = 0.0f64;
    let mut max_rss = 0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        max_inflight = max_inflight.max(
            consumer
                .metric("spate_inflight_records")
                .await
                .unwrap_or(0.0),
        );
        max_rss = max_rss.max(rss_kib(consumer.child.id()).unwrap_or(0));
    }
    assert!(
        consumer
            .metric("spate_paused_partitions")
            .await
            .unwrap_or(0.0)
            >= 1.0,
        "partitions paused during the outage"
    );
    // Bounded: the watermark plus at most one poll round, far below what was produced.
    assert!(
        max_inflight <= (HIGH_WATERMARK + 10_000) as f64,
        "in-flight records {max_inflight} during the outage"
    );
    assert!(
        max_rss < 512 * 1024,
        "resident memory {max_rss} KiB during the outage"
    );
    assert!(
        consumer
            .metric("spate_errors_total{kind=\"flush_retryable\"}")
            .await
            .unwrap_or(0.0)
            + consumer
                .metric("spate_errors_total{kind=\"sender_create\"}")
                .await
                .unwrap_or(0.0)
            >= 1.0,
        "flush failures were counted"
    );

    questdb.start().await;
    wait_dedicated_rows(&questdb, &table, rows, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));
    eventually("backpressure released", Duration::from_secs(30), || async {
        match consumer.metric("spate_backpressure_active").await {
            Some(0.0) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
    .expect("backpressure released");
}
