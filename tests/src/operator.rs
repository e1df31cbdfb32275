//! spate-operator deployed the way users deploy it: `kubectl apply -k` of an overlay of
//! `manifests/namespaced/` into one namespace, with the operator's image, the consumer
//! image and the addresses patched and nothing else. It runs from its image, as two
//! replicas behind a Lease, under its own ServiceAccount and the RBAC the manifests ship.
//!
//! The local node has no kube-proxy, so the `kubernetes` Service's cluster IP does not
//! route; the overlay gives the operator the API server's address on the pod bridge
//! (`KUBERNETES_SERVICE_HOST`/`_PORT`), which is where in-cluster clients look first.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::env::repo_root;
use crate::images::Images;
use crate::kubectl::{kubectl, kubectl_ok};
use crate::{Error, TestEnv, eventually};

/// The operator pods' label selector.
pub const OPERATOR_SELECTOR: &str = "app.kubernetes.io/name=spate-operator";
/// The Lease the operator's replicas compete for, in their namespace.
pub const LEASE: &str = "spate-operator";

/// How an operator is installed.
#[derive(Clone, Debug, Default)]
pub struct OperatorOptions {
    /// Give the operator the environment's Prometheus (`PROMETHEUS_URL`); without it the
    /// autoscaler scrapes the consumer pods itself.
    pub prometheus: bool,
    /// Bind these rules instead of the shipped ones: a copy of the ClusterRole named
    /// after the namespace, bound by the RoleBinding in its place.
    pub rules: Option<Vec<PolicyRule>>,
}

/// One operator installation in one namespace.
pub struct OperatorDeployment {
    client: Client,
    /// The namespace it runs in and watches.
    pub namespace: String,
    /// The overlay it was applied from.
    pub overlay: PathBuf,
}

impl OperatorDeployment {
    /// Applies the overlay and waits until both replicas are ready and one holds the Lease.
    pub async fn install(
        client: &Client,
        namespace: &str,
        options: &OperatorOptions,
    ) -> Result<Self, Error> {
        let overlay = repo_root().join(".spate/overlays").join(namespace);
        write_overlay(&overlay, namespace, options)?;
        let dir = overlay.to_string_lossy().into_owned();
        kubectl_ok(&["apply", "-k", &dir])?;
        let operator = Self {
            client: client.clone(),
            namespace: namespace.to_owned(),
            overlay,
        };
        operator.wait_available(2).await?;
        operator.leader().await?;
        Ok(operator)
    }

    /// Waits until `replicas` operator pods are ready.
    pub async fn wait_available(&self, replicas: i32) -> Result<(), Error> {
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        eventually(
            "the operator's pods to be ready",
            Duration::from_secs(120),
            || async {
                let d = deployments
                    .get("spate-operator")
                    .await
                    .map_err(|e| e.to_string())?;
                let ready = d.status.and_then(|s| s.ready_replicas).unwrap_or(0);
                if ready >= replicas {
                    Ok(())
                } else {
                    Err(format!("{ready} of {replicas} ready"))
                }
            },
        )
        .await
    }

    /// The pod holding the Lease, once there is one.
    pub async fn leader(&self) -> Result<String, Error> {
        let leases: Api<Lease> = Api::namespaced(self.client.clone(), &self.namespace);
        eventually(
            "an operator replica to hold the Lease",
            Duration::from_secs(60),
            || async {
                leases
                    .get_opt(LEASE)
                    .await
                    .map_err(|e| e.to_string())?
                    .and_then(|l| l.spec)
                    .and_then(|s| s.holder_identity)
                    .filter(|h| !h.is_empty())
                    .ok_or_else(|| "no holder".to_string())
            },
        )
        .await
    }

    /// Kills the replica holding the Lease: its pod is deleted without a grace period, as
    /// a node failure or an OOM kill would end it. Returns its name.
    pub async fn kill_leader(&self) -> Result<String, Error> {
        let leader = self.leader().await?;
        kubectl_ok(&[
            "delete",
            "pod",
            "-n",
            &self.namespace,
            &leader,
            "--grace-period=0",
            "--force",
            "--wait=false",
        ])?;
        Ok(leader)
    }

