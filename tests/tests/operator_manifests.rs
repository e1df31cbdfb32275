//! `kubectl apply -k manifests/` is accepted by the real API server (server-side dry run),
//! and what it installs is least-privilege.

mod operator_support;

use anyhow::{Result, ensure};
use operator_support::*;

#[tokio::test]
async fn the_kustomization_is_accepted_by_the_api_server() -> Result<()> {
    let _client = client_with_crd().await?;
    // The namespace must exist for a dry run of the namespaced objects in it.
    kubectl_ok(&["apply", "-f", "manifests/namespace.yaml"])?;
    let out = kubectl_ok(&["apply", "-k", "manifests/", "--dry-run=server"])?;
    println!("{}", out.trim());
    for object in [
        "namespace/spate-system",
        "customresourcedefinition.apiextensions.k8s.io/ingestionpipelines.spate.dev",
        "serviceaccount/spate-operator",
        "clusterrole.rbac.authorization.k8s.io/spate-operator",
        "clusterrolebinding.rbac.authorization.k8s.io/spate-operator",
        "role.rbac.authorization.k8s.io/spate-operator-leader-election",
        "rolebinding.rbac.authorization.k8s.io/spate-operator-leader-election",
        "deployment.apps/spate-operator",
        "poddisruptionbudget.policy/spate-operator",
    ] {
        ensure!(out.contains(object), "{object} missing from the dry run");
    }
    Ok(())
}

#[test]
fn the_rbac_has_no_wildcards() -> Result<()> {
    let rendered = kubectl_ok(&["kustomize", "manifests/"])?;
    ensure!(
        !rendered.contains("'*'") && !rendered.contains("\"*\"") && !rendered.contains("[*]"),
        "a wildcard in the manifests"
    );
    ensure!(
        rendered.contains("readOnlyRootFilesystem: true")
            && rendered.contains("runAsNonRoot: true")
    );
    Ok(())
}
