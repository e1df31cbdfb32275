//! Start-up check of the target table through QuestDB's HTTP `/exec`: create it as a WAL
//! table with `DEDUP UPSERT KEYS` when missing, then read what QuestDB reports of it and
//! refuse to start unless it fits (fail closed: an unreadable answer is a refusal too).

use std::time::Duration;

use reqwest::{Client, Url};
use serde_json::Value;
use tracing::info;

use super::health::QuestdbProblem;
use super::table_check::{ColumnInfo, TableSchema, check_schema};
use crate::codec::encode::trades_table_ddl;
use crate::security::QuestdbAuth;

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
    #[error("read the schema of table {table}: {reason}")]
    ReadTable { table: String, reason: String },
    #[error("table {table} does not fit spate's rows: {problems}")]
    CheckTable { table: String, problems: String },
    #[error("the QuestDB credentials cannot be sent: {0}")]
    EncodeCredentials(String),
}

impl DdlError {
    /// What keeps QuestDB from answering when waiting may help (an outage, refused
    /// credentials that may be fixed); `None` when the table itself must be fixed.
    pub fn problem(&self) -> Option<QuestdbProblem> {
        match self {
            DdlError::ExecDdl { .. } => Some(QuestdbProblem::Unreachable),
            DdlError::RejectDdl { status, .. } => match status {
                401 | 403 => Some(QuestdbProblem::Authentication),
                500.. => Some(QuestdbProblem::Unreachable),
                _ => None,
            },
            _ => None,
        }
    }
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

/// The HTTP client of `/exec`, sending `auth`'s credentials with every request.
pub fn exec_client(auth: &QuestdbAuth, timeout: Duration) -> Result<Client, DdlError> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(secret) = auth.header() {
        let mut value = reqwest::header::HeaderValue::from_str(secret.expose()).map_err(|_| {
            DdlError::EncodeCredentials("they hold a character an HTTP header cannot carry".into())
        })?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Client::builder()
        .timeout(timeout)
        .default_headers(headers)
        .build()
        .map_err(|e| DdlError::EncodeCredentials(e.to_string()))
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

/// The rows of an `/exec` answer as maps from column name to value.
fn rows(answer: &Value) -> Option<Vec<serde_json::Map<String, Value>>> {
    let names: Vec<&str> = answer
        .get("columns")?
        .as_array()?
        .iter()
        .map(|c| c.get("name").and_then(Value::as_str))
        .collect::<Option<_>>()?;
    answer
        .get("dataset")?
        .as_array()?
        .iter()
        .map(|row| {
            let row = row.as_array()?;
            Some(
                names
                    .iter()
                    .zip(row)
                    .map(|(n, v)| ((*n).to_owned(), v.clone()))
                    .collect(),
            )
        })
        .collect()
}

/// The schema from the answers of `tables()` and `table_columns()`; `None` when the
/// table is not listed or an answer lacks a field the check needs.
fn parse_schema(table: &str, tables: &Value, columns: &Value) -> Option<TableSchema> {
    let listed = rows(tables)?.into_iter().find(|r| {
        r.get("table_name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(table))
    })?;
    let flag = |r: &serde_json::Map<String, Value>, k: &str| r.get(k).and_then(Value::as_bool);
    let columns = rows(columns)?
        .iter()
        .map(|c| {
            Some(ColumnInfo {
                name: c.get("column")?.as_str()?.to_owned(),
                kind: c.get("type")?.as_str()?.to_owned(),
                designated: flag(c, "designated")?,
                upsert_key: flag(c, "upsertKey")?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(TableSchema {
        name: listed.get("table_name")?.as_str()?.to_owned(),
        wal: flag(&listed, "walEnabled")?,
        dedup: flag(&listed, "dedup")?,
        suspended: flag(&listed, "table_suspended"),
        columns,
    })
}

/// Creates `table` if missing, then checks that it fits spate's rows; `allow_extra`
/// accepts columns and upsert keys beyond spate's.
pub async fn ensure_table(
    http_url: &str,
    auth: &QuestdbAuth,
    table: &str,
    allow_extra: bool,
) -> Result<(), DdlError> {
    let client = exec_client(auth, Duration::from_secs(30))?;
    exec(&client, http_url, &trades_table_ddl(table)).await?;
    // Names are checked identifiers (no quote can occur); QuestDB compares them
    // without case, and so does `parse_schema`.
    let tables = exec(
        &client,
        http_url,
        "SELECT table_name, walEnabled, dedup, table_suspended FROM tables()",
    )
    .await;
    // Servers without `table_suspended` answer the narrower query.
    let tables = match tables {
        Ok(v) => v,
        Err(_) => {
            exec(
                &client,
                http_url,
                "SELECT table_name, walEnabled, dedup FROM tables()",
            )
            .await?
        }
    };
    let columns = exec(
        &client,
        http_url,
        &format!("SELECT \"column\", type, designated, upsertKey FROM table_columns('{table}')"),
    )
    .await?;
    let schema = parse_schema(table, &tables, &columns).ok_or_else(|| DdlError::ReadTable {
        table: table.to_owned(),
        reason: "QuestDB did not report the table with its WAL, dedup and column flags".into(),
    })?;
    let problems = check_schema(&schema, allow_extra);
    if !problems.is_empty() {
        return Err(DdlError::CheckTable {
            table: schema.name,
            problems: problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    info!(table = %schema.name, "table ready (WAL, DEDUP UPSERT KEYS, columns checked)");
    Ok(())
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
    fn refused_credentials_and_outages_are_waited_out_and_a_bad_table_is_not() {
        let reject = |status| DdlError::RejectDdl {
            status,
            body: String::new(),
        };
        assert_eq!(reject(401).problem(), Some(QuestdbProblem::Authentication));
        assert_eq!(reject(403).problem(), Some(QuestdbProblem::Authentication));
        assert_eq!(reject(503).problem(), Some(QuestdbProblem::Unreachable));
        assert_eq!(reject(400).problem(), None);
        let misfit = DdlError::CheckTable {
            table: "t".into(),
            problems: "p".into(),
        };
        assert_eq!(misfit.problem(), None);
    }

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
    fn the_schema_is_read_by_column_name_and_the_table_found_without_case() {
        let tables = serde_json::json!({
            "columns": [{"name": "table_name"}, {"name": "walEnabled"}, {"name": "dedup"}],
            "dataset": [["other", false, false], ["Trades", true, false]]
        });
        let columns = serde_json::json!({
            "columns": [{"name": "column"}, {"name": "type"}, {"name": "designated"}, {"name": "upsertKey"}],
            "dataset": [["timestamp", "TIMESTAMP", true, true], ["price", "INT", false, false]]
        });
        let schema = parse_schema("trades", &tables, &columns).expect("schema");
        assert_eq!(
            (
                schema.name.as_str(),
                schema.wal,
                schema.dedup,
                schema.suspended
            ),
            ("Trades", true, false, None)
        );
        assert_eq!(schema.columns[1].kind, "INT");
        assert!(schema.columns[0].designated && schema.columns[0].upsert_key);
        assert_eq!(parse_schema("missing", &tables, &columns), None);
        assert_eq!(
            parse_schema("trades", &tables, &serde_json::json!({})),
            None
        );
    }
}
