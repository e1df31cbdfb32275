//! The consumer carries every trade of a topic, in mixed formats, into QuestDB: exactly
//! as many rows as trades, with the values the messages held.

#[path = "consumer_support/mod.rs"]
mod support;

use std::time::Duration;

use spate_tests::{TestEnv, create_topic, unique_name, unique_table, wait_for_questdb_count};
use support::{ConsumerProcess, ConsumerSpec, first_row, mixed_messages, produce};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trade_in_mixed_formats_becomes_exactly_one_row() {
    TestEnv::get();
    let topic = unique_name("ingest");
    let table = unique_table("ingest");
    create_topic(&topic, 4).await.expect("topic");
    create_topic(&format!("{topic}.dlq"), 1)
        .await
        .expect("dlq topic");

    let messages = mixed_messages(&topic, 3000);
    let rows: usize = messages.iter().map(|m| m.rows).sum();
    produce(&topic, &messages).await;

    let consumer = ConsumerProcess::start(&ConsumerSpec::new(&topic, &table));
    if let Err(e) = wait_for_questdb_count(&table, rows as i64, Duration::from_secs(90)).await {
        panic!("{e}\nconsumer log:\n{}", consumer.log_tail());
    }
    // Nothing more arrives later.
    tokio::time::sleep(Duration::from_secs(2)).await;
    wait_for_questdb_count(&table, rows as i64, Duration::from_secs(5))
        .await
        .expect("still exactly the produced rows");

    let distinct = first_row(&format!(
        "select count_distinct(concat(exchange, '/', symbol, '/', trade_id, '/', cast(timestamp as long))) from {table}"
    ))
    .await;
    assert_eq!(
        distinct[0].as_i64(),
        Some(rows as i64),
        "no duplicate identity"
    );

    // A normalized trade and a Coinbase match, field by field.
    let sample = |key: &str| -> serde_json::Value {
        let m = messages
            .iter()
            .skip(100)
            .find(|m| m.key == key)
            .expect("a sample message");
        serde_json::from_slice(&m.payload).expect("sample json")
    };
    let normalized = sample("BTC-USD");
    let row = first_row(&format!(
        "select exchange, symbol, side, price, size, sequence, quality_score from {table} where trade_id = '{}'",
        normalized["trade_id"].as_str().expect("trade id")
    ))
    .await;
    assert_eq!(row[0], "kraken");
    assert_eq!(row[1], "BTC-USD");
    assert_eq!(row[2], normalized["side"]);
    assert_eq!(row[3].as_f64(), normalized["price"].as_f64());
    assert_eq!(row[4].as_f64(), Some(0.5));
    assert_eq!(row[5].as_i64(), normalized["sequence"].as_i64());
    assert_eq!(row[6].as_f64(), normalized["quality_score"].as_f64());
    let matched = sample("ETH-USD");
    let row = first_row(&format!(
        "select symbol, side, price, size from {table} where symbol = 'ETH-USD' and trade_id = '{}'",
        matched["trade_id"]
    ))
    .await;
    assert_eq!(row[0], "ETH-USD");
    // Coinbase gives the maker's side; the row holds the aggressor's.
    assert_eq!(row[1], "buy");
    assert_eq!(row[2].as_f64(), Some(2500.5));
    assert_eq!(row[3].as_f64(), Some(1.25));
    let sol = first_row(&format!(
        "select count(), sum(size) from {table} where symbol = 'SOL-USD'"
    ))
    .await;
    let expected_sol = messages.iter().filter(|m| m.key == "SOL-USD").count() as i64;
    assert_eq!(sol[0].as_i64(), Some(expected_sol * 2));
    assert_eq!(sol[1].as_f64(), Some(expected_sol as f64 * 5.0));

    let processed = consumer.metric("trades_processed_total").await;
    assert_eq!(processed, Some(rows as f64), "trades_processed_total");
}
