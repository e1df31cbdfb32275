#!/usr/bin/env bash
# spate's local environment of real servers: Kafka, QuestDB, a Kubernetes control plane
# and node, Prometheus.
#
#   env.sh up       reuse the running environment when every server is healthy; else
#                   create the pod bridge, install what is missing (in parallel), start
#                   each server in order and write $SPATE_STATE_DIR/env
#   env.sh down     stop every server, leaving no process behind, remove the pod bridge
#                   and the env file
#   env.sh status   print each server's health; exit 1 when one is down
#
# SPATE_ENV_COMPONENTS (space-separated) narrows the set of servers, e.g. for debugging
# one of them; the default is all of them.

source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

COMPONENT_DIR=$SPATE_ROOT/tests/env/components
read -r -a COMPONENTS <<<"${SPATE_ENV_COMPONENTS:-kafka questdb k8s node prometheus}"
ENV_FILE=$SPATE_STATE_DIR/env
LOCK_FILE=$SPATE_STATE_DIR/env.lock

# component NAME ACTION: run a component script without our lock descriptor, so that
# daemons it starts do not hold the lock after we exit.
component() {
  "$COMPONENT_DIR/$1.sh" "$2" 9>&-
}

# take_lock: one env.sh up/down at a time on this state directory (parallel test
# binaries, a `make env-up` next to a test run).
take_lock() {
  exec 9>"$LOCK_FILE"
  if ! flock -n 9; then
    log "another env.sh is running on $SPATE_STATE_DIR; waiting for it"
    flock 9
  fi
}

elapsed_since() {
  python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$EPOCHREALTIME"
}

check_components_exist() {
  local c
  for c in "${COMPONENTS[@]}"; do
    [[ -x $COMPONENT_DIR/$c.sh ]] || die "component script $COMPONENT_DIR/$c.sh is missing or not executable"
  done
}

