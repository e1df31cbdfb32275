//! Configuration of the pod runner: which pods it runs and which local program stands in
//! for which container image.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::address::AddressRange;

/// Everything [`super::PodRunner::start`] needs.
#[derive(Clone, Debug)]
pub struct PodRunnerConfig {
    /// Name of the Node the runner registers and binds pods to.
    pub node_name: String,
    /// Only pods of this namespace (all namespaces when `None`).
    pub namespace: Option<String>,
    /// Only pods matching this label selector.
    pub label_selector: Option<String>,
    /// Which local program runs which image.
    pub images: ImageMap,
    /// Also bind unbound pods whose images have no local program (they then wait in
    /// `ErrImagePull`, as on a node that cannot pull); by default those are left unbound
    /// for another runner.
    pub claim_unmapped: bool,
    /// Where each container's stdout and stderr go (`<namespace>_<pod>/<container>.log`).
    pub log_dir: PathBuf,
    /// The loopback block pod addresses come from.
    pub addresses: AddressRange,
    /// Environment variables holding a listen address (`HOST:PORT`) whose host is replaced
    /// by the pod's address, so each process binds to its own pod IP.
    pub listen_env: Vec<String>,
    /// Variables of the runner's own environment passed to every process (e.g. `PATH`);
    /// nothing else of the host environment leaks into a container.
    pub pass_env: Vec<String>,
    /// A Prometheus file_sd JSON file kept in sync with the running pods.
    pub prometheus_targets_file: Option<PathBuf>,
    /// The pod label whose value becomes the `pipeline` label of a scrape target.
    pub pipeline_label: String,
    /// Delay before the first restart of a crashed container; doubles up to `restart_backoff_max`.
    pub restart_backoff_initial: Duration,
    pub restart_backoff_max: Duration,
    /// How often the node's Lease and status heartbeat are renewed.
    pub heartbeat_interval: Duration,
    /// The longest a container gets to exit after SIGTERM when the runner itself stops.
    pub shutdown_grace: Duration,
    /// On stop, mark the pods that were running as Failed (their ReplicaSet replaces them).
    pub fail_pods_on_shutdown: bool,
    /// On stop, delete the Node object (its pods are then garbage-collected).
    pub delete_node_on_shutdown: bool,
}

impl PodRunnerConfig {
    /// A configuration with kubelet-like defaults for everything but the essentials.
    pub fn new(
        node_name: impl Into<String>,
        images: ImageMap,
        log_dir: impl Into<PathBuf>,
    ) -> Self {
        Self {
            node_name: node_name.into(),
            namespace: None,
            label_selector: None,
            images,
            claim_unmapped: false,
            log_dir: log_dir.into(),
            addresses: AddressRange::for_process(std::process::id()),
            listen_env: vec!["SPATE_LISTEN".to_owned()],
            pass_env: vec!["PATH".to_owned()],
            prometheus_targets_file: None,
            pipeline_label: "app.kubernetes.io/instance".to_owned(),
            restart_backoff_initial: Duration::from_secs(1),
            restart_backoff_max: Duration::from_secs(60),
            heartbeat_interval: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(10),
            fail_pods_on_shutdown: false,
            delete_node_on_shutdown: false,
        }
    }
}

/// Maps container images to local programs, by image name without registry, tag or digest.
#[derive(Clone, Debug, Default)]
pub struct ImageMap {
    entries: Vec<(String, PathBuf)>,
}

/// An `--image-map` entry that is not `IMAGE=PATH`.
#[derive(Debug, thiserror::Error)]
#[error("image map entry {0:?} is not IMAGE=PATH")]
pub struct ParseImageMapError(String);

impl ImageMap {
    /// Adds `image` → `program`; a later entry for the same image wins.
    pub fn insert(&mut self, image: impl Into<String>, program: impl Into<PathBuf>) -> &mut Self {
        self.entries.insert(0, (image.into(), program.into()));
        self
    }

    /// Adds an entry written `IMAGE=PATH`.
    pub fn insert_spec(&mut self, spec: &str) -> Result<&mut Self, ParseImageMapError> {
        match spec.split_once('=') {
            Some((image, path)) if !image.is_empty() && !path.is_empty() => {
                Ok(self.insert(image, path))
            }
            _ => Err(ParseImageMapError(spec.to_owned())),
        }
    }

    /// The program standing in for `image`: an entry naming the repository without its tag
    /// (`ghcr.io/spate-dev/spate-consumer`) or just its last path element (`spate-consumer`).
    pub fn lookup(&self, image: &str) -> Option<&Path> {
        let repository = image_repository(image);
        let short = repository.rsplit('/').next().unwrap_or(repository);
        self.entries
            .iter()
            .find(|(key, _)| key == repository || key == short || key == image)
            .map(|(_, path)| path.as_path())
    }
}

/// The repository part of an image reference: no digest, no tag.
fn image_repository(image: &str) -> &str {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(colon) => &image[..last_slash + colon],
        None => image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> ImageMap {
        let mut images = ImageMap::default();
        images.insert_spec("spate-consumer=/bin/consumer").unwrap();
        images.insert_spec("example.com/team/web=/bin/web").unwrap();
        images
    }

    #[test]
    fn an_image_matches_by_name_whatever_its_registry_tag_or_digest() {
        let images = map();
        for image in [
            "spate-consumer",
            "spate-consumer:0.1.0",
            "ghcr.io/spate-dev/spate-consumer:latest",
            "localhost:5000/spate-consumer",
            "spate-consumer@sha256:abcd",
        ] {
            assert_eq!(
                images.lookup(image),
                Some(Path::new("/bin/consumer")),
                "{image}"
            );
        }
        assert_eq!(
            images.lookup("example.com/team/web:2"),
            Some(Path::new("/bin/web"))
        );
    }

    #[test]
    fn an_unknown_image_has_no_program() {
        assert_eq!(map().lookup("nginx:1.27"), None);
        assert_eq!(map().lookup("spate-consumer-debug"), None);
    }

    #[test]
    fn a_later_entry_overrides_an_earlier_one() {
        let mut images = map();
        images.insert("spate-consumer", "/opt/other");
        assert_eq!(
            images.lookup("spate-consumer:1"),
            Some(Path::new("/opt/other"))
        );
    }

    #[test]
    fn an_entry_without_a_path_is_refused() {
        assert!(ImageMap::default().insert_spec("spate-consumer").is_err());
        assert!(ImageMap::default().insert_spec("=/bin/x").is_err());
    }
}
