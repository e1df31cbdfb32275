//! A Kubernetes client for the local API server, from the environment's kubeconfig, and
//! the namespace every test or demo run works in.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::{Error, TestEnv};

/// A client of the local API server with the admin kubeconfig.
pub async fn kube_client() -> Result<kube::Client, Error> {
    // kube's TLS config uses rustls' process-wide provider; install ring (the one kube
    // links) explicitly. An error means one is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let path = TestEnv::get().kubeconfig();
    let unusable = |reason: String| Error::BuildKubeClient {
        path: path.to_owned(),
        reason,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| unusable(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| unusable(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| unusable(e.to_string()))
}

/// Creates the namespace `name`, enforcing the `restricted` Pod Security Standard as the
/// namespace of `manifests/` does: every pod the operator or a test makes must pass it.
pub async fn create_namespace(client: &kube::Client, name: &str) -> Result<(), kube::Error> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                [(
                    "pod-security.kubernetes.io/enforce".to_string(),
                    "restricted".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    Ok(())
}
