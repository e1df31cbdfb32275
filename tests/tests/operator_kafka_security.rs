//! Kafka security through the operator, on the node: a pipeline reading the SASL_SSL
//! listener with SCRAM-SHA-512 and the environment's CA, both from Secrets the operator
//! never reads, gets ready consumer pods that write every trade once. A wrong password
//! makes the pipeline Degraded with reason KafkaAuthenticationFailed and a Warning Event,
//! without the password anywhere in the pipeline; fixing the Secret brings it back to Ready.

mod operator_support;

use std::time::Duration;

use anyhow::{Result, ensure};
use kube::api::Api;
use operator_support::*;
use spate_consumer::loadgen::OutputFormat;
use spate_operator::crd::IngestionPipeline;
use spate_tests::demo::{Load, Phase, Schedule};
use spate_tests::operator::OperatorOptions;
use spate_tests::{
    TestEnv, create_topic, eventually, kubectl_ok, kubectl_with_input, questdb_distinct_trades,
    unique_name, unique_table, wait_for_questdb_count,
};

/// `kubectl create secret generic NAME` in `ns` with `literals` (`key=value`) and `files`
/// (`key=path`), replacing one that exists.
fn secret(ns: &str, name: &str, literals: &[(&str, &str)], files: &[(&str, &str)]) -> Result<()> {
    let mut args: Vec<String> = ["create", "secret", "generic", name, "-n", ns]
        .map(String::from)
        .to_vec();
    args.extend(
        literals
            .iter()
            .map(|(k, v)| format!("--from-literal={k}={v}")),
    );
    args.extend(files.iter().map(|(k, p)| format!("--from-file={k}={p}")));
    args.extend(["--dry-run=client", "-o", "yaml"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let yaml = spate_tests::kubectl(&args)?;
    ensure!(yaml.success, "kubectl create secret: {}", yaml.stderr);
    let applied = kubectl_with_input(&["apply", "-n", ns, "-f", "-"], Some(&yaml.stdout))?;
    ensure!(
        applied.success,
        "kubectl apply of the Secret: {}",
        applied.stderr
    );
    Ok(())
}

/// Waits until the pipeline's Degraded condition has `reason` (Some) or is not True (None).
async fn degraded(pipelines: &Api<IngestionPipeline>, want: Option<&str>) -> Result<String> {
    Ok(eventually(&format!("Degraded {want:?}"), SETTLE, || async {
        let p = pipelines.get(EXAMPLE).await.map_err(|e| e.to_string())?;
        let d = condition(&p, "Degraded");
        match (&d, want) {
            (Some((s, reason, message)), Some(w)) if s == "True" && reason == w => {
                Ok(message.clone())
            }
            (Some((s, _, _)), None) if s != "True" => Ok(String::new()),
            (None, None) => Ok(String::new()),
            _ => Err(format!("{d:?}")),
        }
    })
    .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_over_sasl_ssl_writes_every_trade_and_a_wrong_password_degrades_it_until_fixed()
-> Result<()> {
    let cluster = Cluster::start("kafka-sec", &OperatorOptions::default()).await?;
    let outcome = scenario(&cluster).await;
    cluster.finish(outcome).await
}

async fn scenario(cluster: &Cluster) -> Result<()> {
    let env = TestEnv::get();
    let ns = cluster.ns.as_str();
    let var = |k: &str| env.kafka_var(k).to_owned();
    let topic = unique_name("sec-trades");
    let table = unique_table("sec_trades");
    create_topic(&topic, 2).await?;

    // A password Kafka refuses, with the characters that broke a spliced configuration.
    let wrong = "not-it,;=\"'";
    secret(
        ns,
        "kafka-user",
        &[("username", &var("KAFKA_SCRAM_USER")), ("password", wrong)],
        &[],
    )?;
    secret(ns, "kafka-ca", &[], &[("ca.crt", &var("KAFKA_CA_FILE"))])?;
    let brokers = var("KAFKA_SASL_SSL_BROKERS");
    let yaml = example_pipeline(&topic, &table, |doc| {
        let source = &mut doc["spec"]["source"];
        source["bootstrapServers"] = brokers.as_str().into();
        source["credentials"] = serde_json::json!({
            "secretRef": {"name": "kafka-user"},
            "mechanism": "SCRAM-SHA-512",
            "securityProtocol": "SASL_SSL",
        });
        source["tls"] = serde_json::json!({"ca": {"secretName": "kafka-ca"}});
    })?;
    let (ok, out) = kubectl_apply_yaml(ns, &yaml)?;
    ensure!(ok, "kubectl apply: {out}");
    let pipelines: Api<IngestionPipeline> = cluster.api();

    // Refused: Degraded names the cause in the consumer's words, a Warning Event says it,
    // and the password is nowhere in the pipeline.
    let message = degraded(&pipelines, Some("KafkaAuthenticationFailed")).await?;
    println!("Degraded: {message}");
    let p = pipelines.get(EXAMPLE).await?;
    let status = serde_json::to_string(&p.status)?;
    ensure!(!status.contains(wrong), "the password is in the status");
    let warned = warnings(cluster, "KafkaAuthenticationFailed")
        .await?
        .iter()
        .any(|e| !e.note.as_deref().unwrap_or_default().contains(wrong));
    ensure!(warned, "no Warning Event KafkaAuthenticationFailed");

    // Fixed: the kubelet updates the mounted file, the consumer restarts itself and reads
    // over SASL_SSL; every trade lands once.
    secret(
        ns,
        "kafka-user",
        &[
            ("username", &var("KAFKA_SCRAM_USER")),
            ("password", &var("KAFKA_SCRAM_PASSWORD")),
        ],
        &[],
    )?;
    wait_condition(&pipelines, EXAMPLE, "Ready", "True").await?;
    degraded(&pipelines, None).await?;
    let schedule = Schedule(vec![Phase {
        rate: 2_000.0,
        seconds: 3.0,
    }]);
    let mut load = Load::start_in(&topic, schedule, 16, OutputFormat::CoinbaseMarketTrades)?;
    while !load.is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    load.finish()?;
    let produced = load.acked.load(std::sync::atomic::Ordering::Relaxed);
    ensure!(produced > 0, "Kafka acknowledged no trade");
    wait_for_questdb_count(&table, produced as i64, SETTLE).await?;
    let distinct = questdb_distinct_trades(&table).await?;
    ensure!(
        distinct == produced as i64,
        "{distinct} distinct of {produced}"
    );
    kubectl_ok(&[
        "delete",
        "ingestionpipeline",
        EXAMPLE,
        "-n",
        ns,
        "--wait=false",
    ])?;
    Ok(())
}
