//! `kubectl scale` on a pipeline with autoscaling off resizes its Deployment, within bounds.

mod operator_support;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use operator_support::*;
use spate_operator::crd::IngestionPipeline;

const PIPELINE: &str = r#"
apiVersion: spate.dev/v1alpha1
kind: IngestionPipeline
metadata: {name: manual}
spec:
  source: {bootstrapServers: "kafka:9092", topics: [trades]}
  sink: {address: "questdb:9000"}
  replicas: {min: 1, max: 5}
  autoscaling: {enabled: false}
"#;

#[tokio::test]
async fn kubectl_scale_changes_the_deployment_when_autoscaling_is_off() -> Result<()> {
    let client = client_with_crd().await?;
    let ns = namespace(&client, "op-scale").await?;
    let mut op = Instance::start(&client, &ns, "scale-a").await;
    op.wait_leading().await?;
    let outcome = async {
        let (ok, out) = kubectl_apply_yaml(&ns, PIPELINE)?;
        anyhow::ensure!(ok, "{out}");
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        deployment_replicas(&deployments, "manual", 1).await?;

        let out = kubectl_ok(&[
            "scale",
            "-n",
            &ns,
            "ingestionpipeline/manual",
            "--replicas=3",
        ])?;
        println!("{}", out.trim());
        deployment_replicas(&deployments, "manual", 3).await?;
        let scale = kubectl_ok(&[
            "get",
            "-n",
            &ns,
            "ingestionpipeline/manual",
            "--subresource=scale",
            "-o",
            "jsonpath={.spec.replicas} {.status.selector}",
        ])?;
        println!("scale subresource: {scale}");
        anyhow::ensure!(
            scale.starts_with("3 ") && scale.contains("spate.dev/pipeline=manual"),
            "{scale}"
        );

        // Beyond replicas.max the Deployment stays at the bound.
        kubectl_ok(&[
            "scale",
            "-n",
            &ns,
            "ingestionpipeline/manual",
            "--replicas=9",
        ])?;
        deployment_replicas(&deployments, "manual", 5).await?;

        // Paused: zero pods, the rest kept.
        let pipelines: Api<IngestionPipeline> = Api::namespaced(client.clone(), &ns);
        let patch = serde_json::json!({"spec": {"paused": true}});
        pipelines
            .patch(
                "manual",
                &Default::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await?;
        deployment_replicas(&deployments, "manual", 0).await?;
        Ok(())
    }
    .await;
    op.stop().await;
    delete_namespace(&client, &ns).await?;
    outcome
}
