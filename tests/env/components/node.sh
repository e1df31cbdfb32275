#!/usr/bin/env bash
# The Kubernetes node of spate's local environment: containerd + runc + the CNI bridge
# plugin from Debian's packages, and a kubelet built with the control plane (k8s.sh).
# Pods run as real containers from locally imported OCI images, on the pod bridge that
# env.sh creates ($SPATE_BRIDGE, $SPATE_POD_SUBNET); the node's IP is the bridge's host
# address. One node per machine: the kubelet and containerd use a few fixed host paths.
#
#   node.sh install        apt-get install containerd, runc and the CNI plugins when
#                          missing; build the pod sandbox ("pause") image
#   node.sh start          containerd, the sandbox image, the node's client certificate,
#                          the kubelet; wait until the Node is Ready
#   node.sh health         exit 0 when containerd and the kubelet answer and the Node is Ready
#   node.sh stop           drain and stop the node, leaving no process, mount, cgroup,
#                          network namespace or Node object behind
#   node.sh import TAR...  import OCI image archives the node's image store lacks
#   node.sh leftovers      print what a stopped node left on the host (nothing when clean)
#
# Exports SPATE_NODE_NAME, CONTAINERD_ADDRESS.

source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

NODE_FILES=$SPATE_ROOT/tests/env/node
NODE_NAME=${SPATE_NODE_NAME:-spate-node}
NODE_STATE=$SPATE_STATE_DIR/node
NODE_DATA=$SPATE_DATA_DIR/node
CONTAINERD_ROOT=$NODE_DATA/containerd
CONTAINERD_STATE=$NODE_STATE/containerd
SOCKET=$NODE_STATE/containerd.sock
KUBELET_ROOT=$NODE_DATA/kubelet
KUBELET_PORT=${SPATE_KUBELET_PORT:-10250}
HEALTHZ_PORT=${SPATE_KUBELET_HEALTHZ_PORT:-10248}
PAUSE_REV=1
PAUSE_HOME=$SPATE_CACHE_DIR/pause-$PAUSE_REV
PAUSE_IMAGE=localhost/spate-pause:$PAUSE_REV
PACKAGES=(containerd runc containernetworking-plugins)
# The kubelet always uses these, whatever its --root-dir; stop removes what it left there.
FIXED_DIRS=(/var/lib/kubelet/device-plugins /var/lib/kubelet /var/log/containers /run/containerd/s)

ctr_() { ctr --address "$SOCKET" -n k8s.io "$@"; }

cni_bin_dir() {
  local d
  for d in /usr/lib/cni /opt/cni/bin; do
    [[ -x $d/bridge && -x $d/host-local && -x $d/loopback ]] && { echo "$d"; return 0; }
  done
  return 1
}

# ---------------------------------------------------------------------------- install

