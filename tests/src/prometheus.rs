//! Prometheus helpers: instant queries and scrape targets added through the file_sd
//! file the local Prometheus watches.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::questdb::{http_client, with_query};
use crate::{Error, TestEnv};

/// Evaluates `promql` now and returns the `data.result` array of the answer.
pub async fn prometheus_query(promql: &str) -> Result<Vec<Value>, Error> {
    let url = format!("{}/api/v1/query", TestEnv::get().prometheus_url());
    let failed = |source| Error::QueryPrometheus {
        promql: promql.to_owned(),
        source,
    };
    let body: Value = http_client()
        .get(with_query(&url, promql))
        .send()
        .await
        .map_err(failed)?
        .json()
        .await
        .map_err(failed)?;
    if body["status"] != "success" {
        return Err(Error::PrometheusRejected {
            promql: promql.to_owned(),
            message: body["error"]
                .as_str()
                .unwrap_or("no error message")
                .to_owned(),
        });
    }
    match body.pointer("/data/result") {
        Some(Value::Array(result)) => Ok(result.clone()),
        _ => Err(Error::PrometheusRejected {
            promql: promql.to_owned(),
            message: format!("unexpected answer {body}"),
        }),
    }
}

/// A scrape target listed in the targets file; removed from it when dropped.
#[derive(Debug)]
pub struct PrometheusTarget {
    file: PathBuf,
    group: Value,
}

/// Adds `addr` (`host:port`, scraped at `/metrics`) to the targets file under `job`
/// with extra `labels`. Prometheus picks it up within a couple of seconds.
pub fn add_prometheus_target(
    job: &str,
    labels: &[(&str, &str)],
    addr: &str,
) -> Result<PrometheusTarget, Error> {
    let mut all: Map<String, Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
        .collect();
    all.insert("job".to_owned(), job.into());
    let group = json!({ "targets": [addr], "labels": all });
    let file = TestEnv::get().prometheus_targets_file().to_owned();
    update_targets(&file, |groups| groups.push(group.clone()))?;
    Ok(PrometheusTarget { file, group })
}

impl Drop for PrometheusTarget {
    fn drop(&mut self) {
        let group = &self.group;
        if let Err(err) = update_targets(&self.file, |groups| groups.retain(|g| g != group)) {
            tracing::warn!(%err, "could not remove a Prometheus target");
        }
    }
}

/// Read-modify-write of the targets file under an exclusive lock on a sibling lock
/// file (test binaries run in parallel); the new content replaces the file atomically.
fn update_targets(file: &Path, change: impl FnOnce(&mut Vec<Value>)) -> Result<(), Error> {
    let failed = |source| Error::UpdateTargets {
        path: file.to_owned(),
        source,
    };
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(file.with_extension("lock"))
        .map_err(failed)?;
    lock.lock().map_err(failed)?;
    let mut groups: Vec<Value> = match std::fs::read_to_string(file) {
        Ok(text) => serde_json::from_str(&text).unwrap_or_default(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(failed(e)),
    };
    change(&mut groups);
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    let text = serde_json::to_string_pretty(&groups).map_err(|e| failed(e.into()))?;
    let mut out = File::create(&tmp).map_err(failed)?;
    out.write_all(text.as_bytes()).map_err(failed)?;
    out.sync_all().map_err(failed)?;
    std::fs::rename(&tmp, file).map_err(failed)?;
    Ok(())
}
