//! A container's environment resolved as the kubelet does: `envFrom` sources first, then
//! `env` entries (literal with `$(VAR)` expansion, ConfigMap and Secret keys, pod fields).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, Container, ObjectFieldSelector, Pod, Secret};
use kube::{Api, Client};

use super::Error;

/// The ConfigMaps and Secrets a container refers to, as read from the API server;
/// `None` for one that does not exist.
#[derive(Debug, Default)]
pub struct EnvSources {
    pub config_maps: BTreeMap<String, Option<BTreeMap<String, String>>>,
    pub secrets: BTreeMap<String, Option<BTreeMap<String, String>>>,
}

/// Why a container's environment cannot be built (the kubelet's CreateContainerConfigError).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("configmap {0:?} not found")]
    ConfigMapNotFound(String),
    #[error("couldn't find key {key} in ConfigMap {name}")]
    ConfigMapKeyNotFound { name: String, key: String },
    #[error("secret {0:?} not found")]
    SecretNotFound(String),
    #[error("couldn't find key {key} in Secret {name}")]
    SecretKeyNotFound { name: String, key: String },
    #[error("unsupported field path {0:?}")]
    UnsupportedFieldPath(String),
    #[error("environment variable {0:?}: unsupported value source")]
    UnsupportedSource(String),
}

/// Pod facts `fieldRef` may read that the pod object does not hold yet.
#[derive(Clone, Debug)]
pub struct PodAddresses {
    pub pod_ip: String,
    pub host_ip: String,
}

/// Names of the ConfigMaps and Secrets `container` refers to.
pub fn referenced(container: &Container) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut config_maps = BTreeSet::new();
    let mut secrets = BTreeSet::new();
    for source in container.env_from.iter().flatten() {
        if let Some(r) = &source.config_map_ref {
            config_maps.insert(r.name.clone());
        }
        if let Some(r) = &source.secret_ref {
            secrets.insert(r.name.clone());
        }
    }
    for var in container.env.iter().flatten() {
        let Some(from) = &var.value_from else {
            continue;
        };
        if let Some(r) = &from.config_map_key_ref {
            config_maps.insert(r.name.clone());
        }
        if let Some(r) = &from.secret_key_ref {
            secrets.insert(r.name.clone());
        }
    }
    (config_maps, secrets)
}

/// Reads the ConfigMaps and Secrets `container` refers to.
pub async fn fetch(
    client: &Client,
    namespace: &str,
    container: &Container,
) -> Result<EnvSources, Error> {
    let (config_map_names, secret_names) = referenced(container);
    let mut sources = EnvSources::default();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    for name in config_map_names {
        let found = config_maps
            .get_opt(&name)
            .await
            .map_err(|source| Error::ReadConfigMap {
                name: name.clone(),
                source,
            })?;
        let data = found.map(|cm| cm.data.unwrap_or_default());
        sources.config_maps.insert(name, data);
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for name in secret_names {
        let found = secrets
            .get_opt(&name)
            .await
            .map_err(|source| Error::ReadSecret {
                name: name.clone(),
                source,
            })?;
        let data = found.map(|secret| {
            let mut values: BTreeMap<String, String> = secret.string_data.unwrap_or_default();
            for (key, bytes) in secret.data.unwrap_or_default() {
                values.insert(key, String::from_utf8_lossy(&bytes.0).into_owned());
            }
            values
        });
        sources.secrets.insert(name, data);
    }
    Ok(sources)
}

/// The container's environment, in the kubelet's order: `envFrom` (later sources override
/// earlier ones, with their prefix), then `env` (overriding `envFrom`, with `$(VAR)`
/// expanded against what is defined so far).
pub fn resolve(
    pod: &Pod,
    container: &Container,
    sources: &EnvSources,
    addresses: &PodAddresses,
) -> Result<Vec<(String, String)>, EnvError> {
    let mut env = Environment::default();
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.as_deref().unwrap_or("");
        if let Some(r) = &source.config_map_ref {
            match sources.config_maps.get(&r.name).and_then(Option::as_ref) {
                Some(data) => data
                    .iter()
                    .for_each(|(k, v)| env.set(format!("{prefix}{k}"), v.clone())),
                None if r.optional == Some(true) => {}
                None => return Err(EnvError::ConfigMapNotFound(r.name.clone())),
            }
        }
        if let Some(r) = &source.secret_ref {
            match sources.secrets.get(&r.name).and_then(Option::as_ref) {
                Some(data) => data
                    .iter()
                    .for_each(|(k, v)| env.set(format!("{prefix}{k}"), v.clone())),
                None if r.optional == Some(true) => {}
                None => return Err(EnvError::SecretNotFound(r.name.clone())),
            }
        }
    }
    for var in container.env.iter().flatten() {
        let value = match &var.value_from {
            None => Some(expand(var.value.as_deref().unwrap_or(""), |name| {
                env.get(name)
            })),
            Some(from) => value_from(pod, from, sources, addresses, &var.name)?,
        };
        if let Some(value) = value {
            env.set(var.name.clone(), value);
        }
    }
    Ok(env.0)
}

