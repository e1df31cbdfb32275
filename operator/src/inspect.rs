//! Why a pipeline's pods are not ready, in their own words: the kubelet's waiting reason
//! (an image it cannot pull, a crash loop), its FailedMount warnings (a Secret or key the
//! pipeline names that does not exist), and the consumer's `/readyz` (`<code>: <detail>`
//! lines: Kafka refused its credentials or its certificate, QuestDB is unreachable…). The
//! operator never reads the Secrets themselves; it reports what the pods meet.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};

use crate::build::names::{CONTAINER_NAME, METRICS_PORT, selector_string};

/// One problem of one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodProblem {
    /// The pod.
    pub pod: String,
    /// A short code: the consumer's readiness code, or the kubelet's reason.
    pub code: String,
    /// What it said.
    pub detail: String,
}

/// The Degraded reason of a problem code, or `None` for problems that are part of
/// running normally (starting, stopping).
pub fn reason_of(code: &str) -> Option<&'static str> {
    Some(match code {
        "kafka-authentication" => "KafkaAuthenticationFailed",
        "kafka-tls" => "KafkaTLSFailed",
        "kafka-unreachable" => "KafkaUnreachable",
        "questdb-authentication" => "QuestDBAuthenticationFailed",
        "questdb-unreachable" => "QuestDBUnreachable",
        "FailedMount" => "SecretNotFound",
        "CreateContainerConfigError" => "ConsumerConfigError",
        "ErrImagePull" | "ImagePullBackOff" | "ErrImageNeverPull" | "InvalidImageName" => {
            "ImageUnavailable"
        }
        "CrashLoopBackOff" => "ConsumerCrashLooping",
        "starting" | "stopping" | "ContainerCreating" | "PodInitializing" => return None,
        _ => "ConsumerNotReady",
    })
}

/// The problems a consumer's `/readyz` body lists: `<code>: <detail>` lines (a line
/// without a colon is its own code).
pub fn parse_readyz(pod: &str, body: &str) -> Vec<PodProblem> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (code, detail) = line.split_once(':').unwrap_or((line, ""));
            PodProblem {
                pod: pod.to_owned(),
                code: code.trim().to_owned(),
                detail: detail.trim().to_owned(),
            }
        })
        .collect()
}

/// The kubelet's reason the consumer container is waiting or was last terminated for.
pub fn container_problem(pod: &Pod) -> Option<PodProblem> {
    let status = pod
        .status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == CONTAINER_NAME)?;
    let waiting = status.state.as_ref()?.waiting.as_ref()?;
    let code = waiting.reason.clone()?;
    Some(PodProblem {
        pod: pod.name_any(),
        code,
        detail: waiting.message.clone().unwrap_or_default(),
    })
}

fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Asks the pods of pipeline `name` in `ns` why the ones not ready are not: at most
/// `limit` pods, each briefly.
pub async fn pod_problems(
    client: &Client,
    http: &reqwest::Client,
    ns: &str,
    name: &str,
    limit: usize,
) -> Vec<PodProblem> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let Ok(list) = pods
        .list(&ListParams::default().labels(&selector_string(name)))
        .await
    else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    for pod in list
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && !ready(p))
        .take(limit)
    {
        if let Some(p) = container_problem(pod) {
            if p.code == "ContainerCreating" {
                problems.extend(mount_warnings(client, ns, &pod.name_any()).await);
            }
            problems.push(p);
            continue;
        }
        let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone());
        if let Some(ip) = ip {
            let url = format!("http://{ip}:{METRICS_PORT}/readyz");
            if let Ok(resp) = http.get(&url).send().await
                && let Ok(body) = resp.text().await
            {
                problems.extend(parse_readyz(&pod.name_any(), &body));
            }
        }
    }
    problems
}

/// The kubelet's FailedMount warnings about `pod` (a referenced Secret or key missing).
async fn mount_warnings(client: &Client, ns: &str, pod: &str) -> Vec<PodProblem> {
    let events: Api<Event> = Api::namespaced(client.clone(), ns);
    let selector = format!("involvedObject.name={pod},reason=FailedMount");
    let Ok(list) = events.list(&ListParams::default().fields(&selector)).await else {
        return Vec::new();
    };
    list.items
        .into_iter()
        .max_by_key(|e| e.last_timestamp.clone().map(|t| t.0))
        .map(|e| PodProblem {
            pod: pod.to_owned(),
            code: "FailedMount".into(),
            detail: e.message.unwrap_or_default(),
        })
        .into_iter()
        .collect()
}

/// The client the reconciler asks the pods with: short timeouts, no proxy.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .connect_timeout(Duration::from_secs(1))
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readyz_lines_become_coded_problems() {
        let got = parse_readyz(
            "p-1",
            "kafka-authentication: SASL authentication error: invalid credentials\nquestdb-unreachable\n",
        );
        assert_eq!(
            got,
            vec![
                PodProblem {
                    pod: "p-1".into(),
                    code: "kafka-authentication".into(),
                    detail: "SASL authentication error: invalid credentials".into()
                },
                PodProblem {
                    pod: "p-1".into(),
                    code: "questdb-unreachable".into(),
                    detail: String::new()
                },
            ]
        );
    }

    #[test]
    fn a_consumer_starting_is_no_problem_but_refused_credentials_are() {
        assert_eq!(reason_of("starting"), None);
        assert_eq!(reason_of("ContainerCreating"), None);
        assert_eq!(
            reason_of("kafka-authentication"),
            Some("KafkaAuthenticationFailed")
        );
        assert_eq!(reason_of("kafka-tls"), Some("KafkaTLSFailed"));
        assert_eq!(reason_of("FailedMount"), Some("SecretNotFound"));
        assert_eq!(reason_of("something-new"), Some("ConsumerNotReady"));
    }
}
