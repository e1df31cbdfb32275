//! Prometheus helpers: instant queries and scrape targets added through the file_sd
//! file the local Prometheus watches.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::questdb::http_client;
use crate::{Error, TestEnv};

/// Evaluates `promql` now and returns the `data.result` array of the answer.
pub async fn prometheus_query(promql: &str) -> Result<Vec<Value>, Error> {
    result_of(
        promql,
        prometheus_api("/api/v1/query", &[("query", promql)]).await?,
    )
}

/// Evaluates `promql` over `[start, end]` (Unix seconds) every `step` seconds and returns
/// the `data.result` array (one entry per series, its `values` the samples).
pub async fn prometheus_query_range(
    promql: &str,
    start: f64,
    end: f64,
    step: f64,
) -> Result<Vec<Value>, Error> {
    let (start, end, step) = (start.to_string(), end.to_string(), step.to_string());
    let params = [
        ("query", promql),
        ("start", &start),
        ("end", &end),
        ("step", &step),
    ];
    result_of(
        promql,
        prometheus_api("/api/v1/query_range", &params).await?,
    )
}

fn result_of(promql: &str, data: Value) -> Result<Vec<Value>, Error> {
    match data.get("result") {
        Some(Value::Array(result)) => Ok(result.clone()),
        _ => Err(Error::PrometheusRejected {
            promql: promql.to_owned(),
            message: format!("unexpected answer {data}"),
        }),
    }
}

/// `GET <prometheus><path>?<params>`; the answer's `data` when its status is success.
pub async fn prometheus_api(path: &str, params: &[(&str, &str)]) -> Result<Value, Error> {
    let base = format!("{}{path}", TestEnv::get().prometheus_url());
    let url = reqwest::Url::parse_with_params(&base, params)
        .map(String::from)
        .unwrap_or(base);
    let what = params
        .iter()
        .find(|(k, _)| *k == "query")
        .map_or(path, |(_, q)| *q)
        .to_owned();
    let failed = |source| Error::QueryPrometheus {
        promql: what.clone(),
        source,
    };
    let body: Value = http_client()
        .get(url)
        .send()
        .await
        .map_err(failed)?
        .json()
        .await
        .map_err(failed)?;
    if body["status"] != "success" {
        return Err(Error::PrometheusRejected {
            promql: what,
            message: body["error"]
                .as_str()
                .unwrap_or("no error message")
                .to_owned(),
        });
    }
    Ok(body["data"].clone())
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

/// A rule file loaded into the local Prometheus (`PROMETHEUS_RULES_DIR`, re-read on
/// `POST /-/reload`). [`PrometheusRules::unload`] removes it; dropping it removes the
/// file, which Prometheus forgets at its next reload.
#[derive(Debug)]
pub struct PrometheusRules {
    path: PathBuf,
}

/// Writes `text` as the rule file `<name>.yaml`, reloads Prometheus and waits until it
/// evaluates a group of that file.
pub async fn load_prometheus_rules(name: &str, text: &str) -> Result<PrometheusRules, Error> {
    let env = TestEnv::get();
    let dir = env
        .vars
        .get("PROMETHEUS_RULES_DIR")
        .ok_or_else(|| Error::MissingEnvKey {
            path: PathBuf::from(".spate/env"),
            key: "PROMETHEUS_RULES_DIR",
        })?;
    let path = Path::new(dir).join(format!("{name}.yaml"));
    std::fs::write(&path, text).map_err(|source| Error::WriteFile {
        path: path.clone(),
        source,
    })?;
    let rules = PrometheusRules { path };
    reload().await?;
    let file = rules.path.to_string_lossy().into_owned();
    crate::eventually(
        "Prometheus to load the rule file",
        std::time::Duration::from_secs(30),
        || async {
            let groups = prometheus_api("/api/v1/rules", &[])
                .await
                .map_err(|e| e.to_string())?;
            let loaded = groups["groups"]
                .as_array()
                .is_some_and(|g| g.iter().any(|g| g["file"] == file.as_str()));
            if loaded {
                Ok(())
            } else {
                Err(format!("no group of {file}"))
            }
        },
    )
    .await?;
    Ok(rules)
}

impl PrometheusRules {
    /// Removes the rule file and reloads Prometheus.
    pub async fn unload(self) -> Result<(), Error> {
        let _ = std::fs::remove_file(&self.path);
        reload().await
    }
}

impl Drop for PrometheusRules {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The alerts Prometheus holds now (pending and firing): `data.alerts` of `/api/v1/alerts`.
pub async fn prometheus_alerts() -> Result<Vec<Value>, Error> {
    let data = prometheus_api("/api/v1/alerts", &[]).await?;
    Ok(data["alerts"].as_array().cloned().unwrap_or_default())
}

/// Makes Prometheus re-read its configuration and rule files (`--web.enable-lifecycle`).
async fn reload() -> Result<(), Error> {
    let url = format!("{}/-/reload", TestEnv::get().prometheus_url());
    let failed = |source| Error::QueryPrometheus {
        promql: "POST /-/reload".to_owned(),
        source,
    };
    let answer = http_client().post(&url).send().await.map_err(failed)?;
    if answer.status().is_success() {
        Ok(())
    } else {
        Err(Error::PrometheusRejected {
            promql: "POST /-/reload".to_owned(),
            message: answer.text().await.unwrap_or_default(),
        })
    }
}

/// Every `expr` of the shipped dashboard (panels and annotations), as written.
pub fn dashboard_queries() -> Result<Vec<String>, Error> {
    fn walk(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    match (key.as_str(), v) {
                        ("expr", Value::String(e)) => out.push(e.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let path = crate::repo_root().join("manifests/monitoring/dashboards/spate.json");
    let text = std::fs::read_to_string(&path).map_err(|source| Error::ReadFile {
        path: path.clone(),
        source,
    })?;
    let dashboard: Value = serde_json::from_str(&text).map_err(|e| Error::ReadFile {
        path: path.clone(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    let mut out = Vec::new();
    walk(&dashboard, &mut out);
    Ok(out)
}

/// A dashboard query as Grafana sends it for the pipeline `namespace/pipeline`.
pub fn as_grafana_sends_it(expr: &str, namespace: &str, pipeline: &str) -> String {
    expr.replace("$namespace", namespace)
        .replace("$pipeline", pipeline)
        .replace("$__rate_interval", "30s")
        .replace("$__interval", "30s")
}
