//! QuestDB helpers: SQL over the HTTP `/exec` endpoint and the ILP/HTTP sender setting.

use std::time::Duration;

use serde_json::Value;

use crate::{Error, TestEnv, eventually};

/// The questdb-rs configuration string of an ILP/HTTP sender to the local QuestDB.
pub fn questdb_ilp_http_conf() -> String {
    let http = &TestEnv::get().questdb_http;
    let addr = http.split_once("://").map_or(http.as_str(), |(_, a)| a);
    format!("http::addr={addr};")
}

/// Runs `sql` through `/exec` and returns QuestDB's JSON answer (`columns`, `dataset`,
/// `count`...); an answer with an `error` field is an error.
pub async fn questdb_query(sql: &str) -> Result<Value, Error> {
    let failed = |source| Error::QueryQuestdb {
        sql: sql.to_owned(),
        source,
    };
    let url = format!("{}/exec", TestEnv::get().questdb_http);
    let body: Value = http_client()
        .get(with_query(&url, sql))
        .send()
        .await
        .map_err(failed)?
        .json()
        .await
        .map_err(failed)?;
    if let Some(message) = body.get("error") {
        return Err(Error::QuestdbRejected {
            sql: sql.to_owned(),
            message: message
                .as_str()
                .map_or_else(|| message.to_string(), str::to_owned),
        });
    }
    Ok(body)
}

/// `count()` of `table` as visible to queries now (WAL tables apply writes
/// asynchronously; see [`wait_for_questdb_count`]).
pub async fn questdb_count(table: &str) -> Result<i64, Error> {
    let sql = format!("select count() from \"{}\"", table.replace('"', "\"\""));
    integer(sql).await
}

/// The distinct trades of `table`: its distinct (exchange, symbol, trade_id) identities.
pub async fn questdb_distinct_trades(table: &str) -> Result<i64, Error> {
    let sql = format!(
        "select count() from (select distinct exchange, symbol, trade_id from \"{}\")",
        table.replace('"', "\"\"")
    );
    integer(sql).await
}

/// The first value of the first row of `sql`, an integer.
async fn integer(sql: String) -> Result<i64, Error> {
    let body = questdb_query(&sql).await?;
    body.pointer("/dataset/0/0")
        .and_then(Value::as_i64)
        .ok_or_else(|| Error::QuestdbRejected {
            sql,
            message: format!("unexpected answer {body}"),
        })
}

/// Waits until `count()` of `table` equals `expected` (the table may not exist yet).
pub async fn wait_for_questdb_count(
    table: &str,
    expected: i64,
    timeout: Duration,
) -> Result<(), Error> {
    eventually(
        &format!("{expected} rows in QuestDB table {table}"),
        timeout,
        || async {
            match questdb_count(table).await {
                Ok(n) if n == expected => Ok(()),
                Ok(n) => Err(format!("{n} rows")),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await
}

/// `url?query=<q>`, percent-encoded.
pub(crate) fn with_query(url: &str, q: &str) -> String {
    match reqwest::Url::parse_with_params(url, &[("query", q)]) {
        Ok(u) => u.into(),
        Err(_) => url.to_owned(),
    }
}

/// A client for loopback servers: never through a proxy. A new one per call, as tests
/// run on different tokio runtimes.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}
