//! Reading the run's state once a second: lag from Kafka, rows from QuestDB, the pods'
//! workers from their control API, the Deployment, the pipeline's status; and, at the end,
//! the operator's scaling Events.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, ListParams};
use serde::Deserialize;
use spate_operator::autoscale::controller::pods::ready_pods;
use spate_operator::autoscale::signals::GroupLagReader;
use spate_operator::build::names::selector_string;
use spate_operator::crd::{IngestionPipeline, IngestionPipelineStatus};

use super::DemoError;
use super::report::{DecisionRow, Sample};
use crate::{TestEnv, questdb_count, questdb_distinct_trades};

/// Reads one pipeline's state.
pub struct Sampler {
    client: Client,
    namespace: String,
    name: String,
    table: String,
    topic: String,
    http: reqwest::Client,
    lag: Option<GroupLagReader>,
    group: String,
    last: Option<Sample>,
    start: Option<Timestamp>,
    seen: Option<Timestamp>,
    decisions: Vec<DecisionRow>,
}

#[derive(Deserialize)]
struct Workers {
    workers: u32,
}

impl Sampler {
    /// A sampler of pipeline `name` in `namespace`, its `table` and `topic`, its consumer `group`.
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        table: &str,
        topic: &str,
        group: &str,
    ) -> Result<Sampler, DemoError> {
        Ok(Sampler {
            client,
            namespace: namespace.into(),
            name: name.into(),
            table: table.into(),
            topic: topic.into(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .map_err(|e| DemoError::Operator(e.to_string()))?,
            lag: None,
            group: group.into(),
            last: None,
            start: None,
            seen: None,
            decisions: Vec::new(),
        })
    }

    /// The state at `t` seconds, `produced` trades acknowledged so far.
    pub async fn sample(&mut self, t: f64, produced: u64) -> Sample {
        let lag = self.read_lag().await;
        let rows = questdb_count(&self.table)
            .await
            .map_or(0, |n| n.max(0) as u64);
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let listed = pods
            .list(&ListParams::default().labels(&selector_string(&self.name)))
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let mut workers = Vec::new();
        for pod in ready_pods(&listed) {
            let url = format!("{}/control/workers", pod.url(9464));
            if let Ok(r) = self.http.get(&url).send().await
                && let Ok(w) = r.json::<Workers>().await
            {
                workers.push((pod.name.clone(), w.workers));
            }
        }
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        let (replicas, ready) = match deployments.get_opt(&self.name).await {
            Ok(Some(d)) => (
                d.spec.and_then(|s| s.replicas).unwrap_or(0).max(0) as u32,
                d.status.and_then(|s| s.ready_replicas).unwrap_or(0).max(0) as u32,
            ),
            _ => (0, 0),
        };
        let pipelines: Api<IngestionPipeline> =
            Api::namespaced(self.client.clone(), &self.namespace);
        let status = pipelines
            .get_opt(&self.name)
            .await
            .ok()
            .flatten()
            .and_then(|p| p.status);
        self.track_decision(status.as_ref(), t);
        let memory = status.as_ref().and_then(|s| s.autoscaler_memory.clone());
        let memory_writer = memory.as_ref().and_then(|m| m.writer.clone());
        let memory_since = memory
            .as_ref()
            .and_then(|m| {
                let times = m.calm_bases.first().map(|b| b.at_ms).into_iter();
                let times = times.chain(m.last_scale_ms).chain(m.last_down_ms);
                times.chain(m.last_up.as_ref().map(|u| u.at_ms)).min()
            })
            .zip(self.start)
            .map(|(at, start)| (at - start.as_millisecond()) as f64 / 1000.0);
        let last_reason = status.and_then(|s| s.last_scale_reason);
        let (dt, p0, r0) = self
            .last
            .as_ref()
            .map_or((t, 0, 0), |s| (t - s.t, s.produced, s.rows));
        let rate = |now: u64, before: u64| {
            if dt > 0.0 {
                now.saturating_sub(before) as f64 / dt
            } else {
                0.0
            }
        };
        let sample = Sample {
            t,
            produced,
            produce_rate: rate(produced, p0),
            rows,
            row_rate: rate(rows, r0),
            lag,
            workers,
            replicas,
            ready,
            last_reason,
            memory_writer,
            memory_since,
        };
        self.last = Some(sample.clone());
        sample
    }

    async fn read_lag(&mut self) -> Option<u64> {
        let reader = match self.lag.take() {
            Some(r) => r,
            None => GroupLagReader::new(
                &TestEnv::get().kafka_brokers,
                &self.group,
                &[],
                Duration::from_secs(5),
            )
            .ok()?,
        };
        let topics = vec![self.topic.clone()];
        let (reader, lag) = tokio::task::spawn_blocking(move || {
            let lag = reader.read(&topics).map(|l| l.total());
            (reader, lag)
        })
        .await
        .ok()?;
        self.lag = Some(reader);
        lag.ok()
    }

    /// Rows and distinct trade identities in the table.
    pub async fn counts(&self) -> Result<(u64, u64), DemoError> {
        let rows = questdb_count(&self.table).await.map_err(DemoError::Query)?;
        let distinct = questdb_distinct_trades(&self.table)
            .await
            .map_err(DemoError::Query)?;
        Ok((rows.max(0) as u64, distinct.max(0) as u64))
    }

    /// Starts the clock of the decisions' times (the load's start).
    pub fn start_clock(&mut self, at: Timestamp) {
        self.start = Some(at);
    }

    /// The scaling decisions seen in the pipeline's status, in order. (The operator also
    /// publishes each as an Event; Kubernetes folds repeats of one reason into a series.)
    pub fn decisions(&self) -> Vec<DecisionRow> {
        self.decisions.clone()
    }

    fn track_decision(&mut self, status: Option<&IngestionPipelineStatus>, t: f64) {
        let Some(status) = status else { return };
        let Some(a) = &status.autoscaler else { return };
        let Some(at) = a.decision_time.as_ref().map(|t| t.0) else {
            return;
        };
        if self.seen == Some(at) {
            return;
        }
        self.seen = Some(at);
        let reason = a.reason.clone().unwrap_or_default();
        let note = status.last_scale_reason.as_deref().unwrap_or_default();
        let note = note
            .strip_prefix(&format!("{reason}: "))
            .unwrap_or(note)
            .to_string();
        self.decisions.push(DecisionRow {
            t: self
                .start
                .map_or(t, |start| at.duration_since(start).as_secs_f64()),
            action: action_of(&reason).into(),
            reason,
            note,
        });
    }
}

/// `ScaleUp`, `ScaleDown` or `Correct` (a size brought back inside the bounds).
fn action_of(reason: &str) -> &'static str {
    if reason.starts_with("ScaleUp") {
        "ScaleUp"
    } else if reason.starts_with("ScaleDown") {
        "ScaleDown"
    } else {
        "Correct"
    }
}
