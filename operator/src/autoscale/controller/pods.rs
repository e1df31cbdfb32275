//! The consumer pods of a pipeline as the autoscaler sees them: which are ready, and where.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

/// A ready consumer pod and its address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadyPod {
    /// The pod's name.
    pub name: String,
    /// Its IP.
    pub ip: String,
}

impl ReadyPod {
    /// The consumer's base URL on `port`.
    pub fn url(&self, port: u16) -> String {
        if self.ip.contains(':') {
            format!("http://[{}]:{port}", self.ip)
        } else {
            format!("http://{}:{port}", self.ip)
        }
    }
}

/// The pods that run, are Ready, have an IP and are not being deleted, by name.
pub fn ready_pods(pods: &[Pod]) -> Vec<ReadyPod> {
    let mut ready: Vec<ReadyPod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| {
            let status = p.status.as_ref()?;
            let is_ready = status
                .conditions
                .as_ref()?
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            let ip = status.pod_ip.clone().filter(|ip| !ip.is_empty())?;
            (is_ready && status.phase.as_deref() == Some("Running")).then(|| ReadyPod {
                name: p.name_any(),
                ip,
            })
        })
        .collect();
    ready.sort_by(|a, b| a.name.cmp(&b.name));
    ready
}

/// The names of `pods`.
pub fn names(pods: &[ReadyPod]) -> BTreeSet<String> {
    pods.iter().map(|p| p.name.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    use k8s_openapi::jiff::Timestamp;

    fn pod(name: &str, phase: &str, ready: bool, ip: Option<&str>, deleting: bool) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                deletion_timestamp: deleting.then(|| Time(Timestamp::now())),
                ..ObjectMeta::default()
            },
            status: Some(PodStatus {
                phase: Some(phase.into()),
                pod_ip: ip.map(Into::into),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    #[test]
    fn only_running_ready_addressed_pods_not_being_deleted_count() {
        let pods = vec![
            pod("c", "Running", true, Some("127.1.0.3"), false),
            pod("a", "Running", true, Some("127.1.0.1"), false),
            pod("starting", "Running", false, Some("127.1.0.4"), false),
            pod("pending", "Pending", false, None, false),
            pod("leaving", "Running", true, Some("127.1.0.5"), true),
            pod("no-ip", "Running", true, None, false),
        ];
        let ready = ready_pods(&pods);
        assert_eq!(
            ready,
            vec![
                ReadyPod {
                    name: "a".into(),
                    ip: "127.1.0.1".into()
                },
                ReadyPod {
                    name: "c".into(),
                    ip: "127.1.0.3".into()
                },
            ]
        );
        assert_eq!(ready[0].url(9464), "http://127.1.0.1:9464");
        assert_eq!(
            ReadyPod {
                name: "v6".into(),
                ip: "fd00::1".into()
            }
            .url(9464),
            "http://[fd00::1]:9464"
        );
    }
}
