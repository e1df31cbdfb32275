//! Least privilege, checked against the real API server and pods: the consumers' control
//! endpoint takes only the operator's ServiceAccount token for its audience; the
//! namespaced operator can read no Secret and nothing outside its namespace; the
//! guardrail policy refuses an image override where a cluster admin binds it; the
//! consumers' NetworkPolicy is accepted (the local bridge CNI does not enforce it).

mod operator_support;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use operator_support::*;
use serde_json::json;
use spate_tests::node::wait_pods_ready;
use spate_tests::operator::OperatorOptions;
use spate_tests::{create_topic, eventually, kubectl, unique_name, unique_table};

/// A ServiceAccount token minted by the API server for `audience`.
fn token(ns: &str, service_account: &str, audience: &str) -> Result<String> {
    Ok(kubectl_ok(&[
        "create",
        "token",
        service_account,
        "-n",
        ns,
        "--audience",
        audience,
        "--duration",
        "10m",
    ])?
    .trim()
    .to_owned())
}

/// `PUT /control/workers` on a consumer pod: (status, body).
async fn put_workers(ip: &str, bearer: Option<&str>) -> Result<(u16, String)> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut request = client
        .put(format!("http://{ip}:9464/control/workers"))
        .body(r#"{"workers": 3}"#);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    Ok((response.status().as_u16(), response.text().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_endpoint_takes_only_the_operators_token_for_its_audience() -> Result<()> {
    let cluster = Cluster::start("sec-control", &OperatorOptions::default()).await?;
    let outcome = async {
        let ns = cluster.ns.as_str();
        let topic = unique_name("control-trades");
        create_topic(&topic, 2).await?;
        let yaml = example_pipeline(&topic, &unique_table("control_trades"), |d| {
            d["spec"]["autoscaling"] = json!({"enabled": false});
        })?;
        kubectl_apply(ns, &yaml)?;
        let pods: Api<Pod> = cluster.api();
        let pod = wait_pods_ready(&pods, "spate.dev/pipeline=coinbase-trades", 1, SETTLE)
            .await?
            .remove(0);
        let ip = pod.status.and_then(|s| s.pod_ip).context("the pod's IP")?;

        let (status, body) = put_workers(&ip, None).await?;
        ensure!(status == 401, "no token: {status} {body}");
        let other_audience = token(ns, "spate-operator", "https://kubernetes.default.svc")?;
        let (status, body) = put_workers(&ip, Some(&other_audience)).await?;
        ensure!(
            status == 401 && body.contains("audience"),
            "the operator's token for another audience: {status} {body}"
        );
        let other_account = token(ns, "default", "spate.dev/control")?;
        let (status, body) = put_workers(&ip, Some(&other_account)).await?;
        ensure!(
            status == 401 && body.contains("may not use the control endpoint"),
            "another ServiceAccount's token: {status} {body}"
        );
        let operators = token(ns, "spate-operator", "spate.dev/control")?;
        let (status, body) = put_workers(&ip, Some(&operators)).await?;
        ensure!(
            status == 200 && body.contains("\"workers\":3"),
            "the operator's token: {status} {body}"
        );
        Ok(())
    }
    .await;
    cluster.finish(outcome).await
}

/// `kubectl auth can-i` as the operator's ServiceAccount of `ns`.
fn can(ns: &str, args: &[&str]) -> Result<bool> {
    let subject = format!("system:serviceaccount:{ns}:spate-operator");
    let mut all = vec!["auth", "can-i"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--as", &subject]);
    let out = kubectl(&all)?;
    Ok(out.stdout.trim() == "yes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_namespaced_operator_reads_no_secret_and_nothing_outside_its_namespace() -> Result<()> {
    let cluster = Cluster::start("sec-scope", &OperatorOptions::default()).await?;
    let outcome = (|| {
        let ns = cluster.ns.as_str();
        for allowed in [
            ["list", "ingestionpipelines.spate.dev", "-n", ns],
            ["patch", "ingestionpipelines.spate.dev/status", "-n", ns],
            ["patch", "deployments.apps", "-n", ns],
            ["list", "pods", "-n", ns],
        ] {
            ensure!(can(ns, &allowed)?, "the operator may not {allowed:?}");
        }
        for refused in [
            vec!["get", "secrets", "-n", ns],
            vec!["list", "secrets", "-n", ns],
            vec!["create", "secrets", "-n", ns],
            vec!["get", "secrets", "-n", "kube-system"],
            vec!["list", "pods", "-n", "default"],
            vec!["get", "configmaps", "-n", "kube-system"],
            vec!["list", "ingestionpipelines.spate.dev", "--all-namespaces"],
            vec!["patch", "deployments.apps", "-n", "default"],
        ] {
            ensure!(!can(ns, &refused)?, "the operator may {refused:?}");
        }
        Ok(())
    })();
    cluster.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guardrail_refuses_an_image_override_where_it_is_bound() -> Result<()> {
    let client = client_with_crd().await?;
    let ns = namespace(&client, "sec-policy").await?;
    let outcome = async {
        kubectl_ok(&["apply", "-k", "manifests/policies"])?;
        kubectl_ok(&[
            "label",
            "namespace",
            &ns,
            "spate.dev/restricted-pipelines=true",
        ])?;
        let with_image = example_pipeline("t", "trades", |d| {
            d["spec"]["image"] = json!("registry.example/anything:1");
        })?;
        // The API server loads a new policy and binding within seconds.
        let refusal = eventually("the guardrail to refuse the image", SETTLE, || async {
            match kubectl_apply_yaml(&ns, &with_image) {
                Ok((false, out)) if out.contains("spec.image is not allowed") => Ok(out),
                Ok((true, out)) => {
                    let _ = kubectl(&["delete", "ingestionpipeline", EXAMPLE, "-n", &ns]);
                    Err(format!("accepted: {out}"))
                }
                other => Err(format!("{other:?}")),
            }
        })
        .await?;
        println!("bound: {}", refusal.trim());
        kubectl_ok(&["label", "namespace", &ns, "spate.dev/restricted-pipelines-"])?;
        let accepted = eventually("the image accepted where unbound", SETTLE, || async {
            match kubectl_apply_yaml(&ns, &with_image) {
                Ok((true, out)) => Ok(out),
                other => Err(format!("{other:?}")),
            }
        })
        .await?;
        println!("unbound: {}", accepted.trim());
        Ok(())
    }
    .await;
    let _ = kubectl(&["delete", "-k", "manifests/policies", "--ignore-not-found"]);
    delete_namespace(&client, &ns).await?;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumers_network_policy_is_accepted_by_the_api_server() -> Result<()> {
    let client = client_with_crd().await?;
    let ns = namespace(&client, "sec-netpol").await?;
    let out = kubectl_ok(&[
        "apply",
        "-n",
        &ns,
        "-f",
        "manifests/network-policy/consumers.yaml",
        "--dry-run=server",
    ]);
    delete_namespace(&client, &ns).await?;
    let out = out?;
    ensure!(
        out.contains("networkpolicy.networking.k8s.io/spate-consumers"),
        "{out}"
    );
    Ok(())
}