install() {
  ((EUID == 0)) || die "node: the local Kubernetes node runs containers and needs root"
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  cni_bin_dir >/dev/null || missing+=(containernetworking-plugins)
  if ((${#missing[@]})); then
    need_cmd apt-get "install ${PACKAGES[*]} with your distribution's package manager"
    log "node: installing ${missing[*]} with apt-get"
    local t0=$SECONDS
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
      >"$SPATE_LOG_DIR/apt-node.log" 2>&1; then
      apt-get update -q >>"$SPATE_LOG_DIR/apt-node.log" 2>&1 || true
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
        >>"$SPATE_LOG_DIR/apt-node.log" 2>&1 ||
        { tail -20 "$SPATE_LOG_DIR/apt-node.log" >&2; die "node: apt-get install ${missing[*]} failed"; }
    fi
    log "node: installed ${missing[*]} in $((SECONDS - t0))s"
  fi
  if [[ ! -f $PAUSE_HOME/.complete ]]; then
    need_cmd gcc "install gcc and libc6-dev (apt-get install build-essential): the pod sandbox binary is built from tests/env/node/pause.c"
    rm -rf "$PAUSE_HOME"; mkdir -p "$PAUSE_HOME"
    gcc -static -Os -s -o "$PAUSE_HOME/pause" "$NODE_FILES/pause.c" ||
      die "node: building the pause binary failed (gcc -static needs libc6-dev)"
    "$SPATE_ROOT/tests/env/images/mkimage.py" "$PAUSE_HOME/pause.tar" "$PAUSE_IMAGE" \
      --file "$PAUSE_HOME/pause:/pause" -- /pause >/dev/null
    touch "$PAUSE_HOME/.complete"
    log "node: built the pod sandbox image $PAUSE_IMAGE"
  fi
}

# ------------------------------------------------------------------------------ start

render() { # TEMPLATE OUT
  sed -e "s|@ROOT@|$CONTAINERD_ROOT|g" -e "s|@STATE@|$CONTAINERD_STATE|g" \
    -e "s|@SOCKET@|$SOCKET|g" -e "s|@PAUSE_IMAGE@|$PAUSE_IMAGE|g" \
    -e "s|@RESTRICT_OOM_SCORE_ADJ@|$(restrict_oom_score_adj)|g" \
    -e "s|@RUNC@|$(command -v runc)|g" -e "s|@CNI_BIN_DIR@|$(cni_bin_dir)|g" \
    -e "s|@CNI_CONF_DIR@|$NODE_STATE/cni|g" -e "s|@IPAM_DIR@|$NODE_STATE/ipam|g" \
    -e "s|@BRIDGE@|$SPATE_BRIDGE|g" -e "s|@POD_SUBNET@|$SPATE_POD_SUBNET|g" \
    -e "s|@HOST_IP@|$SPATE_HOST_IP|g" -e "s|@KUBELET_PORT@|$KUBELET_PORT|g" \
    -e "s|@HEALTHZ_PORT@|$HEALTHZ_PORT|g" -e "s|@CLIENT_CA@|$K8S_PKI/ca.crt|g" \
    -e "s|@POD_LOGS@|$KUBELET_ROOT/pod-logs|g" "$1" >"$2"
}

# restrict_oom_score_adj: true when this root lacks CAP_SYS_RESOURCE (bit 24 of the
# bounding set), which a negative oom_score_adj needs.
restrict_oom_score_adj() {
  local bnd
  bnd=$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)
  if (((16#$bnd >> 24) & 1)); then echo false; else echo true; fi
}

kubectl_admin() { kubectl --kubeconfig "$KUBECONFIG" --request-timeout=10s "$@"; }

node_ready() {
  [[ $(kubectl_admin get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

kubelet_healthy() { curl -fsS --max-time 3 "http://127.0.0.1:$HEALTHZ_PORT/healthz" >/dev/null; }

fail_start() {
  tail -25 "$SPATE_LOG_DIR/$1.log" >&2 || true
  stop
  die "node: $1 did not become healthy (log $SPATE_LOG_DIR/$1.log)"
}

# import_missing TAR...: import the archives whose image the store lacks.
import_missing() {
  local tar name
  for tar in "$@"; do
    [[ -f $tar ]] || continue
    name=$(tar -xOf "$tar" ./index.json 2>/dev/null |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["manifests"][0]["annotations"]["io.containerd.image.name"])') ||
      die "node: $tar is not an OCI archive made by mkimage.py"
    if ! ctr_ images ls -q "name==$name" | grep -q .; then
      ctr_ images import "$tar" >/dev/null || die "node: importing $tar failed"
      log "node: imported $name"
    fi
  done
}

start() {
  ((EUID == 0)) || die "node: the local Kubernetes node runs containers and needs root"
  read_component_env k8s || die "node: the control plane is not running (start k8s first)"
  [[ -x $K8S_BIN/kubelet ]] || die "node: no kubelet in $K8S_BIN (run k8s.sh install)"
  if health 2>/dev/null; then
    log "node: already running; reusing it"
    export_env
    return 0
  fi
  stop
  ip addr show dev "$SPATE_BRIDGE" 2>/dev/null | grep -q "inet $SPATE_HOST_IP/" ||
    die "node: the pod bridge $SPATE_BRIDGE with $SPATE_HOST_IP is missing (env.sh up creates it)"
  ! port_open "$SPATE_HOST_IP" "$KUBELET_PORT" && ! port_open 127.0.0.1 "$HEALTHZ_PORT" ||
    die "node: port $KUBELET_PORT or $HEALTHZ_PORT is taken: is another kubelet running on this machine?"
  local t0=$SECONDS
  mkdir -p "$NODE_STATE"/{cni,ipam,pki} "$CONTAINERD_ROOT" "$CONTAINERD_STATE" "$KUBELET_ROOT"
  chmod 700 "$NODE_STATE/pki"
  # The CNI bridge plugin turns IPv4 forwarding on; stop restores the value from before.
  [[ -f $NODE_STATE/ip_forward.orig ]] || cat /proc/sys/net/ipv4/ip_forward >"$NODE_STATE/ip_forward.orig"
  render "$NODE_FILES/containerd.toml.in" "$NODE_STATE/containerd.toml"
  render "$NODE_FILES/cni.conflist.in" "$NODE_STATE/cni/10-spate-pods.conflist"
  start_daemon containerd containerd --config "$NODE_STATE/containerd.toml"
  wait_daemon_healthy containerd 30 ctr --address "$SOCKET" version || fail_start containerd
  import_missing "$PAUSE_HOME/pause.tar" "$SPATE_STATE_DIR"/images/*.tar

  # The node's identity: system:node:<name> in system:nodes, signed by the cluster CA, so
  # the Node authorizer limits the kubelet to its own node and pods.
  if [[ ! -f $NODE_STATE/kubelet.kubeconfig ]]; then
    sign_cert "$NODE_STATE/pki" "$K8S_PKI/ca" kubelet-client \
      "/O=system:nodes/CN=system:node:$NODE_NAME" "$CLIENT_CERT_EXT"
  fi
  write_kubeconfig "$NODE_STATE/kubelet.kubeconfig" "$K8S_API_SERVER" "$K8S_PKI/ca.crt" \
    "$NODE_STATE/pki/kubelet-client.crt" "$NODE_STATE/pki/kubelet-client.key"
  render "$NODE_FILES/kubelet-config.yaml.in" "$NODE_STATE/kubelet-config.yaml"
  start_daemon kubelet "$K8S_BIN/kubelet" \
    --config "$NODE_STATE/kubelet-config.yaml" \
    --kubeconfig "$NODE_STATE/kubelet.kubeconfig" \
    --root-dir "$KUBELET_ROOT" --cert-dir "$NODE_STATE/pki" \
    --hostname-override "$NODE_NAME" --node-ip "$SPATE_HOST_IP" \
    --node-labels "spate.dev/local-node=true" --v 1
  wait_daemon_healthy kubelet 60 kubelet_healthy || fail_start kubelet
  wait_for "node $NODE_NAME Ready" 120 node_ready || fail_start kubelet
  # A Node left cordoned by an interrupted stop takes pods again.
  kubectl_admin uncordon "$NODE_NAME" >/dev/null
  log "node: $NODE_NAME Ready after $((SECONDS - t0))s (pods on $SPATE_POD_SUBNET, bridge $SPATE_BRIDGE)"
  export_env
}

export_env() {
  write_component_env node "SPATE_NODE_NAME=$NODE_NAME" "CONTAINERD_ADDRESS=$SOCKET" \
    "SPATE_HOST_IP=$SPATE_HOST_IP" "SPATE_POD_SUBNET=$SPATE_POD_SUBNET"
}

# ---------------------------------------------------------------------- health, import

health() {
  daemon_alive containerd && daemon_alive kubelet || return 1
  read_component_env k8s || return 1
  ctr --address "$SOCKET" version >/dev/null 2>&1 && kubelet_healthy && node_ready
}

import() {
  daemon_alive containerd || die "node: not running (make env-up)"
  # The sandbox image too: containerd 1.6 does not pin it, so the kubelet's image
  # collection under disk pressure can remove it, and no registry can bring it back.
  import_missing "$PAUSE_HOME/pause.tar" "$@"
}

# ------------------------------------------------------------------------------- stop

# drain: delete the node's pods gracefully while the kubelet runs, so that it tears
# their containers and networks down itself.
drain() {
  read_component_env k8s 2>/dev/null || return 0
  daemon_alive kubelet || return 0
  kubectl_admin get --raw /readyz >/dev/null 2>&1 || return 0
  kubectl_admin cordon "$NODE_NAME" >/dev/null 2>&1 || return 0
  kubectl_admin delete pods -A --field-selector "spec.nodeName=$NODE_NAME" \
    --wait=true --timeout=60s >/dev/null 2>&1 || log "node: pods still terminating after 60s; forcing"
}

stop() {
  drain
  stop_daemon kubelet 20
  # Containers the kubelet did not get to remove.
  if daemon_alive containerd; then
    local t
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" >/dev/null 2>&1; done
    for t in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers rm "$t" >/dev/null 2>&1; done
  fi
  stop_daemon containerd 20
  # Shims outlive containerd only if their tasks did; none may be left.
  pkill -KILL -f "containerd-shim-runc-v2 -namespace k8s.io -address $SOCKET" 2>/dev/null || true
  # A shim killed (by us, or by a machine that went down with the node) leaves its socket
  # in the fixed /run/containerd/s; with no shim left on this machine, none is in use.
  if ! pgrep -f containerd-shim >/dev/null 2>&1; then
    find /run/containerd/s -maxdepth 1 -type s -delete 2>/dev/null || true
  fi
  # Mounts left under our directories (pod volumes, network namespaces, rootfs), deepest first.
  findmnt -rn -o TARGET | awk -v a="$NODE_DATA/" -v b="$NODE_STATE/" 'index($0, a) == 1 || index($0, b) == 1' |
    sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$NODE_STATE/ipam" "$CONTAINERD_STATE" "$KUBELET_ROOT/pods" "$KUBELET_ROOT/pod-logs"
  # The veth ends of pods whose network the kubelet did not tear down.
  local link
  for link in $(ip -o link show master "$SPATE_BRIDGE" 2>/dev/null | awk -F': ' '{ print $2 }' | cut -d@ -f1); do
    ip link del "$link" 2>/dev/null || true
  done
  if [[ -f $NODE_STATE/ip_forward.orig ]]; then
    cat "$NODE_STATE/ip_forward.orig" >/proc/sys/net/ipv4/ip_forward 2>/dev/null || true
    rm -f "$NODE_STATE/ip_forward.orig"
  fi
  # The kubelet's fixed host paths: its device-plugin socket, the log symlinks.
  local l d
  for l in /var/log/containers/*.log; do
    [[ -L $l && $(readlink "$l") == "$KUBELET_ROOT"/* ]] && rm -f "$l"
  done
  rm -f /var/lib/kubelet/device-plugins/kubelet.sock /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint
  for d in "${FIXED_DIRS[@]}"; do rmdir "$d" 2>/dev/null || true; done
  # The kubelet's cgroups (cgroupfs driver), emptied once their processes are gone.
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  if read_component_env k8s 2>/dev/null && kubectl_admin get --raw /readyz >/dev/null 2>&1; then
    kubectl_admin delete node "$NODE_NAME" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  rm -f "$SPATE_STATE_DIR/node.env"
}

# leftovers: one line per thing a stopped node left on this machine.
leftovers() {
  local d
  pgrep -a -f "kubelet --config $NODE_STATE|containerd --config $NODE_STATE|containerd-shim-runc-v2.*$SOCKET" || true
  findmnt -rn -o TARGET | awk -v a="$NODE_DATA/" -v b="$NODE_STATE/" 'index($0, a) == 1 || index($0, b) == 1' |
    sed 's/^/mount /'
  for d in "${FIXED_DIRS[@]}"; do [[ -e $d ]] && echo "path $d"; done
  for d in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do [[ -d $d ]] && echo "cgroup $d"; done
  [[ -f $NODE_STATE/ip_forward.orig ]] && echo "ip_forward not restored"
  ip -o link show master "$SPATE_BRIDGE" 2>/dev/null | sed 's/^/link /'
  return 0
}

case ${1:-} in
  install | start | health | stop | leftovers) "$1" ;;
  import) shift; import "$@" ;;
  version) echo "containerd $(containerd --version 2>/dev/null | awk '{ print $3 }'), runc $(runc --version 2>/dev/null | awk 'NR == 1 { print $3 }')" ;;
  *) die "usage: $0 {install|start|health|stop|import TAR...|leftovers|version}" ;;
esac
