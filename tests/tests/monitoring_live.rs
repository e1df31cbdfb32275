//! spate's monitoring against the local Prometheus scraping a real consumer under load:
//! every dashboard query of a consumer series returns data, and the alert rules, loaded
//! into Prometheus, fire when QuestDB stops (flush errors, latency) and resolve once it is
//! back.

#[path = "consumer_support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use spate_tests::{
    PrometheusTarget, TestEnv, add_prometheus_target, as_grafana_sends_it, create_topic,
    dashboard_queries, eventually, load_prometheus_rules, prometheus_alerts, prometheus_api,
    prometheus_query, repo_root, unique_name, unique_table,
};
use support::{ConsumerProcess, ConsumerSpec, DedicatedQuestdb, mixed_messages, produce};

/// The namespace label the test's consumer is scraped with.
const NAMESPACE: &str = "spate-monitoring-tests";

/// A consumer writing `topic` into `table` under a steady load, scraped by Prometheus as
/// pipeline `pipeline` of [`NAMESPACE`].
struct Loaded {
    consumer: ConsumerProcess,
    _target: PrometheusTarget,
    producing: Arc<AtomicBool>,
    producer: tokio::task::JoinHandle<()>,
}

impl Loaded {
    async fn start(spec: &ConsumerSpec, pipeline: &str) -> Result<Self> {
        create_topic(&spec.topic, 3).await?;
        create_topic(&spec.dlq, 1).await?;
        let consumer = ConsumerProcess::start(spec);
        let target = add_prometheus_target(
            "spate-consumer",
            &[("namespace", NAMESPACE), ("pipeline", pipeline)],
            &format!("127.0.0.1:{}", consumer.port),
        )?;
        let producing = Arc::new(AtomicBool::new(true));
        let (flag, topic) = (producing.clone(), spec.topic.clone());
        // A batch of valid and invalid trades every 200 ms until stopped.
        let producer = tokio::spawn(async move {
            let mut batch = 0u64;
            while flag.load(Ordering::Relaxed) {
                produce(&topic, &mixed_messages(&format!("load{batch}"), 100)).await;
                batch += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Ok(Self {
            consumer,
            _target: target,
            producing,
            producer,
        })
    }

    async fn stop(mut self) {
        self.producing.store(false, Ordering::Relaxed);
        let _ = self.producer.await;
        self.consumer.terminate(Duration::from_secs(20));
    }
}

/// Waits until `promql` returns data.
async fn returns_data(promql: &str, timeout: Duration) -> Result<()> {
    eventually("the query to return data", timeout, || async {
        match prometheus_query(promql).await {
            Ok(result) if !result.is_empty() => Ok(()),
            Ok(_) => Err(format!("nothing for {promql}")),
            Err(e) => Err(e.to_string()),
        }
    })
    .await?;
    Ok(())
}

/// Waits until Prometheus has `series` for `pipeline`.
async fn scraped(series: &str, pipeline: &str) -> Result<()> {
    let promql = format!("{series}{{namespace=\"{NAMESPACE}\",pipeline=\"{pipeline}\"}}");
    returns_data(&promql, Duration::from_secs(60)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_of_a_consumer_series_returns_data_during_a_load() -> Result<()> {
    TestEnv::get();
    let pipeline = unique_name("dash");
    let spec = ConsumerSpec::new(&unique_name("dashboard"), &unique_table("dashboard"));
    let load = Loaded::start(&spec, &pipeline).await?;
    let outcome = dashboard_returns_data(&pipeline).await;
    load.stop().await;
    outcome
}

/// Fails unless `label_values(<matcher>, <label>)` (a dashboard variable's query) has `want`.
async fn ensure_label_value(label: &str, matcher: &str, want: &str) -> Result<()> {
    let values = prometheus_api(
        &format!("/api/v1/label/{label}/values"),
        &[("match[]", matcher)],
    )
    .await?;
    ensure!(
        values
            .as_array()
            .is_some_and(|v| v.iter().any(|v| v == want)),
        "label_values({matcher}, {label}) has no {want}: {values}"
    );
    Ok(())
}

async fn dashboard_returns_data(pipeline: &str) -> Result<()> {
    scraped("spate_workers", pipeline).await?;
    // The variables' own queries find the pipeline.
    ensure_label_value("namespace", "spate_workers", NAMESPACE).await?;
    let selector = format!("spate_workers{{namespace=\"{NAMESPACE}\"}}");
    ensure_label_value("pipeline", &selector, pipeline).await?;

    // The operator's series need its autoscaler running pods: e2e_autoscale covers them.
    let queries: Vec<String> = dashboard_queries()?
        .into_iter()
        .filter(|q| !q.contains("spate_operator_"))
        .collect();
    ensure!(
        queries.len() >= 15,
        "only {} consumer queries",
        queries.len()
    );
    for expr in &queries {
        let promql = as_grafana_sends_it(expr, NAMESPACE, pipeline);
        returns_data(&promql, Duration::from_secs(90))
            .await
            .with_context(|| format!("dashboard query {expr}"))?;
        println!("returns data: {promql}");
    }
    Ok(())
}

/// The rules file with its `for` durations and rate windows shortened, so that an outage
/// of a minute shows; the expressions are otherwise the shipped ones.
fn rules_for_a_short_outage() -> Result<String> {
    let text = std::fs::read_to_string(repo_root().join("manifests/monitoring/spate.rules.yaml"))?;
    let mut out = String::new();
    for line in text.lines() {
        let line = if line.trim_start().starts_with("for:") {
            format!("{}for: 5s", &line[..line.len() - line.trim_start().len()])
        } else {
            line.replace("[5m]", "[20s]").replace("[10m]", "[20s]")
        };
        out.push_str(&line);
        out.push('\n');
    }
    ensure!(
        out.contains("for: 5s") && out.contains("[20s]"),
        "nothing shortened"
    );
    Ok(out)
}

/// The states of `alert` for `pipeline` Prometheus holds now.
async fn alert_states(alert: &str, pipeline: &str) -> Result<Vec<String>> {
    Ok(prometheus_alerts()
        .await?
        .iter()
        .filter(|a| a["labels"]["alertname"] == alert && a["labels"]["pipeline"] == pipeline)
        .map(|a| a["state"].as_str().unwrap_or_default().to_owned())
        .collect())
}

async fn wait_alert(alert: &str, pipeline: &str, firing: bool) -> Result<()> {
    let what = if firing { "to fire" } else { "to resolve" };
    eventually(
        &format!("{alert} {what}"),
        Duration::from_secs(240),
        || async {
            let states = alert_states(alert, pipeline)
                .await
                .map_err(|e| e.to_string())?;
            let fires = states.iter().any(|s| s == "firing");
            let gone = states.is_empty();
            if (firing && fires) || (!firing && gone) {
                Ok(())
            } else {
                Err(format!("{alert}: {states:?}"))
            }
        },
    )
    .await?;
    println!("{alert} {what}: done");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn questdb_stopped_fires_the_flush_error_and_latency_alerts_and_restarted_resolves_them()
-> Result<()> {
    TestEnv::get();
    let pipeline = unique_name("alerts");
    let mut questdb = DedicatedQuestdb::new(&pipeline);
    questdb.start().await;
    let mut spec = ConsumerSpec::new(&unique_name("alerts"), &unique_table("alerts"));
    spec.questdb_http = questdb.http_url();
    spec.extra
        .push(("SPATE_TARGET_LATENCY_MS".into(), "2000".into()));
    let rules = load_prometheus_rules(&pipeline, &rules_for_a_short_outage()?).await?;
    let load = Loaded::start(&spec, &pipeline).await?;
    let outcome = outage(&mut questdb, &pipeline).await;
    load.stop().await;
    questdb.stop();
    rules.unload().await?;
    outcome
}

async fn outage(questdb: &mut DedicatedQuestdb, pipeline: &str) -> Result<()> {
    scraped("spate_target_latency_seconds", pipeline).await?;
    const ALERTS: [&str; 2] = ["SpateQuestdbFlushErrors", "SpateHighProcessingLatency"];
    // Quiet while QuestDB answers (the first records may wait for the table).
    for alert in ALERTS {
        wait_alert(alert, pipeline, false).await?;
    }
    questdb.stop();
    for alert in ALERTS {
        wait_alert(alert, pipeline, true).await?;
    }
    questdb.start().await;
    for alert in ALERTS {
        wait_alert(alert, pipeline, false).await?;
    }
    Ok(())
}
