//! spate's own ILP writer against the real QuestDB: protocol negotiation, acknowledged
//! writes counted back, replays deduplicated, refused rows told apart from outages.

use std::borrow::Cow;
use std::time::Duration;

use spate_consumer::codec::encode::{TradeEncoder, trades_table_ddl};
use spate_consumer::codec::trade::{Side, Trade};
use spate_consumer::ilp::IlpVersion;
use spate_consumer::ilp::http::{HttpConf, HttpError, HttpWriter};
use spate_tests::{questdb_ilp_http_conf, questdb_query, unique_table, wait_for_questdb_count};

const ROWS: usize = 2_000;
const T0: i64 = 1_763_000_000_000_000_000;

fn conf(extra: &str) -> HttpConf {
    HttpConf::parse(&format!("{}{extra}", questdb_ilp_http_conf()))
        .expect("a plain http:: configuration is spate's")
        .expect("valid")
}

fn trade(i: usize) -> Trade<'static> {
    Trade {
        exchange: Cow::Borrowed("coinbase"),
        symbol: Cow::Owned(format!("SYM-{}", i % 7)),
        side: if i.is_multiple_of(3) {
            Side::Sell
        } else {
            Side::Buy
        },
        trade_id: Cow::Owned(format!("t {i}")),
        price: 60_000.0 + i as f64 * 0.01,
        size: 0.5,
        sequence: Some(i as i64),
        quality_score: i.is_multiple_of(2).then_some(0.75),
        timestamp_ns: T0 + i as i64 * 1_000,
    }
}

/// Connects and writes `rows` trades to `table` in one request, off the async runtime.
async fn write(
    table: String,
    extra: &'static str,
    rows: usize,
) -> (IlpVersion, Result<(), HttpError>) {
    tokio::task::spawn_blocking(move || {
        let mut writer = HttpWriter::connect(conf(extra)).expect("connect to QuestDB");
        let encoder = TradeEncoder::new(&table).expect("table name");
        let mut buf = writer.new_buffer();
        for i in 0..rows {
            encoder.encode_ilp(&trade(i), &mut buf).expect("encode");
        }
        let first = writer.flush(&buf);
        // The same rows again, over the same kept-alive connection: a replay.
        let second = first.clone().and_then(|()| writer.flush(&buf));
        (writer.version(), second)
    })
    .await
    .expect("writer thread")
}

#[tokio::test]
async fn acknowledged_rows_arrive_once_even_when_replayed() {
    for (extra, version) in [
        ("", IlpVersion::V2),
        ("protocol_version=1;", IlpVersion::V1),
    ] {
        let table = unique_table("ilp_writer");
        questdb_query(&trades_table_ddl(&table))
            .await
            .expect("create table");
        let (negotiated, result) = write(table.clone(), extra, ROWS).await;
        assert_eq!(negotiated, version, "conf {extra:?}");
        result.expect("QuestDB acknowledges both requests");
        wait_for_questdb_count(&table, ROWS as i64, Duration::from_secs(60))
            .await
            .expect("every row exactly once");
        let row = questdb_query(&format!(
            "select exchange, symbol, side, trade_id, price, sequence, quality_score, timestamp \
             from {table} where trade_id = 't 1234'"
        ))
        .await
        .expect("query one row");
        let t = trade(1234);
        let got = &row["dataset"][0];
        assert_eq!(got[0], "coinbase");
        assert_eq!(got[1], t.symbol.as_ref());
        assert_eq!(got[2], t.side.as_str());
        assert_eq!(got[3], "t 1234");
        assert_eq!(got[4].as_f64(), Some(t.price), "doubles arrive bit for bit");
        assert_eq!(got[5], 1234);
        assert_eq!(got[6], 0.75);
        assert_eq!(got[7], "2025-11-13T02:13:20.001234Z");
    }
}

#[tokio::test]
async fn refused_rows_are_rejections_with_questdb_reason() {
    let table = unique_table("ilp_writer_refused");
    questdb_query(&format!(
        "CREATE TABLE {table} (exchange SYMBOL, price INT, timestamp TIMESTAMP) \
         TIMESTAMP(timestamp) PARTITION BY DAY WAL"
    ))
    .await
    .expect("create table");
    let (_, result) = write(table, "", 3).await;
    match result {
        Err(HttpError::Rejected { status, message }) => {
            assert_eq!(status, 400);
            assert!(message.contains("cast error"), "{message}");
            assert!(message.contains("line: 1"), "{message}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_closed_port_is_an_outage_not_a_rejection() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let conf = HttpConf::parse(&format!(
        "http::addr=127.0.0.1:{port};request_timeout=2000;"
    ))
    .expect("spate's")
    .expect("valid");
    let err = HttpWriter::connect(conf).expect_err("nothing listens");
    assert!(matches!(err, HttpError::Io(_)), "{err:?}");
}
