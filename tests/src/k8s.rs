//! A Kubernetes client for the local API server, from the environment's kubeconfig.

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::{Error, TestEnv};

/// A client of the local API server with the admin kubeconfig.
pub async fn kube_client() -> Result<kube::Client, Error> {
    // Two rustls crypto providers are linked (ring for kube, aws-lc-rs for reqwest), so
    // rustls cannot pick one by itself; kube's TLS config uses the process default.
    // An error means one is installed already, which is all we need.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let path = &TestEnv::get().kubeconfig;
    let unusable = |reason: String| Error::BuildKubeClient {
        path: path.clone(),
        reason,
    };
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| unusable(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| unusable(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| unusable(e.to_string()))
}
