//! `kubectl apply -k manifests/` (cluster-wide) and an overlay of `manifests/namespaced/` are
//! accepted by the real API server (server-side dry run), and what they install is
//! least-privilege.

mod operator_support;

use anyhow::{Result, ensure};
use operator_support::*;
use spate_tests::repo_root;

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

#[tokio::test]
async fn the_namespaced_install_binds_the_rules_in_its_own_namespace_only() -> Result<()> {
    let client = client_with_crd().await?;
    let ns = namespace(&client, "op-namespaced").await?;
    let overlay = repo_root().join(".spate/overlays").join(&ns);
    std::fs::create_dir_all(&overlay)?;
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!("namespace: {ns}\nresources: [../../../manifests/namespaced]\n"),
    )?;
    let dir = overlay.to_string_lossy().into_owned();
    let outcome = (|| {
        let rendered = kubectl_ok(&["kustomize", &dir])?;
        ensure!(
            !rendered.contains("kind: ClusterRoleBinding"),
            "the namespaced install binds cluster-wide"
        );
        ensure!(
            rendered.contains("name: SPATE_WATCH_NAMESPACES"),
            "the namespaced install watches every namespace"
        );
        let out = kubectl_ok(&["apply", "-k", &dir, "--dry-run=server"])?;
        println!("{}", out.trim());
        for object in [
            "serviceaccount/spate-operator",
            "clusterrole.rbac.authorization.k8s.io/spate-operator",
            "rolebinding.rbac.authorization.k8s.io/spate-operator",
            "rolebinding.rbac.authorization.k8s.io/spate-operator-leader-election",
            "deployment.apps/spate-operator",
        ] {
            ensure!(out.contains(object), "{object} missing from the dry run");
        }
        Ok(())
    })();
    delete_namespace(&client, &ns).await?;
    outcome
}

#[test]
fn the_rbac_has_no_wildcards() -> Result<()> {
    for dir in ["manifests/", "manifests/base"] {
        let rendered = kubectl_ok(&["kustomize", dir])?;
        ensure!(
            !rendered.contains("'*'") && !rendered.contains("\"*\"") && !rendered.contains("[*]"),
            "a wildcard in {dir}"
        );
        ensure!(
            rendered.contains("readOnlyRootFilesystem: true")
                && rendered.contains("runAsNonRoot: true"),
            "{dir} runs the operator without its security context"
        );
    }
    Ok(())
}
