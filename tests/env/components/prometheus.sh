#!/usr/bin/env bash
# Prometheus of spate's local environment, from Debian's `prometheus` package unpacked
# into the cache (never installed as a system service).
#
#   prometheus.sh install   apt-get download + dpkg-deb -x into
#                           $SPATE_CACHE_DIR/prometheus-<version>/
#   prometheus.sh start     render prometheus.yml (1 s scrapes: itself, the cluster's pods
#                           that ask for it, found by pod_sd.py through the API server, a
#                           file_sd job on $SPATE_STATE_DIR/prometheus-targets.json; the rule
#                           files in $SPATE_STATE_DIR/prometheus-rules/), start it on a free
#                           port of the pod bridge's host address, wait until ready
#   prometheus.sh health    exit 0 when /-/ready answers
#   prometheus.sh stop      stop it
#
# Exports PROMETHEUS_URL, PROMETHEUS_TARGETS_FILE, PROMETHEUS_RULES_DIR (rule files
# loaded on POST /-/reload) and PROMTOOL (the package's promtool).

source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

PROMETHEUS_FILES=$SPATE_ROOT/tests/env/prometheus
PROMETHEUS_DATA=$SPATE_DATA_DIR/prometheus
PROMETHEUS_TARGETS=$SPATE_STATE_DIR/prometheus-targets.json
PROMETHEUS_STATE=$SPATE_STATE_DIR/prometheus
PODS_FILE=$PROMETHEUS_STATE/pods.json
PROMETHEUS_RULES=$SPATE_STATE_DIR/prometheus-rules

# cluster_access: a client certificate of Prometheus' own (user spate-env-prometheus,
# allowed to list and watch pods), for pod discovery.
cluster_access() {
  read_component_env k8s || die "prometheus: the control plane is not running (start k8s first)"
  mkdir -p "$PROMETHEUS_STATE"; chmod 700 "$PROMETHEUS_STATE"
  [[ -f $PROMETHEUS_STATE/spate-env-prometheus.crt ]] ||
    sign_cert "$PROMETHEUS_STATE" "$K8S_PKI/ca" spate-env-prometheus "/CN=spate-env-prometheus" "$CLIENT_CERT_EXT"
  kubectl --kubeconfig "$KUBECONFIG" apply -f "$PROMETHEUS_FILES/rbac.yaml" >/dev/null ||
    die "prometheus: applying its RBAC failed"
}

# installed_home: the cached install to use: SPATE_PROMETHEUS_VERSION's when set, else
# the newest complete one. Prints nothing when there is none.
installed_home() {
  if [[ -n ${SPATE_PROMETHEUS_VERSION:-} ]]; then
    local home=$SPATE_CACHE_DIR/prometheus-$SPATE_PROMETHEUS_VERSION
    [[ -f $home/.complete ]] && echo "$home"
    return 0
  fi
  local found
  found=$(find "$SPATE_CACHE_DIR" -maxdepth 2 -path "$SPATE_CACHE_DIR/prometheus-*/.complete" 2>/dev/null |
    sed 's|/.complete$||' | sort -V | tail -1)
  [[ -n $found ]] && echo "$found"
  return 0
}

