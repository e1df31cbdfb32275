//! The local environment comes and goes cleanly: stopping the node removes its Node object
//! and leaves no process, mount, veth, cgroup or fixed-path file behind; `env.sh down`
//! leaves no process of the environment, no pod bridge and no netfilter rule, and restores
//! IPv4 forwarding; a warm `env.sh up` brings everything back, images included.
//!
//! It stops the environment that the other suites use, so it is one test in its own binary
//! (cargo runs test binaries one after another), and it ends with the environment up.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::Node;
use kube::api::Api;
use spate_tests::node::ctr;
use spate_tests::{Images, TestEnv, kube_client, repo_root};

fn run(script: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(repo_root().join(script)).args(args).output()?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        bail!("{script} {args:?} failed: {stderr}");
    }
    Ok(format!("{}{stderr}", String::from_utf8_lossy(&out.stdout)))
}

fn shell(cmd: &str) -> String {
    Command::new("bash")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_stops_without_a_trace_and_comes_back_warm() -> Result<()> {
    let env = TestEnv::get();
    let images = Images::get();
    let state = repo_root().join(".spate");
    let state_dir = state.to_string_lossy().into_owned();
    let bridge = env
        .vars
        .get("SPATE_POD_SUBNET")
        .map(|_| std::env::var("SPATE_BRIDGE").unwrap_or_else(|_| "spate0".into()))
        .context("SPATE_POD_SUBNET")?;
    let forward_before = std::fs::read_to_string(state.join("node/ip_forward.orig"))
        .context("the node records IPv4 forwarding as it found it")?;

    // The node alone: its Node object goes, and nothing of it stays on the host.
    run("tests/env/components/node.sh", &["stop"])?;
    let nodes: Api<Node> = Api::all(kube_client().await?);
    ensure!(
        nodes.get_opt(env.node_name()).await?.is_none(),
        "Node {} is still registered",
        env.node_name()
    );
    let leftovers = run("tests/env/components/node.sh", &["leftovers"])?;
    ensure!(
        leftovers.trim().is_empty(),
        "the stopped node left: {leftovers}"
    );

    // Everything: no process of this state directory, no bridge, no mount, no rule.
    run("tests/env/env.sh", &["down"])?;
    let processes = shell(&format!("pgrep -a -f '{state_dir}' | grep -v pgrep"));
    ensure!(processes.trim().is_empty(), "processes left: {processes}");
    let link = shell(&format!("ip -o link show {bridge} 2>/dev/null"));
    ensure!(link.trim().is_empty(), "the pod bridge is left: {link}");
    let mounts = shell(&format!("findmnt -rn -o TARGET | grep -F '{state_dir}/'"));
    ensure!(mounts.trim().is_empty(), "mounts left: {mounts}");
    let cgroups = shell("ls -d /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods 2>/dev/null");
    ensure!(cgroups.trim().is_empty(), "cgroups left: {cgroups}");
    let rules = shell(
        "{ iptables-save 2>/dev/null; nft list ruleset 2>/dev/null; } | grep -E 'KUBE|CNI-|spate|10\\.88\\.'",
    );
    ensure!(rules.trim().is_empty(), "netfilter rules left: {rules}");
    let forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")?;
    ensure!(
        forward.trim() == forward_before.trim(),
        "ip_forward is {forward}, was {forward_before}"
    );
    ensure!(!state.join("env").exists(), "the env file is left");

    // Warm: the caches are there; the node comes back with the images it had.
    let started = Instant::now();
    run("tests/env/env.sh", &["up"])?;
    println!(
        "figure: warm env-up (Kafka, QuestDB, control plane, node Ready, Prometheus): {:?}",
        started.elapsed()
    );
    let listed = ctr(&["images", "ls", "-q"])?;
    for image in [&images.consumer, &images.operator] {
        ensure!(
            listed.lines().any(|l| l == image),
            "{image} is not in the node's store"
        );
    }
    Ok(())
}
