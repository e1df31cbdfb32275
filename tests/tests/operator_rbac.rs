//! The operator runs under exactly the RBAC the manifests ship: with one verb taken from a
//! copy of its rules, the failure shows on the pipeline (Degraded, reason Forbidden, and a
//! Warning Event) while the operator keeps running, and it recovers once the verb is back.

mod operator_support;

use std::time::Duration;

use anyhow::{Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{Api, Patch, PatchParams};
use operator_support::*;
use spate_operator::crd::IngestionPipeline;
use spate_tests::node::restart_count;
use spate_tests::operator::{OperatorOptions, shipped_rules};
use spate_tests::{create_topic, eventually, unique_name, unique_table};

/// The shipped rules without `verb` on `resource`.
fn without(rules: &[PolicyRule], resource: &str, verb: &str) -> Vec<PolicyRule> {
    rules
        .iter()
        .cloned()
        .map(|mut r| {
            if r.resources
                .as_ref()
                .is_some_and(|rs| rs.iter().any(|x| x == resource))
            {
                r.verbs.retain(|v| v != verb);
            }
            r
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_the_operator_lacks_shows_on_the_pipeline_not_as_a_crash_loop() -> Result<()> {
    let shipped = shipped_rules()?;
    ensure!(
        shipped.iter().any(|r| r
            .resources
            .as_ref()
            .is_some_and(|rs| rs.iter().any(|x| x == "poddisruptionbudgets"))
            && r.verbs.iter().any(|v| v == "patch")),
        "the shipped rules let the operator patch PodDisruptionBudgets: {shipped:?}"
    );
    let options = OperatorOptions {
        rules: Some(without(&shipped, "poddisruptionbudgets", "patch")),
        ..OperatorOptions::default()
    };
    let cluster = Cluster::start("op-rbac", &options).await?;
    let outcome = async {
        let ns = cluster.ns.as_str();
        let pipelines: Api<IngestionPipeline> = cluster.api();
        let topic = unique_name("rbac-trades");
        create_topic(&topic, 2).await?;
        kubectl_apply(
            ns,
            &example_pipeline(&topic, &unique_table("rbac_trades"), |_| {})?,
        )?;

        // Server-side apply is a patch: the PodDisruptionBudget is refused, and says so.
        let (status, reason, message) = eventually("Degraded: Forbidden", SETTLE, || async {
            let p = pipelines.get(EXAMPLE).await.map_err(|e| e.to_string())?;
            match condition(&p, "Degraded") {
                Some((s, r, m)) if s == "True" && r == "Forbidden" => Ok((s, r, m)),
                other => Err(format!("{other:?}")),
            }
        })
        .await?;
        println!("Degraded={status} {reason}: {message}");
        ensure!(
            message.contains("poddisruptionbudgets") && message.contains("forbidden"),
            "the message names what was refused: {message}"
        );
        let warned = !warnings(&cluster, "Forbidden").await?.is_empty();
        ensure!(warned, "no Warning Event with reason Forbidden");
        let deployments: Api<Deployment> = cluster.api();
        ensure!(
            deployments.get_opt(EXAMPLE).await?.is_none(),
            "the Deployment is applied after the PodDisruptionBudget"
        );

        // Not a crash loop: the operator's pods stay up and ready while it retries.
        tokio::time::sleep(Duration::from_secs(10)).await;
        cluster.operator.wait_available(2).await?;
        for pod in cluster.operator.pods().await? {
            let restarts = restart_count(&pod, "operator");
            ensure!(restarts == 0, "an operator pod restarted {restarts} times");
        }

        // The verb given back (and the pipeline touched, so the backoff does not delay
        // the retry), the reconcile succeeds and Degraded clears.
        let roles: Api<ClusterRole> = Api::all(cluster.client.clone());
        let fixed = serde_json::json!({"rules": shipped});
        roles
            .patch(
                &format!("spate-operator-{ns}"),
                &PatchParams::default(),
                &Patch::Merge(&fixed),
            )
            .await?;
        kubectl_ok(&[
            "annotate",
            "-n",
            ns,
            "ingestionpipeline",
            EXAMPLE,
            "spate.dev/touched=rbac",
        ])?;
        deployment_replicas(&deployments, EXAMPLE, 1).await?;
        wait_condition(&pipelines, EXAMPLE, "Degraded", "False").await?;
        Ok(())
    }
    .await;
    let roles: Api<ClusterRole> = Api::all(cluster.client.clone());
    let _ = roles
        .delete(
            &format!("spate-operator-{}", cluster.ns),
            &Default::default(),
        )
        .await;
    cluster.finish(outcome).await
}
