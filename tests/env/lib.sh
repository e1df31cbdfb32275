# shellcheck shell=bash
# Shared helpers for spate's local environment scripts: paths, logging, free ports,
# daemons started in their own process group with pid files, and health waits.
# Sourced by tests/env/env.sh and tests/env/components/*.sh.

set -euo pipefail

SPATE_ROOT=${SPATE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SPATE_CACHE_DIR=${SPATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spate}
SPATE_STATE_DIR=${SPATE_STATE_DIR:-$SPATE_ROOT/.spate}
SPATE_PID_DIR=$SPATE_STATE_DIR/pids
SPATE_DATA_DIR=$SPATE_STATE_DIR/data
SPATE_LOG_ROOT=$SPATE_STATE_DIR/logs
export SPATE_ROOT SPATE_CACHE_DIR SPATE_STATE_DIR SPATE_PID_DIR SPATE_DATA_DIR SPATE_LOG_ROOT

# The pod network: a bridge local to this machine. Its first address is the host's side,
# where every server listens so that pods and host processes reach them alike, and the
# node's InternalIP. Pods have no default route and no NAT: nothing leaves the machine.
SPATE_POD_SUBNET=${SPATE_POD_SUBNET:-10.88.0.0/24}
SPATE_BRIDGE=${SPATE_BRIDGE:-spate0}
_subnet_base=${SPATE_POD_SUBNET%/*}
SPATE_HOST_IP=${_subnet_base%.*}.$((${_subnet_base##*.} + 1))
unset _subnet_base
export SPATE_POD_SUBNET SPATE_BRIDGE SPATE_HOST_IP

mkdir -p "$SPATE_CACHE_DIR" "$SPATE_PID_DIR" "$SPATE_DATA_DIR" "$SPATE_LOG_ROOT"

# new_log_dir: start a new run's log directory, logs/<timestamp>, point logs/current at
# it and export it as SPATE_LOG_DIR. `env.sh up` calls it once per run.
new_log_dir() {
  local dir
  dir=$SPATE_LOG_ROOT/$(date +%Y%m%d-%H%M%S)
  [[ -e $dir ]] && dir=$dir-$$
  mkdir -p "$dir"
  # A plain directory named current (not a link) is kept under another name.
  if [[ -d $SPATE_LOG_ROOT/current && ! -L $SPATE_LOG_ROOT/current ]]; then
    mv "$SPATE_LOG_ROOT/current" "$SPATE_LOG_ROOT/unnamed-$$"
  fi
  ln -sfn "$(basename "$dir")" "$SPATE_LOG_ROOT/current.tmp"
  mv -T "$SPATE_LOG_ROOT/current.tmp" "$SPATE_LOG_ROOT/current"
  SPATE_LOG_DIR=$dir
  export SPATE_LOG_DIR
}

# One log directory per run of `env.sh up`; components started in that run log there.
# A component script run on its own logs into the current run's directory.
if [[ -z ${SPATE_LOG_DIR:-} ]]; then
  if [[ -L $SPATE_LOG_ROOT/current && -d $SPATE_LOG_ROOT/current ]]; then
    SPATE_LOG_DIR=$(readlink -f "$SPATE_LOG_ROOT/current")
    export SPATE_LOG_DIR
  else
    new_log_dir
  fi
fi
mkdir -p "$SPATE_LOG_DIR"

log() { printf '[spate-env %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[spate-env] error: %s\n' "$*" >&2; exit 1; }

# need_cmd CMD HOW_TO_INSTALL: fail with one clear message when a prerequisite is missing.
need_cmd() {
  command -v "$1" >/dev/null 2>&1 || die "missing prerequisite '$1': $2"
}

# free_port: print a TCP port that nothing listens on right now, on any address.
free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("0.0.0.0", 0))
print(s.getsockname()[1])
s.close()
PY
}

# port_open HOST PORT: true when something accepts TCP connections there.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_for DESCRIPTION TIMEOUT_SECONDS COMMAND...: retry COMMAND every 0.25 s until it
# succeeds; fail after the timeout with the description.
wait_for() {
  local what=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for $what"
      return 1
    fi
    sleep 0.25
  done
}

# wait_daemon_healthy NAME TIMEOUT_SECONDS COMMAND...: like wait_for, but gives up at
# once when the daemon NAME has exited (a bad option, a port taken meanwhile).
wait_daemon_healthy() {
  local name=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! daemon_alive "$name"; then
      log "$name exited while starting"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "timed out after ${timeout}s waiting for $name"
      return 1
    fi
    sleep 0.25
  done
}

# start_daemon NAME COMMAND...: run COMMAND detached in its own session, output to
# $SPATE_LOG_DIR/NAME.log, pid in $SPATE_PID_DIR/NAME.pid.
start_daemon() {
  local name=$1; shift
  local logf="$SPATE_LOG_DIR/$name.log"
  setsid "$@" >>"$logf" 2>&1 < /dev/null &
  echo $! >"$SPATE_PID_DIR/$name.pid"
  log "started $name (pid $!, log $logf)"
}

# daemon_alive NAME: true when the pid file names a live process.
daemon_alive() {
  local pidf="$SPATE_PID_DIR/$1.pid"
  [[ -f $pidf ]] && kill -0 "$(cat "$pidf")" 2>/dev/null
}

# stop_daemon NAME [GRACE_SECONDS]: SIGTERM the daemon's process group, SIGKILL after the
# grace period, and remove the pid file. Leaves no process behind.
stop_daemon() {
  local name=$1 grace=${2:-15}
  local pidf="$SPATE_PID_DIR/$name.pid"
  [[ -f $pidf ]] || return 0
  local pid; pid=$(cat "$pidf")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name did not stop within ${grace}s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    # The process group may outlive its leader (children); make sure it is gone.
    kill -KILL -- "-$pid" 2>/dev/null || true
    log "stopped $name"
  fi
  rm -f "$pidf"
}

# write_component_env NAME KEY=VALUE...: record what a component exports; env.sh
# concatenates these files into $SPATE_STATE_DIR/env.
write_component_env() {
  local name=$1; shift
  local f="$SPATE_STATE_DIR/$name.env"
  printf '%s\n' "$@" >"$f.tmp"
  mv "$f.tmp" "$f"
}

# read_component_env NAME: source a component's recorded variables into this shell.
read_component_env() {
  local f="$SPATE_STATE_DIR/$1.env"
  [[ -f $f ]] || return 1
  set -a; # shellcheck disable=SC1090
  source "$f"; set +a
}

# ------------------------------------------------------------------------ pod network

# bridge_owner_file: the machine-wide record of which state directory created the bridge
# (one node per machine: the kubelet and containerd use a few fixed host paths).
bridge_owner_file() { echo "/run/spate-$SPATE_BRIDGE.owner"; }

# ensure_bridge: create the pod bridge with the host address, once; refuse a bridge that
# another state directory owns.
ensure_bridge() {
  local owner_file owner
  owner_file=$(bridge_owner_file)
  if ip link show "$SPATE_BRIDGE" >/dev/null 2>&1; then
    owner=$(cat "$owner_file" 2>/dev/null || true)
    if [[ -n $owner && $owner != "$SPATE_STATE_DIR" ]]; then
      die "bridge $SPATE_BRIDGE belongs to another spate environment ($owner): run 'make env-down' there, or set SPATE_BRIDGE and SPATE_POD_SUBNET"
    fi
  else
    ((EUID == 0)) || die "creating the pod bridge $SPATE_BRIDGE needs root (the local Kubernetes node runs containers)"
    ip link add "$SPATE_BRIDGE" type bridge
    log "net: created bridge $SPATE_BRIDGE"
  fi
  ip addr show dev "$SPATE_BRIDGE" | grep -q "inet $SPATE_HOST_IP/" ||
    ip addr add "$SPATE_HOST_IP/${SPATE_POD_SUBNET#*/}" dev "$SPATE_BRIDGE"
  ip link set "$SPATE_BRIDGE" up
  echo "$SPATE_STATE_DIR" >"$owner_file"
}

