//! A table that stops fitting the rows mid-run (the side column becomes INT) is a
//! schema problem, not poison: the consumer holds its partitions, goes unready with the
//! reason, counts it, dead-letters and commits nothing, and writes every row once the
//! table is fixed.

#[path = "consumer_support/mod.rs"]
mod support;

use std::time::Duration;

use spate_tests::{TestEnv, create_topic, eventually, unique_name, unique_table};
use support::{
    ConsumerProcess, ConsumerSpec, DedicatedQuestdb, http_get, normalized_messages, produce,
    topic_records, wait_dedicated_rows,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_whole_for_one_reason_holds_until_the_table_is_fixed() {
    TestEnv::get();
    let topic = unique_name("hold");
    let table = unique_table("hold");
    let dlq = format!("{topic}.dlq");
    create_topic(&topic, 2).await.expect("topic");
    create_topic(&dlq, 1).await.expect("dlq topic");
    // A QuestDB of its own, restarted once the table is made wrong: QuestDB 9.3 keeps
    // writing through the table writers of kept-alive ILP connections after the table
    // changed (nulling or truncating values), and refuses only on a new connection.
    let mut questdb = DedicatedQuestdb::new(&topic);
    questdb.start().await;
    let mut spec = ConsumerSpec::new(&topic, &table);
    spec.questdb_http = questdb.http_url();
    spec.extra
        .push(("SPATE_HOLD_RETRY_SECS".into(), "1".into()));
    spec.extra
        .push(("SPATE_INPUT_FORMAT".into(), "normalized".into()));
    let consumer = ConsumerProcess::start(&spec);
    let normalized = |prefix: &str| normalized_messages(prefix, 400);
    let before = normalized(&format!("{topic}-a"));
    produce(&topic, &before).await;
    let rows = before.len();
    wait_dedicated_rows(&questdb, &table, rows, Duration::from_secs(90))
        .await
        .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));

    // The table is made again with an INT side: QuestDB refuses every row ("cast error
    // from protocol type: TAG to column type: INT").
    set_side_type(&questdb, &table, "INT").await;
    questdb.stop();
    questdb.start().await;
    let during = normalized(&format!("{topic}-b"));
    produce(&topic, &during).await;

    let unready = eventually(
        "unready with the reason",
        Duration::from_secs(60),
        || async {
            match http_get(&consumer, "/readyz").await {
                Some((503, body)) if body.contains("schema") && body.contains("side") => Ok(body),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));
    assert!(unready.contains("cast error"), "{unready}");
    assert!(
        consumer
            .metric("spate_holds_total{kind=\"schema\"}")
            .await
            .unwrap_or(0.0)
            >= 1.0
    );
    // Holding: retries go on, nothing is dead-lettered and no row is written.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(topic_records(&dlq), 0, "nothing dead-lettered");
    assert_eq!(
        questdb
            .scalar(&format!("select count() from {table}"))
            .await,
        Some(rows as i64)
    );
    assert!(
        consumer
            .metric("spate_holding_workers")
            .await
            .unwrap_or(0.0)
            >= 1.0
    );

    // Fixed: every held row arrives, once.
    set_side_type(&questdb, &table, "SYMBOL").await;
    let all = rows + during.len();
    wait_dedicated_rows(&questdb, &table, all, Duration::from_secs(90))
        .await
        .unwrap_or_else(|e| panic!("{e}\nconsumer log:\n{}", consumer.log_tail()));
    let distinct = questdb
        .scalar(&format!("select count_distinct(trade_id) from {table}"))
        .await;
    assert_eq!(distinct, Some(all as i64));
    eventually("ready again", Duration::from_secs(30), || async {
        match http_get(&consumer, "/readyz").await {
            Some((200, _)) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
    .expect("ready again");
    assert_eq!(consumer.metric("spate_holding_workers").await, Some(0.0));
    assert_eq!(topic_records(&dlq), 0, "still nothing dead-lettered");
}

/// Changes the type of `side` and waits until QuestDB reports it.
async fn set_side_type(questdb: &DedicatedQuestdb, table: &str, kind: &str) {
    questdb
        .exec(&format!(
            "ALTER TABLE {table} ALTER COLUMN side TYPE {kind}"
        ))
        .await;
    let sql =
        format!("select type = '{kind}' from table_columns('{table}') where \"column\" = 'side'");
    eventually(
        &format!("side is {kind}"),
        Duration::from_secs(30),
        || async {
            match questdb.boolean(&sql).await {
                Some(true) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
    .expect("side type applied");
}
