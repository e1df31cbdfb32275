//! Scheduled capacity on the real API server and node: a window of `autoscaling.schedules`
//! brings its pods under its own reason, a new leader holds them (the window follows from
//! the spec and the clock, nothing to recall), and they are released once it ends.

mod operator_support;

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, Patch, PatchParams};
use operator_support::*;
use spate_operator::crd::IngestionPipeline;
use spate_tests::operator::OperatorOptions;
use spate_tests::{create_topic, unique_name, unique_table};

const NAME: &str = "coinbase-trades";

/// `spate-loadgen` producing 20 000 trades/s for 30 s, then 300/s, until dropped.
struct Load(std::process::Child);

impl Load {
    fn start(topic: &str) -> Result<Load> {
        let log = spate_tests::TestEnv::get()
            .log_dir
            .join("operator-tests")
            .join(format!("{topic}-loadgen.log"));
        std::fs::create_dir_all(log.parent().expect("a log directory"))?;
        let out = std::fs::File::create(&log)?;
        let child = std::process::Command::new(spate_tests::loadgen_binary())
            .args(["--brokers", &spate_tests::TestEnv::get().kafka_brokers])
            .args(["--topic", topic, "--format", "coinbase-market-trades"])
            .args(["--profile", "step:20000:300:30", "--duration", "600"])
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        Ok(Load(child))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The replicas the Deployment asks for now.
async fn asked(deployments: &Api<Deployment>) -> Result<Option<i32>> {
    Ok(deployments
        .get_opt(NAME)
        .await?
        .and_then(|d| d.spec)
        .and_then(|s| s.replicas))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_brings_its_pods_a_new_leader_keeps_them_and_its_end_releases_them() -> Result<()>
{
    let cluster = Cluster::start("op-sched", &OperatorOptions::default()).await?;
    let (client, ns) = (cluster.client.clone(), cluster.ns.clone());
    let outcome = async {
        let topic = unique_name("sched-trades");
        create_topic(&topic, 4).await?;
        // A backlog, then a light load: the autoscaler releases capacity only on a measured
        // service rate, which workers show once a backlog keeps them busy.
        let _load = Load::start(&topic)?;
        let yaml = example_pipeline(&topic, &unique_table("sched_trades"), |doc| {
            let spec = &mut doc["spec"];
            spec["workers"] = serde_json::json!({"min": 1, "max": 2, "initial": 1});
            spec["replicas"] = serde_json::json!({"min": 1, "max": 4});
            spec["autoscaling"]["perWorkerRateHint"] = 1000.0.into();
            spec["autoscaling"]["stabilization"]["scaleDownSeconds"] = 10.into();
            // Opens every minute in New York and lasts a day: open whenever the test runs.
            spec["autoscaling"]["schedules"] = serde_json::json!([{
                "name": "always",
                "cron": "* * * * *",
                "timeZone": "America/New_York",
                "durationSeconds": 86400,
                "leadSeconds": 0,
                "minReplicas": 3,
            }]);
        })?;
        kubectl_apply(&ns, &yaml)?;
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
        deployment_replicas(&deployments, NAME, 3).await?;

        let pipelines: Api<IngestionPipeline> = Api::namespaced(client.clone(), &ns);
        let status = pipelines.get(NAME).await?.status.and_then(|s| s.autoscaler);
        let reason = status.as_ref().and_then(|a| a.reason.clone());
        println!("autoscaler status: {status:?}");
        ensure!(reason.as_deref() == Some("Scheduled"), "{status:?}");
        let events: Api<Event> = cluster.api();
        let scheduled: Vec<String> = events
            .list(&Default::default())
            .await?
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("Scheduled"))
            .filter_map(|e| e.message)
            .collect();
        println!("Scheduled events: {scheduled:?}");
        ensure!(
            scheduled.iter().any(|n| n.contains("always (opened")),
            "no Scheduled event names the window: {scheduled:?}"
        );

        // The leader dies; its successor holds the window's pods from its first round.
        let killed = cluster.operator.kill_leader().await?;
        println!("killed the leading operator {killed}");
        let watch_until = Instant::now() + Duration::from_secs(45);
        let mut successor = None;
        while Instant::now() < watch_until {
            let replicas = asked(&deployments).await?;
            ensure!(
                replicas == Some(3),
                "the Deployment asked for {replicas:?} pods within the window after the leader died"
            );
            if successor.is_none() {
                successor = cluster
                    .operator
                    .leader()
                    .await
                    .ok()
                    .filter(|l| *l != killed);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let successor = successor.ok_or_else(|| anyhow::anyhow!("no new leader in 45 s"))?;
        println!("{successor} leads and holds 3 pods");

        // The window is gone (its end, as the policy sees it): the pods go after the dwell.
        let patch = serde_json::json!({"spec": {"autoscaling": {"schedules": null}}});
        pipelines
            .patch(NAME, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        let released = Instant::now();
        deployment_replicas(&deployments, NAME, 1).await?;
        println!(
            "released to 1 pod {:.0} s after the window ended",
            released.elapsed().as_secs_f64()
        );
        Ok(())
    }
    .await;
    cluster.finish(outcome).await
}
