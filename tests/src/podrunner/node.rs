//! The runner's Node: registered Ready with ample capacity, its Lease and status
//! heartbeat renewed so the node lifecycle controller never marks it NotReady.

use std::net::Ipv4Addr;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use super::Error;
use super::status::time;

const FIELD_MANAGER: &str = "spate-podrunner";
const LEASE_NAMESPACE: &str = "kube-node-lease";
const LEASE_SECONDS: i32 = 40;

/// The Node object registered for `name` (spec and labels; status comes with the heartbeat).
pub fn node_object(name: &str) -> Node {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": std::env::consts::OS,
                "kubernetes.io/arch": go_arch(),
                "spate.dev/podrunner": "true",
            },
        },
        "spec": {},
    }))
    .unwrap_or_default()
}

/// The node status at `now`: Ready, no pressure, large allocatable resources.
pub fn node_status(name: &str, host_ip: Ipv4Addr, started: Timestamp, now: Timestamp) -> Value {
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": kind, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": time(now), "lastTransitionTime": time(started),
        })
    };
    let resources =
        json!({ "cpu": "64", "memory": "256Gi", "pods": "1000", "ephemeral-storage": "1Ti" });
    json!({
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "local processes"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "local processes"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "local processes"),
                condition("Ready", "True", "KubeletReady", "spate pod runner is posting ready status"),
            ],
            "addresses": [
                { "type": "InternalIP", "address": host_ip.to_string() },
                { "type": "Hostname", "address": name },
            ],
            "daemonEndpoints": { "kubeletEndpoint": { "Port": 0 } },
            "nodeInfo": {
                "machineID": name, "systemUUID": name, "bootID": started.to_string(),
                "kernelVersion": "", "osImage": "spate local processes",
                "containerRuntimeVersion": "podrunner://0.1.0", "kubeletVersion": "v1.36.0-spate",
                "kubeProxyVersion": "", "operatingSystem": std::env::consts::OS, "architecture": go_arch(),
            },
        }
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Registers the node (or takes over an existing one of that name) and posts its first status.
pub async fn register(
    client: &Client,
    name: &str,
    host_ip: Ipv4Addr,
    started: Timestamp,
) -> Result<(), Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    match nodes
        .create(&PostParams::default(), &node_object(name))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {
            // Taken over from an earlier run: make it schedulable again.
            let patch = json!({ "spec": { "unschedulable": null } });
            nodes
                .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
                .await
                .map_err(|source| Error::RegisterNode {
                    node: name.to_owned(),
                    source,
                })?;
        }
        Err(source) => {
            return Err(Error::RegisterNode {
                node: name.to_owned(),
                source,
            });
        }
    }
    heartbeat(client, name, host_ip, started).await
}

/// Posts the node status and renews the node's Lease.
pub async fn heartbeat(
    client: &Client,
    name: &str,
    host_ip: Ipv4Addr,
    started: Timestamp,
) -> Result<(), Error> {
    let now = Timestamp::now();
    let nodes: Api<Node> = Api::all(client.clone());
    nodes
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Strategic(node_status(name, host_ip, started, now)),
        )
        .await
        .map_err(|source| Error::PostNodeStatus {
            node: name.to_owned(),
            source,
        })?;
    renew_lease(client, name, now).await
}

async fn renew_lease(client: &Client, name: &str, now: Timestamp) -> Result<(), Error> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let node_uid = Api::<Node>::all(client.clone())
        .get(name)
        .await
        .map_err(|source| Error::RenewLease {
            node: name.to_owned(),
            source,
        })?
        .metadata
        .uid;
    let lease: Lease = serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [{ "apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid }],
        },
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": MicroTime(now),
        },
    }))
    .map_err(|source| Error::RenewLease { node: name.to_owned(), source: kube::Error::SerdeError(source) })?;
    leases
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&lease),
        )
        .await
        .map_err(|source| Error::RenewLease {
            node: name.to_owned(),
            source,
        })?;
    Ok(())
}

/// Renews the heartbeat every `interval` until `stop` fires; a failed renewal is logged and retried.
pub async fn keep_alive(
    client: Client,
    name: String,
    host_ip: Ipv4Addr,
    started: Timestamp,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let Err(error) = heartbeat(&client, &name, host_ip, started).await {
                    tracing::warn!(node = %name, error = %error, "node heartbeat failed");
                }
            }
            _ = super::stopped(&mut stop) => return,
        }
    }
}

/// Deletes the node and its Lease.
pub async fn unregister(client: &Client, name: &str) -> Result<(), Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    match nodes.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(source) => {
            return Err(Error::DeleteNode {
                node: name.to_owned(),
                source,
            });
        }
    }
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    let _ = leases.delete(name, &DeleteParams::default()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_status_is_ready_and_deserializes() {
        let started = Timestamp::from_second(1_700_000_000).unwrap();
        let now = Timestamp::from_second(1_700_000_100).unwrap();
        let mut node = node_object("n1");
        let status: Node =
            serde_json::from_value(node_status("n1", Ipv4Addr::LOCALHOST, started, now)).unwrap();
        node.status = status.status;
        let conditions = node.status.as_ref().unwrap().conditions.clone().unwrap();
        let ready = conditions.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.status, "True");
        assert_eq!(ready.last_heartbeat_time.as_ref().unwrap().0, now);
        assert_eq!(
            node.metadata.labels.unwrap()["kubernetes.io/hostname"],
            "n1"
        );
    }
}