# candidate_version: the version apt would download, refreshing apt's lists once if it
# knows none.
candidate_version() {
  local v
  v=$(apt-cache policy prometheus 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
  if [[ -z $v || $v == "(none)" ]]; then
    [[ $(id -u) == 0 ]] ||
      die "prometheus: apt knows no 'prometheus' package and refreshing its lists needs root: run 'sudo apt-get update' once, then retry"
    log "prometheus: apt knows no 'prometheus' package; running apt-get update"
    apt-get update -qq >&2 || die "prometheus: apt-get update failed"
    v=$(apt-cache policy prometheus 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
  fi
  [[ -n $v && $v != "(none)" ]] || die "prometheus: no 'prometheus' package in this machine's apt sources (Debian/Ubuntu main has it)"
  echo "$v"
}

install() {
  local existing
  existing=$(installed_home)
  if [[ -n $existing ]]; then
    log "prometheus: already in $existing"
    return 0
  fi
  need_cmd apt-get "spate takes Prometheus from Debian's package; on other systems put a prometheus-<v>/usr/bin/prometheus under $SPATE_CACHE_DIR"
  need_cmd dpkg-deb "install dpkg (Debian/Ubuntu have it)"
  local start=$SECONDS version
  version=${SPATE_PROMETHEUS_VERSION:-$(candidate_version)}
  local home=$SPATE_CACHE_DIR/prometheus-$version
  log "prometheus: downloading Debian package prometheus $version"
  local tmp
  tmp=$(mktemp -d "$SPATE_CACHE_DIR/.prometheus-download.XXXXXX")
  # apt's sandbox user cannot write into our directory; a world-writable one lets it.
  chmod 0777 "$tmp"
  if ! (cd "$tmp" && apt-get download -q "prometheus=$version") >"$tmp/download.log" 2>&1; then
    # Stale lists name a file the mirror no longer has: refresh them once and retry.
    if [[ $(id -u) == 0 && -z ${SPATE_PROMETHEUS_VERSION:-} ]]; then
      log "prometheus: download failed; refreshing apt's lists and retrying"
      apt-get update -qq >&2 || true
      version=$(candidate_version)
      home=$SPATE_CACHE_DIR/prometheus-$version
    fi
    (cd "$tmp" && apt-get download -q "prometheus=$version") >"$tmp/download.log" 2>&1 ||
      { tail -20 "$tmp/download.log" >&2; rm -rf "$tmp"; die "prometheus: apt-get download failed"; }
  fi
  rm -rf "$home"
  mkdir -p "$home"
  dpkg-deb -x "$tmp"/prometheus_*.deb "$home" || { rm -rf "$tmp"; die "prometheus: dpkg-deb -x failed"; }
  rm -rf "$tmp"
  "$home/usr/bin/prometheus" --version >/dev/null 2>&1 || die "prometheus: $home/usr/bin/prometheus does not run"
  touch "$home/.complete"
  log "prometheus: $version installed in $((SECONDS - start))s"
}

start() {
  local home
  home=$(installed_home)
  [[ -n $home ]] || die "prometheus: not installed; run '$0 install' first"
  if daemon_alive prometheus && health; then
    log "prometheus: already running"
    return 0
  fi
  stop
  mkdir -p "$PROMETHEUS_DATA"
  cluster_access
  # The port of the last start when it is still free: the same `instance` label across
  # restarts keeps Prometheus' own series one series.
  local port
  port=$(cat "$PROMETHEUS_STATE/port" 2>/dev/null || true)
  if [[ -z $port ]] || port_open "$SPATE_HOST_IP" "$port" || port_open 127.0.0.1 "$port"; then
    port=$(free_port)
  fi
  echo "$port" >"$PROMETHEUS_STATE/port"
  sed -e "s|@PORT@|$port|g" -e "s|@TARGETS_FILE@|$PROMETHEUS_TARGETS|g" \
    -e "s|@HOST_IP@|$SPATE_HOST_IP|g" -e "s|@PODS_FILE@|$PODS_FILE|g" \
    -e "s|@RULES_DIR@|$PROMETHEUS_RULES|g" \
    "$PROMETHEUS_FILES/prometheus.yml.in" >"$PROMETHEUS_DATA/prometheus.yml"
  # Targets of an earlier run point at processes that are gone.
  echo '[]' >"$PROMETHEUS_TARGETS.tmp"
  mv "$PROMETHEUS_TARGETS.tmp" "$PROMETHEUS_TARGETS"
  echo '[]' >"$PODS_FILE"
  # Rules of an earlier run belong to tests that are over.
  rm -rf "$PROMETHEUS_RULES"
  mkdir -p "$PROMETHEUS_RULES"
  start_daemon prometheus-pod-sd python3 "$PROMETHEUS_FILES/pod_sd.py" "$K8S_API_SERVER" \
    "$K8S_PKI/ca.crt" "$PROMETHEUS_STATE/spate-env-prometheus.crt" \
    "$PROMETHEUS_STATE/spate-env-prometheus.key" "$PODS_FILE"

  write_component_env prometheus \
    "PROMETHEUS_URL=http://$SPATE_HOST_IP:$port" \
    "PROMETHEUS_TARGETS_FILE=$PROMETHEUS_TARGETS" \
    "PROMETHEUS_RULES_DIR=$PROMETHEUS_RULES" \
    "PROMTOOL=$home/usr/bin/promtool"
  start_daemon prometheus "$home/usr/bin/prometheus" \
    --config.file="$PROMETHEUS_DATA/prometheus.yml" \
    --storage.tsdb.path="$PROMETHEUS_DATA/tsdb" \
    --storage.tsdb.retention.time=1d \
    --web.listen-address="$SPATE_HOST_IP:$port" \
    --web.enable-lifecycle \
    --web.console.templates="$home/etc/prometheus/consoles" \
    --web.console.libraries="$home/etc/prometheus/console_libraries"
  if ! wait_daemon_healthy prometheus 60 health; then
    tail -25 "$SPATE_LOG_DIR/prometheus.log" >&2 || true
    die "prometheus: did not become ready (log $SPATE_LOG_DIR/prometheus.log)"
  fi
  log "prometheus: $(basename "$home" | sed 's/^prometheus-//') ready on http://$SPATE_HOST_IP:$port"
}

health() {
  daemon_alive prometheus && daemon_alive prometheus-pod-sd || return 1
  read_component_env prometheus || return 1
  curl -sf --max-time 3 "$PROMETHEUS_URL/-/ready" >/dev/null
}

stop() {
  stop_daemon prometheus-pod-sd
  stop_daemon prometheus 20
}

version() {
  local home
  home=$(installed_home)
  [[ -n $home ]] && basename "$home" | sed 's/^prometheus-//'
}

case ${1:-} in
  install | start | health | stop | version) "$1" ;;
  *) die "usage: $0 {install|start|health|stop|version}" ;;
esac