fn value_from(
    pod: &Pod,
    from: &k8s_openapi::api::core::v1::EnvVarSource,
    sources: &EnvSources,
    addresses: &PodAddresses,
    var: &str,
) -> Result<Option<String>, EnvError> {
    if let Some(r) = &from.config_map_key_ref {
        let optional = r.optional == Some(true);
        return match sources.config_maps.get(&r.name).and_then(Option::as_ref) {
            Some(data) => match data.get(&r.key) {
                Some(value) => Ok(Some(value.clone())),
                None if optional => Ok(None),
                None => Err(EnvError::ConfigMapKeyNotFound {
                    name: r.name.clone(),
                    key: r.key.clone(),
                }),
            },
            None if optional => Ok(None),
            None => Err(EnvError::ConfigMapNotFound(r.name.clone())),
        };
    }
    if let Some(r) = &from.secret_key_ref {
        let optional = r.optional == Some(true);
        return match sources.secrets.get(&r.name).and_then(Option::as_ref) {
            Some(data) => match data.get(&r.key) {
                Some(value) => Ok(Some(value.clone())),
                None if optional => Ok(None),
                None => Err(EnvError::SecretKeyNotFound {
                    name: r.name.clone(),
                    key: r.key.clone(),
                }),
            },
            None if optional => Ok(None),
            None => Err(EnvError::SecretNotFound(r.name.clone())),
        };
    }
    if let Some(field) = &from.field_ref {
        return field_value(pod, field, addresses).map(Some);
    }
    Err(EnvError::UnsupportedSource(var.to_owned()))
}

/// The value of a `fieldRef` (the paths the downward API allows in environment variables).
fn field_value(
    pod: &Pod,
    field: &ObjectFieldSelector,
    addresses: &PodAddresses,
) -> Result<String, EnvError> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let path = field.field_path.as_str();
    let keyed = |prefix: &str, map: Option<&BTreeMap<String, String>>| {
        let key = path.strip_prefix(prefix)?.strip_suffix("']")?;
        Some(map.and_then(|m| m.get(key)).cloned().unwrap_or_default())
    };
    let value = match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" | "status.podIPs" => addresses.pod_ip.clone(),
        "status.hostIP" | "status.hostIPs" => addresses.host_ip.clone(),
        _ => keyed("metadata.labels['", meta.labels.as_ref())
            .or_else(|| keyed("metadata.annotations['", meta.annotations.as_ref()))
            .ok_or_else(|| EnvError::UnsupportedFieldPath(path.to_owned()))?,
    };
    Ok(value)
}

