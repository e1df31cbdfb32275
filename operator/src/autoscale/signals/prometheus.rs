//! Consumer signals through the Prometheus HTTP API (`/api/v1/query`, instant vectors).

use std::time::Duration;

use serde_json::Value;

use super::SignalError;
use super::consumer::ConsumerSignals;

/// Reads the consumers' signals of one pipeline from Prometheus.
#[derive(Clone, Debug)]
pub struct PrometheusReader {
    http: reqwest::Client,
    base: String,
    /// The range of `rate()`, e.g. `30s`.
    window: String,
    /// Samples older than this mark the signals stale.
    stale_after: Duration,
}

/// One element of an instant vector: labels and value.
pub type VectorSample = (Vec<(String, String)>, f64);

impl PrometheusReader {
    /// A reader of the Prometheus at `base` (e.g. `http://prometheus:9090`).
    pub fn new(http: reqwest::Client, base: &str, window: &str, stale_after: Duration) -> Self {
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            window: window.to_string(),
            stale_after,
        }
    }

    /// Runs an instant query; returns its vector.
    pub async fn query(&self, promql: &str) -> Result<Vec<VectorSample>, SignalError> {
        let fail = |message: String| SignalError::QueryPrometheus {
            query: promql.to_string(),
            message,
        };
        let url = format!(
            "{}/api/v1/query?query={}",
            self.base,
            percent_encode(promql)
        );
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| fail(e.to_string()))?;
        if !status.is_success() || body["status"] != "success" {
            return Err(fail(format!("{status}: {body}")));
        }
        parse_vector(&body).ok_or_else(|| fail(format!("not an instant vector: {body}")))
    }

    async fn scalar(&self, promql: &str) -> Result<Option<f64>, SignalError> {
        Ok(self
            .query(promql)
            .await?
            .first()
            .map(|(_, v)| *v)
            .filter(|v| v.is_finite()))
    }

    /// The signals of the pods matching `selector` (a PromQL label matcher list without
    /// braces, e.g. `job="spate",pipeline="trades"`), expecting `pods` of them.
    pub async fn consumer_signals(
        &self,
        selector: &str,
        pods: usize,
    ) -> Result<ConsumerSignals, SignalError> {
        let (s, w) = (selector, &self.window);
        let throughput = self
            .scalar(&format!("sum(rate(trades_processed_total{{{s}}}[{w}]))"))
            .await?;
        let busy = self
            .scalar(&format!(
                "sum(rate(spate_worker_busy_seconds_total{{{s}}}[{w}]))"
            ))
            .await?;
        let busy_ratio = self
            .query(&format!(
                "sum by (instance) (rate(spate_worker_busy_seconds_total{{{s}}}[{w}])) / sum by (instance) (spate_workers{{{s}}})"
            ))
            .await?
            .into_iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(labels, v)| (label(&labels, "instance").unwrap_or_default(), v))
            .collect();
        let queue_depth = self
            .scalar(&format!("max(spate_queue_depth{{{s}}})"))
            .await?;
        let flush_latency = self
            .scalar(&format!(
                "sum(rate(spate_flush_latency_seconds_sum{{{s}}}[{w}])) / sum(rate(spate_flush_latency_seconds_count{{{s}}}[{w}]))"
            ))
            .await?;
        let workers = self.scalar(&format!("max(spate_workers{{{s}}})")).await?;
        let ages = self
            .query(&format!(
                "time() - timestamp(trades_processed_total{{{s}}})"
            ))
            .await?;
        let pods_seen = ages.len();
        let too_old = ages
            .iter()
            .any(|(_, age)| *age > self.stale_after.as_secs_f64());
        let missing = missing_series(pods, throughput, busy, workers);
        Ok(ConsumerSignals {
            throughput,
            service_rate: match (throughput, busy) {
                (Some(t), Some(b)) if b > 0.0 => Some(t / b),
                _ => None,
            },
            busy_ratio,
            queue_depth,
            flush_latency,
            workers,
            pods_seen,
            stale: too_old || pods_seen < pods || missing,
        })
    }
}

/// A series the policy needs is absent while pods run: Prometheus has not (or no longer)
/// scraped them, or the window holds fewer than two samples. That is stale, never zero.
fn missing_series(
    pods: usize,
    throughput: Option<f64>,
    busy: Option<f64>,
    workers: Option<f64>,
) -> bool {
    pods > 0 && (throughput.is_none() || busy.is_none() || workers.is_none())
}

fn label(labels: &[(String, String)], name: &str) -> Option<String> {
    labels
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// The instant vector of a `/api/v1/query` answer (a scalar answer becomes one unlabelled sample).
pub fn parse_vector(body: &Value) -> Option<Vec<VectorSample>> {
    let data = &body["data"];
    let value = |v: &Value| v.get(1)?.as_str()?.parse::<f64>().ok();
    match data["resultType"].as_str()? {
        "vector" => data["result"]
            .as_array()?
            .iter()
            .map(|s| {
                let labels = s["metric"]
                    .as_object()?
                    .iter()
                    .map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect::<Option<Vec<_>>>()?;
                Some((labels, value(&s["value"])?))
            })
            .collect(),
        "scalar" => Some(vec![(Vec::new(), value(&data["result"])?)]),
        _ => None,
    }
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_instant_vector_answer_gives_labels_and_values() {
        let body = json!({"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"instance":"10.0.0.1:9464"},"value":[1700000000.1,"0.5"]},
            {"metric":{},"value":[1700000000.1,"NaN"]}
        ]}});
        let v = parse_vector(&body).unwrap();
        assert_eq!(
            v[0],
            (vec![("instance".into(), "10.0.0.1:9464".into())], 0.5)
        );
        assert!(v[1].1.is_nan());
    }

    #[test]
    fn a_scalar_answer_is_one_sample_and_an_empty_vector_none() {
        let body = json!({"status":"success","data":{"resultType":"scalar","result":[1.0,"3"]}});
        assert_eq!(parse_vector(&body).unwrap(), vec![(vec![], 3.0)]);
        let empty = json!({"status":"success","data":{"resultType":"vector","result":[]}});
        assert!(parse_vector(&empty).unwrap().is_empty());
        assert!(parse_vector(&json!({"status":"error"})).is_none());
    }

    #[test]
    fn a_missing_series_is_stale_not_zero() {
        assert!(missing_series(2, None, Some(1.0), Some(4.0)));
        assert!(missing_series(2, Some(10.0), None, Some(4.0)));
        assert!(missing_series(2, Some(10.0), Some(1.0), None));
        assert!(!missing_series(2, Some(0.0), Some(0.0), Some(4.0)));
        assert!(!missing_series(0, None, None, None));
    }

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            percent_encode("sum(rate(x{a=\"b\"}[30s]))"),
            "sum%28rate%28x%7Ba%3D%22b%22%7D%5B30s%5D%29%29"
        );
    }
}
