//! The local node as tests see it from the host: a pod's containers through containerd
//! (their pid, signals) and through /proc (user, capabilities, mounts), and waits on pods.

use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use crate::{Error, TestEnv, eventually};

/// Runs `ctr -n k8s.io` against the node's containerd; its stdout.
pub fn ctr(args: &[&str]) -> Result<String, Error> {
    let socket = TestEnv::get().containerd_address().to_owned();
    let failed = |reason: String| Error::Ctr {
        args: args.join(" "),
        reason,
    };
    let out = Command::new("ctr")
        .arg("--address")
        .arg(&socket)
        .args(["-n", "k8s.io"])
        .args(args)
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ))
    }
}

/// The containerd id of the running container `container` of `pod`.
pub fn container_id(pod: &Pod, container: &str) -> Option<String> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == container && c.state.as_ref().is_some_and(|s| s.running.is_some()))?
        .container_id
        .as_ref()?
        .strip_prefix("containerd://")
        .map(str::to_owned)
}

/// The host pid of a running container's first process.
pub fn container_pid(id: &str) -> Result<u32, Error> {
    let listing = ctr(&["tasks", "ls"])?;
    listing
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?, f.next()?))
        })
        .find(|(task, _)| *task == id)
        .and_then(|(_, pid)| pid.parse().ok())
        .ok_or_else(|| Error::Ctr {
            args: "tasks ls".into(),
            reason: format!("no running task {id}"),
        })
}

/// Sends `signal` (e.g. `SIGKILL`) to a container's processes through containerd, as the
/// kernel's OOM killer or a node fault would: the kubelet only sees the container exit.
pub fn signal_container(id: &str, signal: &str) -> Result<(), Error> {
    ctr(&["tasks", "kill", "--all", "--signal", signal, id]).map(|_| ())
}

/// What the kernel says of a process: its user ids, effective capabilities and whether
/// its root filesystem is mounted read-only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessView {
    /// Real, effective, saved and filesystem uid.
    pub uids: Vec<u32>,
    /// Real, effective, saved and filesystem gid.
    pub gids: Vec<u32>,
    /// The effective capability set (hex mask).
    pub cap_eff: u64,
    /// The bounding set.
    pub cap_bnd: u64,
    /// `NoNewPrivs`.
    pub no_new_privs: bool,
    /// `Seccomp` mode: 2 is a filter.
    pub seccomp: u32,
    /// Whether `/` is mounted `ro` in the process's mount namespace.
    pub root_read_only: bool,
}

/// Reads `/proc/<pid>/status` and `/proc/<pid>/mountinfo`.
pub fn process_view(pid: u32) -> Result<ProcessView, Error> {
    let read = |file: &str| {
        let path = std::path::PathBuf::from(format!("/proc/{pid}/{file}"));
        std::fs::read_to_string(&path).map_err(|source| Error::ReadFile { path, source })
    };
    let status = read("status")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_default()
    };
    let ids = |name: &str| {
        field(name)
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect::<Vec<u32>>()
    };
    let hex = |name: &str| u64::from_str_radix(&field(name), 16).unwrap_or(u64::MAX);
    let mountinfo = read("mountinfo")?;
    let root_read_only = mountinfo.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.get(4) == Some(&"/") && f.get(5).is_some_and(|o| o.split(',').any(|x| x == "ro"))
    });
    Ok(ProcessView {
        uids: ids("Uid:"),
        gids: ids("Gid:"),
        cap_eff: hex("CapEff:"),
        cap_bnd: hex("CapBnd:"),
        no_new_privs: field("NoNewPrivs:") == "1",
        seccomp: field("Seccomp:").parse().unwrap_or(0),
        root_read_only,
    })
}

/// Whether the pod's Ready condition is True.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The restarts of a pod's container.
pub fn restart_count(pod: &Pod, container: &str) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == container))
        .map_or(0, |c| c.restart_count)
}

/// Waits until `count` pods match `selector` in `namespace`, all Running and Ready.
pub async fn wait_pods_ready(
    pods: &Api<Pod>,
    selector: &str,
    count: usize,
    timeout: Duration,
) -> Result<Vec<Pod>, Error> {
    eventually(
        &format!("{count} ready pods matching {selector}"),
        timeout,
        || async {
            let list = pods
                .list(&ListParams::default().labels(selector))
                .await
                .map_err(|e| e.to_string())?
                .items;
            let live: Vec<Pod> = list
                .into_iter()
                .filter(|p| p.metadata.deletion_timestamp.is_none())
                .collect();
            let ready = live.iter().filter(|p| pod_ready(p)).count();
            if live.len() == count && ready == count {
                Ok(live)
            } else {
                Err(format!(
                    "{} pods, {ready} ready: {}",
                    live.len(),
                    describe(&live)
                ))
            }
        },
    )
    .await
}

/// One line per pod: name, phase, the first waiting or terminated reason.
pub fn describe(pods: &[Pod]) -> String {
    pods.iter()
        .map(|p| {
            let status = p.status.as_ref();
            let phase = status.and_then(|s| s.phase.clone()).unwrap_or_default();
            let why = status
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|cs| cs.first())
                .and_then(|c| c.state.as_ref())
                .and_then(|st| {
                    st.waiting
                        .as_ref()
                        .and_then(|w| w.reason.clone())
                        .or_else(|| st.terminated.as_ref().and_then(|t| t.reason.clone()))
                })
                .unwrap_or_default();
            format!(
                "{} {phase} {why}",
                p.metadata.name.clone().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}
