//! The reconciler's errors, one variant per action that can fail.

/// A failed step of a reconcile; transient: the object is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pipeline has no namespace (it is a namespaced resource; this is a bug).
    #[error("IngestionPipeline {0} has no namespace")]
    MissingNamespace(String),
    /// Reading a Secret the spec references failed.
    #[error("reading Secret {name}: {source}")]
    GetSecret { name: String, source: kube::Error },
    /// Creating the control-token Secret failed.
    #[error("creating the control Secret: {0}")]
    CreateControlSecret(#[source] kube::Error),
    /// Reading the current Deployment failed.
    #[error("reading the Deployment: {0}")]
    GetDeployment(#[source] kube::Error),
    /// Applying the ConfigMap failed.
    #[error("applying the ConfigMap: {0}")]
    ApplyConfigMap(#[source] kube::Error),
    /// Applying the ServiceAccount failed.
    #[error("applying the ServiceAccount: {0}")]
    ApplyServiceAccount(#[source] kube::Error),
    /// Applying the Service failed.
    #[error("applying the Service: {0}")]
    ApplyService(#[source] kube::Error),
    /// Applying the PodDisruptionBudget failed.
    #[error("applying the PodDisruptionBudget: {0}")]
    ApplyPodDisruptionBudget(#[source] kube::Error),
    /// Applying the Deployment failed.
    #[error("applying the Deployment: {0}")]
    ApplyDeployment(#[source] kube::Error),
    /// Writing the pipeline's status failed.
    #[error("patching the pipeline status: {0}")]
    PatchStatus(#[source] kube::Error),
}

impl Error {
    /// A short label for metrics (`spate_operator_reconcile_failures_total{reason}`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingNamespace(_) => "missing_namespace",
            Self::GetSecret { .. } => "get_secret",
            Self::CreateControlSecret(_) => "create_control_secret",
            Self::GetDeployment(_) => "get_deployment",
            Self::ApplyConfigMap(_) => "apply_config_map",
            Self::ApplyServiceAccount(_) => "apply_service_account",
            Self::ApplyService(_) => "apply_service",
            Self::ApplyPodDisruptionBudget(_) => "apply_pod_disruption_budget",
            Self::ApplyDeployment(_) => "apply_deployment",
            Self::PatchStatus(_) => "patch_status",
        }
    }
}

impl Error {
    /// The reason the Degraded condition gives for this failure: `Forbidden` when the API
    /// server refused the operator a permission (its RBAC lacks a verb), else the failed
    /// action.
    pub fn condition_reason(&self) -> &'static str {
        let source = match self {
            Self::MissingNamespace(_) => None,
            Self::GetSecret { source, .. } => Some(source),
            Self::CreateControlSecret(e)
            | Self::GetDeployment(e)
            | Self::ApplyConfigMap(e)
            | Self::ApplyServiceAccount(e)
            | Self::ApplyService(e)
            | Self::ApplyPodDisruptionBudget(e)
            | Self::ApplyDeployment(e)
            | Self::PatchStatus(e) => Some(e),
        };
        if let Some(kube::Error::Api(status)) = source
            && status.code == 403
        {
            return "Forbidden";
        }
        match self {
            Self::MissingNamespace(_) => "MissingNamespace",
            Self::GetSecret { .. } => "GetSecretFailed",
            Self::CreateControlSecret(_) => "CreateControlSecretFailed",
            Self::GetDeployment(_) => "GetDeploymentFailed",
            Self::ApplyConfigMap(_) => "ApplyConfigMapFailed",
            Self::ApplyServiceAccount(_) => "ApplyServiceAccountFailed",
            Self::ApplyService(_) => "ApplyServiceFailed",
            Self::ApplyPodDisruptionBudget(_) => "ApplyPodDisruptionBudgetFailed",
            Self::ApplyDeployment(_) => "ApplyDeploymentFailed",
            Self::PatchStatus(_) => "PatchStatusFailed",
        }
    }
}
