//! Smoke test: rows written to the local QuestDB over ILP/HTTP are counted by a query
//! through its HTTP `/exec` endpoint.

use std::time::Duration;

use questdb::ingress::{Sender, TimestampNanos};
use spate_tests::{questdb_ilp_http_conf, questdb_query, unique_table, wait_for_questdb_count};

const ROWS: i64 = 5;

#[tokio::test]
async fn rows_written_over_ilp_http_are_counted_over_http() {
    let table = unique_table("smoke_trades");
    let conf = questdb_ilp_http_conf();
    let name = table.clone();
    tokio::task::spawn_blocking(move || -> questdb::Result<()> {
        let mut sender = Sender::from_conf(conf)?;
        let mut buffer = sender.new_buffer();
        for i in 0..ROWS {
            buffer
                .table(name.as_str())?
                .symbol("symbol", "BTC-USD")?
                .column_f64("price", 60_000.0 + i as f64)?
                .column_i64("size", i + 1)?
                .at(TimestampNanos::now())?;
        }
        sender.flush(&mut buffer)
    })
    .await
    .expect("the writer thread completes")
    .expect("QuestDB acknowledges the rows");

    wait_for_questdb_count(&table, ROWS, Duration::from_secs(60))
        .await
        .expect("every row becomes visible");

    let sum = questdb_query(&format!("select sum(size) from {table}"))
        .await
        .expect("query the sizes");
    assert_eq!(sum["dataset"][0][0], (1..=ROWS).sum::<i64>());
}
