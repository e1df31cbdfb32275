//! Bad IngestionPipelines are refused by the real API server at apply, with messages a
//! person can act on (the CRD's schema and CEL rules).

mod operator_support;

use anyhow::{Result, ensure};
use operator_support::*;

const VALID: &str = r#"
apiVersion: spate.dev/v1alpha1
kind: IngestionPipeline
metadata: {name: "NAME"}
spec:
  source: {bootstrapServers: "kafka:9092", topics: [trades]}
  sink: {address: "questdb:9000"}
  workers: {min: 1, max: 4}
  replicas: {min: 1, max: 3}
"#;

/// The valid pipeline with `from` replaced by `to`, named `name`.
fn variant(name: &str, from: &str, to: &str) -> String {
    let yaml = VALID.replace("NAME", name);
    assert!(
        from.is_empty() || yaml.contains(from),
        "{from} not in the template"
    );
    if from.is_empty() {
        yaml
    } else {
        yaml.replace(from, to)
    }
}

#[tokio::test]
async fn invalid_pipelines_are_refused_with_readable_messages() -> Result<()> {
    let client = client_with_crd().await?;
    let ns = namespace(&client, "op-validate").await?;
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "workers min > max",
            variant(
                "w",
                "workers: {min: 1, max: 4}",
                "workers: {min: 8, max: 2}",
            ),
            &["workers.min must be less than or equal to workers.max"],
        ),
        (
            "replicas min > max",
            variant(
                "r",
                "replicas: {min: 1, max: 3}",
                "replicas: {min: 5, max: 3}",
            ),
            &["replicas.min must be less than or equal to replicas.max"],
        ),
        (
            "negative replicas",
            variant(
                "n",
                "replicas: {min: 1, max: 3}",
                "replicas: {min: -1, max: 3}",
            ),
            &["spec.replicas.min", "greater than or equal to 0"],
        ),
        (
            "zero workers",
            variant(
                "z",
                "workers: {min: 1, max: 4}",
                "workers: {min: 0, max: 4}",
            ),
            &["spec.workers.min", "greater than or equal to 1"],
        ),
        (
            "too many workers",
            variant(
                "t",
                "workers: {min: 1, max: 4}",
                "workers: {min: 1, max: 1000}",
            ),
            &["spec.workers.max", "less than or equal to 256"],
        ),
        (
            "no topics",
            variant("e", "topics: [trades]", "topics: []"),
            &["spec.source.topics", "at least 1 items"],
        ),
        (
            "bad format",
            variant("f", "  sink:", "  format: protobuf\n  sink:"),
            &[
                "spec.format",
                "Unsupported value: \"protobuf\"",
                "coinbase-match",
            ],
        ),
        (
            "address and clientConf",
            variant(
                "s",
                "sink: {address: \"questdb:9000\"}",
                "sink: {address: \"questdb:9000\", clientConf: \"http::addr=questdb:9000;\"}",
            ),
            &["set exactly one of sink.address and sink.clientConf"],
        ),
        (
            "password in clientConf",
            variant(
                "p",
                "sink: {address: \"questdb:9000\"}",
                "sink: {clientConf: \"http::addr=q:9000;password=hunter2;\"}",
            ),
            &["hold no password or token"],
        ),
        (
            "secret in clientOptions",
            variant(
                "o",
                "topics: [trades]}",
                "topics: [trades], clientOptions: {sasl.password: x}}",
            ),
            &["secrets and security settings cannot be given in clientOptions"],
        ),
        (
            "schedule holding nothing",
            variant(
                "sn",
                "replicas: {min: 1, max: 3}",
                "replicas: {min: 1, max: 3}\n  autoscaling: {schedules: [{name: open, cron: \"30 9 * * 1-5\", durationSeconds: 600}]}",
            ),
            &["a schedule sets at least one of minReplicas, minWorkers and surgeFactor"],
        ),
        (
            "schedule without duration",
            variant(
                "sd",
                "replicas: {min: 1, max: 3}",
                "replicas: {min: 1, max: 3}\n  autoscaling: {schedules: [{name: open, cron: \"30 9 * * 1-5\", minReplicas: 2}]}",
            ),
            &["durationSeconds", "Required value"],
        ),
        ("headroom out of range", variant("h", "", ""), &[]),
    ];
    let mut failures = Vec::new();
    for (what, yaml, expected) in cases.iter().filter(|c| !c.2.is_empty()) {
        let (ok, output) = kubectl_apply_yaml(&ns, yaml)?;
        println!("--- {what}:\n{}", output.trim());
        if ok {
            failures.push(format!("{what}: accepted"));
        } else if let Some(missing) = expected.iter().find(|e| !output.contains(**e)) {
            failures.push(format!("{what}: message lacks {missing:?}"));
        }
    }
    let headroom = variant(
        "h",
        "replicas: {min: 1, max: 3}",
        "replicas: {min: 1, max: 3}\n  autoscaling: {headroom: 11}",
    );
    let (ok, output) = kubectl_apply_yaml(&ns, &headroom)?;
    println!("--- headroom 11:\n{}", output.trim());
    if ok || !output.contains("spec.autoscaling.headroom") {
        failures.push("headroom 11 not refused by field".into());
    }
    let name = variant("Bad_Name", "", "");
    let (ok, output) = kubectl_apply_yaml(&ns, &name)?;
    println!("--- bad name:\n{}", output.trim());
    ensure!(!ok, "a name that is no DNS label was accepted");

    // A schedule the API server admits (cron and time zone are the operator's to read).
    let scheduled = variant(
        "scheduled",
        "replicas: {min: 1, max: 3}",
        "replicas: {min: 1, max: 3}\n  autoscaling: {schedules: [{name: us-open, cron: \"30 9 * * 1-5\", timeZone: America/New_York, durationSeconds: 1800, minReplicas: 3}]}",
    );
    let (ok, output) = kubectl_apply_yaml(&ns, &scheduled)?;
    println!("--- scheduled:\n{}", output.trim());
    if !ok {
        failures.push(format!("a valid schedule was refused: {output}"));
    }

    // The valid one is accepted, so the refusals above are about the changes alone.
    let (ok, output) = kubectl_apply_yaml(&ns, &variant("valid", "", ""))?;
    println!("--- valid:\n{}", output.trim());
    if !ok {
        failures.push(format!("the valid pipeline was refused: {output}"));
    }
    delete_namespace(&client, &ns).await?;
    ensure!(failures.is_empty(), "{failures:#?}");
    Ok(())
}

