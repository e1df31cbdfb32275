//! Writes to the API server: server-side apply of children (skipped when unchanged), status.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Mutex;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::build::config_hash;
use crate::build::names::FIELD_MANAGER;
use crate::crd::{IngestionPipeline, IngestionPipelineStatus};
use crate::metrics::Metrics;

/// Server-side applies `obj` with the reconciler's field manager, forcing ownership.
pub async fn apply<K>(api: &Api<K>, obj: &K) -> Result<K, kube::Error>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
{
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&obj.name_any(), &params, &Patch::Apply(obj))
        .await
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

/// Which part of a live child's metadata shows a change by someone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drift {
    /// `metadata.uid` and `generation`: for kinds whose status a controller writes often
    /// (Deployment, PodDisruptionBudget); a status update does not bump it.
    Generation,
    /// `metadata.resourceVersion`: for kinds without a status (ConfigMap, Service…).
    ResourceVersion,
}

/// What was last applied to one child: the desired object's hash, and the version
/// (see [`Drift`]) of the object the API server returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Hash of the desired object as serialized for the apply.
    pub desired: String,
    /// The version the apply left the live object at.
    pub version: String,
}

/// The version of a live object's metadata that `drift` compares.
pub fn version(meta: &ObjectMeta, drift: Drift) -> Option<String> {
    match drift {
        Drift::Generation => meta
            .generation
            .map(|g| format!("{}/{g}", meta.uid.as_deref().unwrap_or_default())),
        Drift::ResourceVersion => meta.resource_version.clone(),
    }
}

/// Whether an apply can be skipped: the same desired object was applied before, and
/// the live object is still at the version that apply left it at.
pub fn unchanged(last: Option<&Stamp>, desired: &str, live: Option<&str>) -> bool {
    match (last, live) {
        (Some(s), Some(live)) => s.desired == desired && s.version == live,
        _ => false,
    }
}

/// Last applies per child, so that an unchanged child is not applied again. Shared by
/// the reconciles of one controller; lost on restart (the first reconcile applies).
#[derive(Debug, Default)]
pub struct Applied {
    stamps: Mutex<HashMap<String, Stamp>>,
}

impl Applied {
    /// Server-side applies `obj` unless it is [`unchanged`] against `live` (the live
    /// object's metadata, from a watch cache). Returns the applied object, or `None`
    /// when the apply was skipped.
    pub async fn apply<K>(
        &self,
        api: &Api<K>,
        obj: &K,
        live: Option<&ObjectMeta>,
        drift: Drift,
        metrics: &Metrics,
    ) -> Result<Option<K>, kube::Error>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + Debug
            + Serialize
            + DeserializeOwned,
    {
        let kind = K::kind(&());
        let key = format!(
            "{kind}/{}/{}",
            obj.meta().namespace.as_deref().unwrap_or_default(),
            obj.name_any()
        );
        let desired = serde_json::to_string(obj)
            .map_or_else(|_| String::new(), |s| config_hash([s.as_str()]));
        let live_version = live.and_then(|m| version(m, drift));
        let skip = {
            let stamps = self.stamps.lock().unwrap_or_else(|e| e.into_inner());
            unchanged(stamps.get(&key), &desired, live_version.as_deref())
        };
        if skip {
            metrics.applies.with_label_values(&[&kind, "skipped"]).inc();
            return Ok(None);
        }
        let applied = apply(api, obj).await?;
        metrics.applies.with_label_values(&[&kind, "applied"]).inc();
        let mut stamps = self.stamps.lock().unwrap_or_else(|e| e.into_inner());
        match version(applied.meta(), drift) {
            Some(version) => {
                stamps.insert(key, Stamp { desired, version });
            }
            None => {
                stamps.remove(&key);
            }
        }
        Ok(Some(applied))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(d: &str, v: &str) -> Stamp {
        Stamp {
            desired: d.into(),
            version: v.into(),
        }
    }

    #[test]
    fn skips_only_when_desired_and_live_version_both_match() {
        assert!(unchanged(Some(&stamp("h", "7")), "h", Some("7")));
        assert!(!unchanged(Some(&stamp("h", "7")), "other", Some("7")));
        assert!(!unchanged(Some(&stamp("h", "7")), "h", Some("8")));
        assert!(!unchanged(Some(&stamp("h", "7")), "h", None));
        assert!(!unchanged(None, "h", Some("7")));
    }

    #[test]
    fn version_reads_generation_or_resource_version() {
        let meta = ObjectMeta {
            generation: Some(3),
            uid: Some("u".into()),
            resource_version: Some("123".into()),
            ..ObjectMeta::default()
        };
        assert_eq!(version(&meta, Drift::Generation).as_deref(), Some("u/3"));
        assert_eq!(
            version(&meta, Drift::ResourceVersion).as_deref(),
            Some("123")
        );
        assert_eq!(version(&ObjectMeta::default(), Drift::Generation), None);
    }
}
