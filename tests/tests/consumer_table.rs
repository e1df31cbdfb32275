//! The start-up table check against the real QuestDB: a table that would merge distinct
//! trades, refuse every row or duplicate replays is refused, by name of the mismatch;
//! names compare without case; extra columns and keys need the explicit opt-in.

#[path = "consumer_support/mod.rs"]
mod support;

use std::time::Duration;

use spate_consumer::runtime::ddl::{DdlError, ensure_table};
use spate_consumer::security::QuestdbAuth;
use spate_tests::{TestEnv, questdb_query, unique_name, unique_table};
use support::{ConsumerProcess, ConsumerSpec};

const COLUMNS: &str = "exchange SYMBOL, symbol SYMBOL, side SYMBOL, trade_id VARCHAR, \
                       price DOUBLE, size DOUBLE, sequence LONG, quality_score DOUBLE, \
                       timestamp TIMESTAMP";

async fn create(table: &str, columns: &str, tail: &str) {
    questdb_query(&format!(
        "CREATE TABLE {table} ({columns}) TIMESTAMP(timestamp) PARTITION BY DAY {tail}"
    ))
    .await
    .expect("create table");
}

async fn check(table: &str, allow_extra: bool) -> Result<(), DdlError> {
    ensure_table(
        &TestEnv::get().questdb_http,
        &QuestdbAuth::default(),
        table,
        allow_extra,
    )
    .await
}

fn refusal(result: Result<(), DdlError>) -> String {
    match result {
        Err(DdlError::CheckTable { problems, .. }) => problems,
        other => panic!("expected the table to be refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_table_spate_creates_passes_and_is_found_whatever_the_case() {
    let table = unique_table("table_ok");
    check(&table, false).await.expect("created and checked");
    check(&table.to_uppercase(), false)
        .await
        .expect("the same table in upper case");
}

#[tokio::test]
async fn a_table_deduplicated_on_the_timestamp_alone_is_refused() {
    let table = unique_table("table_dedup_ts");
    create(&table, COLUMNS, "WAL DEDUP UPSERT KEYS(timestamp)").await;
    let problems = refusal(check(&table, true).await);
    for key in ["exchange", "symbol", "trade_id"] {
        assert!(
            problems.contains(&format!("`{key}` is not an upsert key")),
            "{problems}"
        );
    }
}

#[tokio::test]
async fn a_price_column_of_another_type_is_refused() {
    let table = unique_table("table_int_price");
    create(
        &table,
        &COLUMNS.replace("price DOUBLE", "price INT"),
        "WAL DEDUP UPSERT KEYS(timestamp, exchange, symbol, trade_id)",
    )
    .await;
    let problems = refusal(check(&table, true).await);
    assert!(
        problems.contains("column `price` is INT, expected DOUBLE"),
        "{problems}"
    );
}

#[tokio::test]
async fn a_table_without_wal_or_dedup_is_refused() {
    let table = unique_table("table_bypass");
    create(&table, COLUMNS, "BYPASS WAL").await;
    let problems = refusal(check(&table, false).await);
    assert!(problems.contains("not a WAL table"), "{problems}");
    assert!(problems.contains("no DEDUP UPSERT KEYS"), "{problems}");
}

#[tokio::test]
async fn extra_columns_and_keys_pass_only_with_the_opt_in() {
    let table = unique_table("table_extra");
    create(
        &table,
        &format!("{COLUMNS}, venue SYMBOL"),
        "WAL DEDUP UPSERT KEYS(timestamp, exchange, symbol, trade_id, venue)",
    )
    .await;
    let problems = refusal(check(&table, false).await);
    assert!(
        problems.contains("column `venue` is not one spate writes"),
        "{problems}"
    );
    assert!(
        problems.contains("`venue` is an upsert key spate does not expect"),
        "{problems}"
    );
    check(&table, true).await.expect("accepted with the opt-in");
}

#[tokio::test]
async fn the_consumer_refuses_to_start_on_a_table_that_does_not_fit() {
    let table = unique_table("table_refused");
    create(&table, COLUMNS, "WAL DEDUP UPSERT KEYS(timestamp, symbol)").await;
    let mut consumer = ConsumerProcess::start(&ConsumerSpec::new(&unique_name("table"), &table));
    let mut status = None;
    for _ in 0..600 {
        if let Some(s) = consumer.child.try_wait().expect("wait") {
            status = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.unwrap_or_else(|| panic!("still running:\n{}", consumer.log_tail()));
    assert_eq!(status.code(), Some(1), "{}", consumer.log_tail());
    let log = consumer.log_tail();
    assert!(log.contains("does not fit spate's rows"), "{log}");
    assert!(log.contains("`exchange` is not an upsert key"), "{log}");
}