/// A sample of tunings, each field alone and mixed, at the edges of the CRD's ranges
/// and around the consumer's defaults: the API server (schema and CEL rules) admits
/// exactly those the operator's own validation accepts. Together with the contract
/// test (the operator accepts exactly what the consumer accepts), a tuning that passes
/// `kubectl apply` never crash-loops the consumer.
#[tokio::test]
async fn the_api_server_admits_exactly_the_tunings_the_operator_accepts() -> Result<()> {
    use kube::api::{Api, PostParams};
    use spate_operator::crd::IngestionPipeline;
    let client = client_with_crd().await?;
    let ns = namespace(&client, "op-tuning").await?;
    let api: Api<IngestionPipeline> = Api::namespaced(client.clone(), &ns);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let values = [0, 1, 49, 50, 99, 100, 101, 999, 1000, 1001, 50_000, 50_001];
    let fields = ["batchInitial", "batchMin", "batchMax", "lingerMs"];
    let mut tunings: Vec<String> = Vec::new();
    for field in fields {
        for v in values {
            tunings.push(format!("{field}: {v}"));
        }
    }
    // Mixed: a small deterministic walk over the same values.
    let mut x: usize = 7;
    for _ in 0..24 {
        let mut parts = Vec::new();
        for field in fields {
            x = (x * 31 + 17) % 101;
            if !x.is_multiple_of(3) {
                parts.push(format!("{field}: {}", values[x % values.len()]));
            }
        }
        tunings.push(parts.join(", "));
    }
    let mut disagreements = Vec::new();
    for (i, tuning) in tunings.iter().enumerate() {
        let yaml = variant(&format!("t{i}"), "", "").replace(
            "replicas: {min: 1, max: 3}",
            &format!("replicas: {{min: 1, max: 3}}\n  tuning: {{{tuning}}}"),
        );
        let pipeline: IngestionPipeline = serde_yaml::from_str(&yaml)?;
        let operator = spate_operator::validate::validate(&pipeline).map_err(|e| e.0.join("; "));
        let server = api.create(&dry_run, &pipeline).await.map(|_| ());
        let server = match server {
            Ok(()) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 422 => Err(status.message),
            Err(e) => return Err(e.into()),
        };
        if operator.is_ok() != server.is_ok() {
            disagreements.push(format!(
                "{{{tuning}}}: operator {operator:?}, API server {server:?}"
            ));
        }
    }
    delete_namespace(&client, &ns).await?;
    ensure!(
        disagreements.is_empty(),
        "{} of {} tunings disagree:\n{}",
        disagreements.len(),
        tunings.len(),
        disagreements.join("\n")
    );
    Ok(())
}
