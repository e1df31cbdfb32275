//! Which pods a runner takes on: those bound to its node, and unbound ones it can run —
//! every container image mapped to a local program, unless told to claim them all.

use k8s_openapi::api::core::v1::Pod;

use super::config::ImageMap;

/// Whether a runner with no task for `pod` yet should start one.
pub fn should_claim(pod: &Pod, node_name: &str, images: &ImageMap, claim_unmapped: bool) -> bool {
    let spec = pod.spec.as_ref();
    let node = spec.and_then(|s| s.node_name.as_deref());
    let deleting = pod.metadata.deletion_timestamp.is_some();
    let terminal = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    match node {
        // Ours: run it, or finish its deletion; a finished pod stays as it is.
        Some(node) => node == node_name && (deleting || !terminal),
        // Unbound: the API server deletes those itself; take only what can run here.
        None => {
            let runnable = || {
                spec.is_some_and(|s| {
                    s.containers
                        .iter()
                        .all(|c| images.lookup(c.image.as_deref().unwrap_or("")).is_some())
                })
            };
            !deleting && !terminal && (claim_unmapped || runnable())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(node: Option<&str>, image: &str, phase: Option<&str>, deleting: bool) -> Pod {
        let mut pod = json!({
            "metadata": { "name": "p", "namespace": "ns" },
            "spec": { "containers": [{ "name": "c", "image": image }] },
            "status": {},
        });
        if let Some(node) = node {
            pod["spec"]["nodeName"] = json!(node);
        }
        if let Some(phase) = phase {
            pod["status"]["phase"] = json!(phase);
        }
        if deleting {
            pod["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        serde_json::from_value(pod).unwrap()
    }

    fn images() -> ImageMap {
        let mut images = ImageMap::default();
        images.insert("spate-consumer", "/bin/consumer");
        images
    }

    #[test]
    fn an_unbound_pod_is_claimed_when_its_images_run_here() {
        let images = images();
        assert!(should_claim(
            &pod(None, "spate-consumer:1", None, false),
            "n1",
            &images,
            false
        ));
        assert!(!should_claim(
            &pod(None, "nginx", None, false),
            "n1",
            &images,
            false
        ));
        assert!(should_claim(
            &pod(None, "nginx", None, false),
            "n1",
            &images,
            true
        ));
        assert!(!should_claim(
            &pod(None, "spate-consumer", None, true),
            "n1",
            &images,
            false
        ));
    }

    #[test]
    fn a_bound_pod_is_claimed_only_by_its_node_and_only_while_it_has_work() {
        let images = images();
        assert!(should_claim(
            &pod(Some("n1"), "nginx", Some("Running"), false),
            "n1",
            &images,
            false
        ));
        assert!(!should_claim(
            &pod(Some("n2"), "spate-consumer", None, false),
            "n1",
            &images,
            false
        ));
        assert!(!should_claim(
            &pod(Some("n1"), "spate-consumer", Some("Succeeded"), false),
            "n1",
            &images,
            false
        ));
        assert!(should_claim(
            &pod(Some("n1"), "spate-consumer", Some("Failed"), true),
            "n1",
            &images,
            false
        ));
    }
}
