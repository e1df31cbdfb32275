//! Writes to the API server: server-side apply of children, the control Secret, status.

use std::fmt::Debug;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::info;

use crate::build::names::{CONTROL_TOKEN_KEY, FIELD_MANAGER, control_secret_name};
use crate::build::{control_secret, random_token};
use crate::crd::{IngestionPipeline, IngestionPipelineStatus};

/// Server-side applies `obj` with the reconciler's field manager, forcing ownership.
pub async fn apply<K>(api: &Api<K>, obj: &K) -> Result<K, kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
{
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&obj.name_any(), &params, &Patch::Apply(obj))
        .await
}

/// Creates the pipeline's control-token Secret unless it already holds a token.
/// Returns whether it was created. The token is never rotated here.
pub async fn ensure_control_secret(
    api: &Api<Secret>,
    pipeline: &IngestionPipeline,
) -> Result<bool, kube::Error> {
    let name = control_secret_name(&pipeline.name_any());
    if let Some(existing) = api.get_opt(&name).await? {
        let has_token = existing
            .data
            .as_ref()
            .is_some_and(|d| d.contains_key(CONTROL_TOKEN_KEY));
        if has_token {
            return Ok(false);
        }
    }
    let secret = control_secret(pipeline, random_token());
    match api.create(&PostParams::default(), &secret).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {
            // It exists without a token (someone emptied it): give it one.
            let patch = serde_json::json!({ "stringData": { CONTROL_TOKEN_KEY: random_token() } });
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
        Err(e) => return Err(e),
    }
    info!(pipeline = %pipeline.name_any(), secret = %name, "created the control token");
    Ok(true)
}

/// Server-side applies the reconciler's part of the status (not `autoscaler`, `lag`,
/// `lastScaleTime`, `lastScaleReason`: the autoscaler owns those under its own manager).
pub async fn apply_status(
    api: &Api<IngestionPipeline>,
    name: &str,
    status: &IngestionPipelineStatus,
) -> Result<(), kube::Error> {
    let body = serde_json::json!({
        "apiVersion": IngestionPipeline::api_version(&()),
        "kind": IngestionPipeline::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(name, &params, &Patch::Apply(&body))
        .await
        .map(|_| ())
}
