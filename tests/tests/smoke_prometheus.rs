//! Smoke test: the local Prometheus scrapes itself, the targets listed in its file_sd file
//! and the cluster's pods that ask for it (at their pod IP), and answers queries about them.

use std::time::Duration;

use serde_json::Value;
use spate_tests::{add_prometheus_target, eventually, prometheus_query, unique_name};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The value of the single sample `promql` returns, or why there is none.
async fn single_value(promql: String) -> Result<String, String> {
    let result = prometheus_query(&promql).await.map_err(|e| e.to_string())?;
    match result.as_slice() {
        [sample] => sample["value"][1]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no value in {sample}")),
        other => Err(format!("{} samples", other.len())),
    }
}

#[tokio::test]
async fn prometheus_reports_its_own_target_up() {
    // Its own address: a series of an earlier run on another port may still be in range.
    let url = spate_tests::TestEnv::get().prometheus_url();
    let instance = url.trim_start_matches("http://").trim_end_matches('/');
    let up = eventually(
        "Prometheus to scrape itself",
        Duration::from_secs(60),
        || single_value(format!("up{{job=\"prometheus\",instance=\"{instance}\"}}")),
    )
    .await
    .expect("a sample of up for Prometheus itself");
    assert_eq!(up, "1");
}

/// Serves `body` as `/metrics` (any path, in fact) to every connection.
async fn serve_metrics(listener: TcpListener, body: String) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let body = body.clone();
        tokio::spawn(async move {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
            let _ = socket.shutdown().await;
        });
    }
}

#[tokio::test]
async fn a_target_added_to_the_targets_file_is_scraped() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address").to_string();
    let instance = unique_name("smoke");
    let server = tokio::spawn(serve_metrics(
        listener,
        "# TYPE spate_smoke_value gauge\nspate_smoke_value 42\n".to_owned(),
    ));
    let _target = add_prometheus_target("spate-smoke", &[("smoke", &instance)], &addr)
        .expect("add the target");

    let selector = format!("{{job=\"spate-smoke\",smoke=\"{instance}\"}}");
    let up = eventually(
        "Prometheus to scrape the new target",
        Duration::from_secs(60),
        || single_value(format!("up{selector}")),
    )
    .await
    .expect("a sample of up for the new target");
    assert_eq!(up, "1");
    let value: Value = eventually("the served gauge", Duration::from_secs(30), || {
        single_value(format!("spate_smoke_value{selector}"))
    })
    .await
    .expect("the gauge is stored")
    .into();
    assert_eq!(value, "42");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_that_ask_for_it_are_scraped_at_their_pod_ip() {
    use spate_tests::operator::{OperatorDeployment, OperatorOptions};
    let client = spate_tests::kube_client().await.expect("client");
    spate_tests::demo::install_crd(&client).await.expect("CRD");
    let ns = unique_name("smoke-scrape");
    spate_tests::create_namespace(&client, &ns)
        .await
        .expect("namespace");
    // The operator's pods carry prometheus.io/scrape and /port annotations.
    let outcome = async {
        let operator = OperatorDeployment::install(&client, &ns, &OperatorOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        let ips: Vec<String> = operator
            .pods()
            .await
            .map_err(|e| e.to_string())?
            .iter()
            .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
            .map(|ip| format!("{ip}:8080"))
            .collect();
        let promql = format!("up{{job=\"kubernetes-pods\",namespace=\"{ns}\"}} == 1");
        eventually(
            "both operator pods scraped",
            Duration::from_secs(60),
            || async {
                let result = prometheus_query(&promql).await.map_err(|e| e.to_string())?;
                let mut scraped: Vec<String> = result
                    .iter()
                    .filter_map(|s| s["metric"]["instance"].as_str().map(str::to_owned))
                    .collect();
                scraped.sort();
                let mut want = ips.clone();
                want.sort();
                if scraped == want {
                    Ok(())
                } else {
                    Err(format!("scraped {scraped:?}, pods at {want:?}"))
                }
            },
        )
        .await
        .map_err(|e| e.to_string())
    }
    .await;
    let _ = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(client)
        .delete(&ns, &Default::default())
        .await;
    outcome.expect("the operator's pods are Prometheus targets");
}
