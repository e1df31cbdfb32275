//! The Prometheus file_sd list of running pods: one target group per pod, rewritten
//! atomically whenever a pod starts or stops; groups written by others are kept.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// One pod's scrape target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub pod: String,
    pub pipeline: Option<String>,
    pub address: SocketAddr,
}

/// The target groups of `targets`, labelled with `node` so a later write recognises them.
pub fn render(node: &str, targets: &BTreeMap<(String, String), Target>) -> Vec<Value> {
    targets
        .values()
        .map(|t| {
            let mut labels = json!({ "namespace": t.namespace, "pod": t.pod, "node": node });
            if let Some(pipeline) = &t.pipeline {
                labels["pipeline"] = json!(pipeline);
            }
            json!({ "targets": [t.address.to_string()], "labels": labels })
        })
        .collect()
}

/// `existing` without the groups of `node`, followed by `ours`.
pub fn merge(existing: Vec<Value>, node: &str, ours: Vec<Value>) -> Vec<Value> {
    existing
        .into_iter()
        .filter(|group| group["labels"]["node"].as_str() != Some(node))
        .chain(ours)
        .collect()
}

/// The targets file of one runner.
#[derive(Debug)]
pub struct TargetsFile {
    path: PathBuf,
    node: String,
    targets: BTreeMap<(String, String), Target>,
}

impl TargetsFile {
    pub fn new(path: PathBuf, node: String) -> Self {
        Self {
            path,
            node,
            targets: BTreeMap::new(),
        }
    }

    pub fn upsert(&mut self, target: Target) -> std::io::Result<()> {
        let key = (target.namespace.clone(), target.pod.clone());
        if self.targets.get(&key) == Some(&target) {
            return Ok(());
        }
        self.targets.insert(key, target);
        self.write()
    }

    pub fn remove(&mut self, namespace: &str, pod: &str) -> std::io::Result<()> {
        if self
            .targets
            .remove(&(namespace.to_owned(), pod.to_owned()))
            .is_none()
        {
            return Ok(());
        }
        self.write()
    }

    /// Rewrites the file: what others listed, then this runner's pods.
    pub fn write(&self) -> std::io::Result<()> {
        let existing: Vec<Value> = std::fs::read(&self.path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let groups = merge(existing, &self.node, render(&self.node, &self.targets));
        write_atomically(&self.path, &serde_json::to_vec_pretty(&groups)?)
    }
}

/// Writes a sibling temporary file and renames it over `path`, so a reader never sees half a file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("targets.json");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(pod: &str, ip: &str) -> Target {
        Target {
            namespace: "ns".into(),
            pod: pod.into(),
            pipeline: Some("trades".into()),
            address: format!("{ip}:9464").parse().unwrap(),
        }
    }

    #[test]
    fn each_pod_is_a_labelled_group() {
        let targets = BTreeMap::from([(("ns".into(), "a".into()), target("a", "127.3.0.1"))]);
        let groups = render("n1", &targets);
        assert_eq!(
            groups,
            vec![json!({
                "targets": ["127.3.0.1:9464"],
                "labels": { "namespace": "ns", "pod": "a", "node": "n1", "pipeline": "trades" }
            })]
        );
    }

    #[test]
    fn a_rewrite_replaces_only_this_nodes_groups() {
        let other = json!({ "targets": ["127.0.0.1:9090"], "labels": { "job": "self" } });
        let stale = json!({ "targets": ["127.3.0.9:9464"], "labels": { "node": "n1" } });
        let fresh = json!({ "targets": ["127.3.0.1:9464"], "labels": { "node": "n1" } });
        let merged = merge(vec![other.clone(), stale], "n1", vec![fresh.clone()]);
        assert_eq!(merged, vec![other, fresh]);
    }

    #[test]
    fn the_file_is_kept_in_sync() {
        let dir = std::env::temp_dir().join(format!("podrunner-targets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("targets.json");
        std::fs::write(&path, "[]").unwrap();
        let mut file = TargetsFile::new(path.clone(), "n1".into());
        file.upsert(target("a", "127.3.0.1")).unwrap();
        file.upsert(target("b", "127.3.0.2")).unwrap();
        file.remove("ns", "a").unwrap();
        let groups: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0]["targets"][0], "127.3.0.2:9464");
    }
}