/// Expands `$(VAR)` references as Kubernetes does: `$$` is a literal `$`, and a reference
/// to an undefined variable stays as written.
pub fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(close) = inner.find(')')
        {
            let name = &inner[..close];
            match lookup(name) {
                Some(value) => out.push_str(&value),
                None => out.push_str(&rest[dollar..dollar + close + 3]),
            }
            rest = &inner[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// An ordered environment where setting a name again replaces its value in place.
#[derive(Default)]
struct Environment(Vec<(String, String)>);

impl Environment {
    fn set(&mut self, name: String, value: String) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(container: serde_json::Value) -> (Pod, Container) {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": "c-1", "namespace": "ns", "uid": "u-1", "labels": { "app": "spate" } },
            "spec": { "nodeName": "spate-local", "containers": [container] }
        }))
        .unwrap();
        let container = pod.spec.as_ref().unwrap().containers[0].clone();
        (pod, container)
    }

    fn sources() -> EnvSources {
        let mut sources = EnvSources::default();
        let cm = BTreeMap::from([("A".into(), "from-cm".into()), ("B".into(), "b".into())]);
        sources.config_maps.insert("cfg".into(), Some(cm));
        sources.config_maps.insert("gone".into(), None);
        sources.secrets.insert(
            "sec".into(),
            Some(BTreeMap::from([("token".into(), "s3cret".into())])),
        );
        sources
    }

    fn addresses() -> PodAddresses {
        PodAddresses {
            pod_ip: "127.5.0.1".into(),
            host_ip: "127.0.0.1".into(),
        }
    }

    fn resolved(container: serde_json::Value) -> Result<Vec<(String, String)>, EnvError> {
        let (pod, container) = pod(container);
        resolve(&pod, &container, &sources(), &addresses())
    }

    #[test]
    fn env_overrides_env_from_and_expands_earlier_variables() {
        let env = resolved(json!({
            "name": "c", "image": "i",
            "envFrom": [{ "configMapRef": { "name": "cfg" } }, { "secretRef": { "name": "sec" }, "prefix": "S_" }],
            "env": [
                { "name": "A", "value": "literal" },
                { "name": "C", "value": "$(A)-$(B)-$(UNDEFINED)-$$(A)" },
                { "name": "TOKEN", "valueFrom": { "secretKeyRef": { "name": "sec", "key": "token" } } },
                { "name": "POD", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
                { "name": "IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
                { "name": "APP", "valueFrom": { "fieldRef": { "fieldPath": "metadata.labels['app']" } } },
                { "name": "KEY", "valueFrom": { "configMapKeyRef": { "name": "cfg", "key": "B" } } }
            ]
        }))
        .unwrap();
        let get = |n: &str| env.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("A"), Some("literal"));
        assert_eq!(get("B"), Some("b"));
        assert_eq!(get("S_token"), Some("s3cret"));
        assert_eq!(get("C"), Some("literal-b-$(UNDEFINED)-$(A)"));
        assert_eq!(get("TOKEN"), Some("s3cret"));
        assert_eq!(get("POD"), Some("c-1"));
        assert_eq!(get("IP"), Some("127.5.0.1"));
        assert_eq!(get("APP"), Some("spate"));
        assert_eq!(get("KEY"), Some("b"));
        assert_eq!(
            env.iter().filter(|(k, _)| k == "A").count(),
            1,
            "an override replaces, not appends"
        );
    }

    #[test]
    fn a_missing_required_source_is_a_config_error_and_an_optional_one_is_skipped() {
        let missing = resolved(
            json!({ "name": "c", "image": "i", "envFrom": [{ "configMapRef": { "name": "gone" } }] }),
        );
        assert_eq!(missing, Err(EnvError::ConfigMapNotFound("gone".into())));
        let optional = resolved(json!({
            "name": "c", "image": "i",
            "envFrom": [{ "configMapRef": { "name": "gone", "optional": true } }],
            "env": [{ "name": "X", "valueFrom": { "secretKeyRef": { "name": "sec", "key": "nope", "optional": true } } }]
        }));
        assert_eq!(optional, Ok(vec![]));
        let missing_key = resolved(json!({
            "name": "c", "image": "i",
            "env": [{ "name": "X", "valueFrom": { "secretKeyRef": { "name": "sec", "key": "nope" } } }]
        }));
        assert_eq!(
            missing_key,
            Err(EnvError::SecretKeyNotFound {
                name: "sec".into(),
                key: "nope".into()
            })
        );
    }

    #[test]
    fn references_are_collected_from_env_from_and_value_from() {
        let (_, container) = pod(json!({
            "name": "c", "image": "i",
            "envFrom": [{ "configMapRef": { "name": "cfg" } }],
            "env": [{ "name": "T", "valueFrom": { "secretKeyRef": { "name": "sec", "key": "token" } } }]
        }));
        let (cms, secrets) = referenced(&container);
        assert_eq!(cms.into_iter().collect::<Vec<_>>(), ["cfg"]);
        assert_eq!(secrets.into_iter().collect::<Vec<_>>(), ["sec"]);
    }

    #[test]
    fn expansion_keeps_unterminated_and_bare_dollars() {
        let lookup = |n: &str| (n == "X").then(|| "x".to_owned());
        assert_eq!(expand("$(X", lookup), "$(X");
        assert_eq!(expand("a$b$", lookup), "a$b$");
        assert_eq!(expand("$(X)$(X)", lookup), "xx");
    }
}