    /// The operator's pods.
    pub async fn pods(&self) -> Result<Vec<Pod>, Error> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        pods.list(&ListParams::default().labels(OPERATOR_SELECTOR))
            .await
            .map(|l| l.items)
            .map_err(|e| Error::Kubectl {
                args: format!("list operator pods in {}", self.namespace),
                reason: e.to_string(),
            })
    }

    /// The logs of every operator pod, current and previous containers.
    pub async fn logs(&self) -> Result<String, Error> {
        let mut all = String::new();
        for pod in self.pods().await? {
            for previous in ["--previous=false", "--previous=true"] {
                let name = pod.name_any();
                let out = kubectl(&["logs", "-n", &self.namespace, &name, previous])?;
                if out.success && !out.stdout.is_empty() {
                    all.push_str(&format!("==> {name} {previous}\n{}", out.stdout));
                }
            }
        }
        Ok(all)
    }
}

/// The rules of the shipped `spate-operator` ClusterRole (`manifests/base/rbac.yaml`).
pub fn shipped_rules() -> Result<Vec<PolicyRule>, Error> {
    let rendered = kubectl_ok(&["kustomize", "manifests/base"])?;
    for doc in rendered.split("\n---\n") {
        if let Ok(role) = serde_yaml::from_str::<ClusterRole>(doc)
            && role.metadata.name.as_deref() == Some("spate-operator")
        {
            return Ok(role.rules.unwrap_or_default());
        }
    }
    Err(Error::Kubectl {
        args: "kustomize manifests/base".into(),
        reason: "no ClusterRole spate-operator in the output".into(),
    })
}

/// Writes `DIR/kustomization.yaml` (and the edited role when `options.rules` is set).
fn write_overlay(dir: &Path, namespace: &str, options: &OperatorOptions) -> Result<(), Error> {
    let env = TestEnv::get();
    let images = Images::get();
    let write = |name: &str, value: &serde_json::Value| {
        let path = dir.join(name);
        let text = to_yaml(value)?;
        std::fs::write(&path, text).map_err(|source| Error::WriteFile { path, source })
    };
    std::fs::create_dir_all(dir).map_err(|source| Error::WriteFile {
        path: dir.to_owned(),
        source,
    })?;
    let mut container_env = vec![
        json!({"name": "SPATE_CONSUMER_IMAGE", "value": images.consumer}),
        json!({"name": "KUBERNETES_SERVICE_HOST", "value": env.api_host()}),
        json!({"name": "KUBERNETES_SERVICE_PORT", "value": env.api_port()}),
    ];
    if options.prometheus {
        container_env.push(json!({"name": "PROMETHEUS_URL", "value": env.prometheus_url()}));
        // The local Prometheus scrapes every second (tests/env/prometheus/prometheus.yml.in).
        container_env
            .push(json!({"name": "SPATE_PROMETHEUS_SCRAPE_INTERVAL_SECONDS", "value": "1"}));
    }
    let deployment_patch = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "spate-operator"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "operator", "env": container_env}
        ]}}}
    });
    let mut resources = vec![json!("../../../manifests/namespaced")];
    let mut patches = vec![json!({"patch": to_yaml(&deployment_patch)?})];
    if let Some(rules) = &options.rules {
        let role_name = format!("spate-operator-{namespace}");
        write(
            "role.yaml",
            &json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": role_name},
                "rules": rules,
            }),
        )?;
        resources.push(json!("role.yaml"));
        patches.push(json!({
            "target": {"kind": "RoleBinding", "name": "spate-operator"},
            "patch": to_yaml(&json!([{"op": "replace", "path": "/roleRef/name", "value": role_name}]))?,
        }));
    }
    let (operator_name, operator_tag) = split_image(&images.operator);
    write(
        "kustomization.yaml",
        &json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "namespace": namespace,
            "resources": resources,
            "images": [{
                "name": "ghcr.io/spate-dev/spate-operator",
                "newName": operator_name,
                "newTag": operator_tag,
            }],
            "patches": patches,
        }),
    )
}

fn to_yaml(value: &serde_json::Value) -> Result<String, Error> {
    serde_yaml::to_string(value).map_err(|e| Error::Kubectl {
        args: "render the overlay".into(),
        reason: e.to_string(),
    })
}

/// `localhost/x:tag` → (`localhost/x`, `tag`).
fn split_image(image: &str) -> (&str, &str) {
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_splits_at_its_tag_not_at_a_registry_port() {
        assert_eq!(
            split_image("localhost/spate-operator:0.1.0-abc"),
            ("localhost/spate-operator", "0.1.0-abc")
        );
        assert_eq!(
            split_image("registry:5000/spate-operator"),
            ("registry:5000/spate-operator", "latest")
        );
    }
}
