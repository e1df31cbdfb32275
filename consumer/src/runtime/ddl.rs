//! Start-up check of the target table through QuestDB's HTTP `/exec`: create it as a WAL
//! table with `DEDUP UPSERT KEYS` when missing, and refuse one that would let a replay
//! duplicate rows.

use std::time::Duration;

use reqwest::{Client, Url};
use serde_json::Value;
use tracing::{info, warn};

use crate::encode::trades_table_ddl;

/// The table could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum DdlError {
    #[error("invalid QuestDB HTTP URL {url}: {reason}")]
    ParseUrl { url: String, reason: String },
    #[error("run DDL on QuestDB at {url}: {source}")]
    ExecDdl {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("QuestDB refused the DDL ({status}): {body}")]
    RejectDdl { status: u16, body: String },
    #[error(
        "table {table} exists but is not a WAL table with DEDUP UPSERT KEYS (wal={wal}, dedup={dedup}); replays would duplicate rows"
    )]
    CheckTable {
        table: String,
        wal: bool,
        dedup: bool,
    },
}

fn exec_url(base: &str, query: &str) -> Result<Url, DdlError> {
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    let mut url = Url::parse(&base)
        .and_then(|u| u.join("exec"))
        .map_err(|e| DdlError::ParseUrl {
            url: base.clone(),
            reason: e.to_string(),
        })?;
    url.query_pairs_mut().append_pair("query", query);
    Ok(url)
}

async fn exec(client: &Client, base: &str, query: &str) -> Result<Value, DdlError> {
    let url = exec_url(base, query)?;
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|source| DdlError::ExecDdl {
            url: base.to_string(),
            source,
        })?;
    let status = response.status();
    let body = response.text().await.map_err(|source| DdlError::ExecDdl {
        url: base.to_string(),
        source,
    })?;
    if !status.is_success() {
        return Err(DdlError::RejectDdl {
            status: status.as_u16(),
            body,
        });
    }
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// `(walEnabled, dedup)` of `table` from `tables()`, when QuestDB reports them.
fn table_flags(answer: &Value) -> Option<(bool, bool)> {
    let columns = answer.get("columns")?.as_array()?;
    let index = |name: &str| {
        columns
            .iter()
            .position(|c| c.get("name").and_then(Value::as_str) == Some(name))
    };
    let (wal, dedup) = (index("walEnabled")?, index("dedup")?);
    let row = answer.get("dataset")?.as_array()?.first()?.as_array()?;
    Some((row.get(wal)?.as_bool()?, row.get(dedup)?.as_bool()?))
}

/// Creates `table` if missing and checks it is WAL with deduplication.
pub async fn ensure_table(http_url: &str, table: &str) -> Result<(), DdlError> {
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|source| DdlError::ExecDdl {
            url: http_url.to_string(),
            source,
        })?;
    exec(&client, http_url, &trades_table_ddl(table)).await?;
    let check = format!("SELECT walEnabled, dedup FROM tables() WHERE table_name = '{table}'");
    match exec(&client, http_url, &check)
        .await
        .map(|v| table_flags(&v))
    {
        Ok(Some((true, true))) => {
            info!(table, "table ready (WAL, DEDUP UPSERT KEYS)");
            Ok(())
        }
        Ok(Some((wal, dedup))) => Err(DdlError::CheckTable {
            table: table.to_string(),
            wal,
            dedup,
        }),
        Ok(None) | Err(_) => {
            warn!(
                table,
                "could not read the table's WAL/dedup flags; trusting the DDL"
            );
            Ok(())
        }
    }
}

/// Whether QuestDB's HTTP server answers `/ping`.
pub async fn ping(client: &Client, http_url: &str) -> bool {
    let url = format!("{}/ping", http_url.trim_end_matches('/'));
    client
        .get(url)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_url_encoded_under_exec() {
        let url = exec_url("http://127.0.0.1:9000", "SELECT 1 FROM t WHERE a = 'x'").unwrap();
        assert_eq!(url.path(), "/exec");
        assert_eq!(
            url.query_pairs()
                .next()
                .map(|(k, v)| (k.to_string(), v.to_string())),
            Some(("query".into(), "SELECT 1 FROM t WHERE a = 'x'".into()))
        );
    }

    #[test]
    fn flags_are_read_by_column_name() {
        let answer: Value = serde_json::json!({
            "columns": [{"name": "walEnabled", "type": "BOOLEAN"}, {"name": "dedup", "type": "BOOLEAN"}],
            "dataset": [[true, false]]
        });
        assert_eq!(table_flags(&answer), Some((true, false)));
        assert_eq!(table_flags(&serde_json::json!({"dataset": []})), None);
    }
}