# check_prereqs: every missing prerequisite, one message each, then fail.
check_prereqs() {
  local missing=()
  have() { command -v "$1" >/dev/null 2>&1; }
  if ! have java; then
    missing+=("java 17+ (Kafka and QuestDB run on it): apt-get install openjdk-17-jre-headless")
  else
    local jv
    jv=$(java -version 2>&1 | awk -F'"' '/version/ { print $2; exit }')
    if [[ ${jv%%.*} -lt 17 ]]; then
      missing+=("java 17+ (found $jv): apt-get install openjdk-17-jre-headless, and put it first on PATH")
    fi
  fi
  have mvn || missing+=("mvn (collects the Kafka and QuestDB jars from Maven Central): apt-get install maven")
  have go || missing+=("go 1.26+ (builds etcd and Kubernetes): https://go.dev/dl/")
  have python3 || missing+=("python3 (free ports, the Kafka probe): apt-get install python3")
  have curl || missing+=("curl (health checks): apt-get install curl")
  have openssl || missing+=("openssl (Kubernetes certificates): apt-get install openssl")
  have apt-get || missing+=("apt-get (Prometheus comes from Debian's package): a Debian or Ubuntu system")
  have dpkg-deb || missing+=("dpkg-deb (unpacks the Prometheus package): apt-get install dpkg")
  have flock || missing+=("flock: apt-get install util-linux")
  have setsid || missing+=("setsid: apt-get install util-linux")
  have ip || missing+=("ip (the pod bridge): apt-get install iproute2")
  have kubectl || missing+=("kubectl (applies the environment's RBAC, drains the node): https://kubernetes.io/docs/tasks/tools/")
  have gcc || missing+=("gcc with static glibc (builds the pod sandbox binary): apt-get install build-essential")
  ((EUID == 0)) || missing+=("root: the local Kubernetes node runs containers, and the pod bridge needs CAP_NET_ADMIN")
  ((${#missing[@]} == 0)) && return 0
  local m
  for m in "${missing[@]}"; do printf '[spate-env] missing prerequisite: %s\n' "$m" >&2; done
  exit 1
}

# unhealthy: print the components whose health check fails.
unhealthy() {
  local c
  for c in "${COMPONENTS[@]}"; do
    component "$c" health >/dev/null 2>&1 || echo "$c"
  done
}

write_env_file() {
  local c
  {
    for c in "${COMPONENTS[@]}"; do
      [[ -f $SPATE_STATE_DIR/$c.env ]] || die "$c recorded no variables ($SPATE_STATE_DIR/$c.env)"
      cat "$SPATE_STATE_DIR/$c.env"
    done
    echo "SPATE_LOG_DIR=$SPATE_LOG_DIR"
  } >"$ENV_FILE.tmp"
  # It holds the local Kafka users' passwords.
  chmod 600 "$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

summary() {
  local how=$1 t0=$2 c
  log "environment $how in $(elapsed_since "$t0")s; env file $ENV_FILE"
  for c in "${COMPONENTS[@]}"; do
    printf '  %-11s %s\n' "$c" "$(component "$c" version 2>/dev/null || echo 'up')" >&2
  done
  # Passwords stay in the env file, out of the terminal and the logs.
  sed -e 's/^\([A-Z_]*PASSWORD\)=.*/\1=(in the env file)/' -e 's/^/  /' "$ENV_FILE" >&2
}

# ------------------------------------------------------------------------------ install

declare -A INSTALL_PID=()

kill_installs() {
  local c
  for c in "${!INSTALL_PID[@]}"; do
    kill -TERM -- "-${INSTALL_PID[$c]}" 2>/dev/null || true
  done
}

# install_and_start: every component's install runs in the background at once (the
# Kubernetes build takes minutes on a cold cache); the components start in their list
# order, each as soon as its own install is done and the one before it started (the node
# needs the control plane, Prometheus discovers pods through the API server), one at a
# time so free ports are never handed out twice.
install_and_start() {
  local c t0=$SECONDS last_progress=$SECONDS
  for c in "${COMPONENTS[@]}"; do
    setsid bash -c 'set -o pipefail; "$0" install 2>&1 | tee "$1" >&2' \
      "$COMPONENT_DIR/$c.sh" "$SPATE_LOG_DIR/install-$c.log" 9>&- &
    INSTALL_PID[$c]=$!
  done
  for c in "${COMPONENTS[@]}"; do
    while kill -0 "${INSTALL_PID[$c]}" 2>/dev/null; do
      if ((SECONDS - last_progress >= 60)); then
        log "still installing: ${!INSTALL_PID[*]} ($((SECONDS - t0))s so far)"
        last_progress=$SECONDS
      fi
      sleep 0.5
    done
    wait "${INSTALL_PID[$c]}" || die "installing $c failed (log $SPATE_LOG_DIR/install-$c.log)"
    unset 'INSTALL_PID[$c]'
    component "$c" start || die "starting $c failed (logs in $SPATE_LOG_DIR)"
  done
}

# up_failed: on a failed (or interrupted) start, stop the installs still running and the
# servers already started; their logs stay in this run's log directory.
up_failed() {
  local rc=$?
  ((rc == 0)) && return 0
  trap - EXIT
  kill_installs
  log "up failed; stopping what was started (logs in $SPATE_LOG_DIR)"
  stop_all || true
  exit "$rc"
}

# ------------------------------------------------------------------------------ actions

up() {
  local t0=$EPOCHREALTIME
  check_prereqs
  check_components_exist
  take_lock
  local down
  down=$(unhealthy)
  if [[ -z $down ]]; then
    [[ -f $ENV_FILE ]] || write_env_file
    summary "reused (already up)" "$t0"
    return 0
  fi
  if [[ -f $ENV_FILE ]] || compgen -G "$SPATE_PID_DIR/*.pid" >/dev/null; then
    log "not healthy: $(echo "$down" | tr '\n' ' ')— restarting the environment"
    stop_all
  fi
  # A new log directory per run (the one lib.sh just made, when it is still empty).
  [[ -z $(ls -A "$SPATE_LOG_DIR") ]] || new_log_dir
  log "starting ${COMPONENTS[*]}; logs in $SPATE_LOG_DIR"
  trap up_failed EXIT
  ensure_bridge
  install_and_start
  write_env_file
  trap - EXIT
  summary up "$t0"
}

# stop_all: stop the components in reverse order, then anything a pid file still names;
# verify that no recorded process is left.
stop_all() {
  local before=() f c i
  for f in "$SPATE_PID_DIR"/*.pid; do
    [[ -f $f ]] && before+=("$(basename "$f" .pid):$(cat "$f")")
  done
  rm -f "$ENV_FILE"
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    c=${COMPONENTS[i]}
    if [[ -x $COMPONENT_DIR/$c.sh ]]; then component "$c" stop || log "stopping $c failed"; fi
    rm -f "$SPATE_STATE_DIR/$c.env"
  done
  for f in "$SPATE_PID_DIR"/*.pid; do
    [[ -f $f ]] && stop_daemon "$(basename "$f" .pid)"
  done
  local left=() stopped=() entry
  for entry in "${before[@]}"; do
    if kill -0 "${entry#*:}" 2>/dev/null; then left+=("$entry"); else stopped+=("${entry%%:*} (pid ${entry#*:})"); fi
  done
  ((${#left[@]} == 0)) || die "still running after stop: ${left[*]}"
  remove_bridge
  if ((${#stopped[@]} == 0)); then
    log "nothing was running"
  else
    log "stopped: ${stopped[*]}"
  fi
}

down() {
  take_lock
  stop_all
}

status() {
  local c bad=0
  for c in "${COMPONENTS[@]}"; do
    if [[ ! -x $COMPONENT_DIR/$c.sh ]]; then
      printf '  %-11s MISSING (%s)\n' "$c" "$COMPONENT_DIR/$c.sh"
      bad=1
    elif component "$c" health >/dev/null 2>&1; then
      printf '  %-11s up\n' "$c"
    else
      printf '  %-11s DOWN\n' "$c"
      bad=1
    fi
  done
  if [[ -f $ENV_FILE ]]; then
    echo "env file $ENV_FILE:"
    sed 's/^/  /' "$ENV_FILE"
  else
    echo "no env file (run: make env-up)"
  fi
  return "$bad"
}

case ${1:-} in
  up | down | status) "$1" ;;
  *) die "usage: $0 {up|down|status}" ;;
esac
