//! `kubectl scale` on a pipeline with autoscaling off resizes its Deployment, within bounds;
//! the operator runs from its image, and the pods on the node.

mod operator_support;

use anyhow::Result;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use operator_support::*;
use spate_operator::crd::IngestionPipeline;
use spate_tests::operator::OperatorOptions;
use spate_tests::{TestEnv, create_topic, unique_name, unique_table};

fn pipeline(topic: &str, table: &str) -> String {
    let env = TestEnv::get();
    let questdb = env.questdb_http.trim_start_matches("http://");
    format!(
        r#"
apiVersion: spate.dev/v1alpha1
kind: IngestionPipeline
metadata: {{name: manual}}
spec:
  source: {{bootstrapServers: "{}", topics: [{topic}]}}
  sink: {{address: "{questdb}", table: {table}}}
  replicas: {{min: 1, max: 5}}
  autoscaling: {{enabled: false}}
"#,
        env.kafka_brokers
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_scale_changes_the_deployment_when_autoscaling_is_off() -> Result<()> {
    let cluster = Cluster::start("op-scale", &OperatorOptions::default()).await?;
    let (client, ns) = (cluster.client.clone(), cluster.ns.clone());
    let outcome = async {
        let topic = unique_name("scale-trades");
        create_topic(&topic, 6).await?;
        kubectl_apply(&ns, &pipeline(&topic, &unique_table("scale_trades")))?;
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
    cluster.finish(outcome).await
}
