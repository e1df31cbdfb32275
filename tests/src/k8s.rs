//! A Kubernetes client for the local API server, from the environment's kubeconfig.

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::{Error, TestEnv};

/// A client of the local API server with the admin kubeconfig.
pub async fn kube_client() -> Result<kube::Client, Error> {
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