# remove_bridge: delete the pod bridge when this state directory created it.
remove_bridge() {
  local owner_file
  owner_file=$(bridge_owner_file)
  [[ $(cat "$owner_file" 2>/dev/null) == "$SPATE_STATE_DIR" ]] || return 0
  if ip link show "$SPATE_BRIDGE" >/dev/null 2>&1; then
    ip link del "$SPATE_BRIDGE" && log "net: deleted bridge $SPATE_BRIDGE"
  fi
  rm -f "$owner_file"
}

# ---------------------------------------------------------------------- certificates

# sign_cert DIR CA NAME SUBJECT EXTENSIONS: an EC P-256 key DIR/NAME.key and a certificate
# DIR/NAME.crt signed by CA (a path without extension: CA.crt and CA.key).
sign_cert() {
  local dir=$1 ca=$2 name=$3 subj=$4 ext=$5
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$name.key" 2>/dev/null
  openssl req -new -key "$dir/$name.key" -subj "$subj" -out "$dir/$name.csr"
  openssl x509 -req -in "$dir/$name.csr" -CA "$ca.crt" -CAkey "$ca.key" \
    -CAcreateserial -CAserial "$dir/.serial" -days 3650 -sha256 -out "$dir/$name.crt" \
    -extfile <(printf '%s\n' "$ext") 2>/dev/null
  rm -f "$dir/$name.csr"
  chmod 600 "$dir/$name.key"
}

CLIENT_CERT_EXT="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

# write_kubeconfig FILE SERVER CA_CRT CERT KEY: a self-contained kubeconfig for a client
# certificate.
write_kubeconfig() {
  local file=$1 server=$2 ca=$3 cert=$4 key=$5 b64="base64 -w0"
  sed -e "s|@SERVER@|$server|" -e "s|@USER@|$(basename "$cert" .crt)|g" \
    -e "s|@CA_DATA@|$($b64 <"$ca")|" -e "s|@CERT_DATA@|$($b64 <"$cert")|" \
    -e "s|@KEY_DATA@|$($b64 <"$key")|" \
    "$SPATE_ROOT/tests/env/k8s/kubeconfig.template" >"$file.tmp"
  chmod 600 "$file.tmp"
  mv "$file.tmp" "$file"
}

# go_env: Go settings for a reproducible, offline-capable build. Module and build caches
# live under the spate cache so a warm cache needs no network and `rm -rf` removes it all.
go_env() {
  export GOTOOLCHAIN=local CGO_ENABLED=0
  export GOMODCACHE=$SPATE_CACHE_DIR/go/mod GOCACHE=$SPATE_CACHE_DIR/go/build
  export GOFLAGS="-mod=mod -modcacherw -buildvcs=false"
}

# check_go GO_MOD: the Go release a wrapper module's go.mod names, or a newer one.
check_go() {
  need_cmd go "install Go 1.26 or later (https://go.dev/dl/, or your distribution's golang package)"
  local want have
  want=$(awk '$1 == "go" { print $2; exit }' "$1")
  have=$(GOTOOLCHAIN=local go env GOVERSION); have=${have#go}
  if [[ $(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1) != "$want" ]]; then
    die "missing prerequisite 'go >= $want' (found go $have): install Go $want or later from https://go.dev/dl/"
  fi
}
