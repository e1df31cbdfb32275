#!/usr/bin/env bash
# QuestDB of spate's local environment, run from its Maven Central jar (a modular jar
# with its native libraries inside) on the machine's Java 17.
#
#   questdb.sh install   fetch org.questdb:questdb with Maven into
#                        $SPATE_CACHE_DIR/questdb-<version>/questdb.jar
#   questdb.sh start     render server.conf with free ports on the pod bridge's host
#                        address, start the server
#                        with its root in $SPATE_DATA_DIR/questdb, wait until it answers
#   questdb.sh health    exit 0 when `select 1` answers over HTTP
#   questdb.sh stop      stop the server
#
# Exports QUESTDB_HTTP, QUESTDB_ILP_TCP, QUESTDB_PG, QUESTDB_METRICS.

source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

# 9.3.x is the last line that runs on Java 17 (9.4 needs Java 25).
QUESTDB_VERSION=${SPATE_QUESTDB_VERSION:-9.3.4}
QUESTDB_HOME=$SPATE_CACHE_DIR/questdb-$QUESTDB_VERSION
QUESTDB_JAR=$QUESTDB_HOME/questdb.jar
QUESTDB_FILES=$SPATE_ROOT/tests/env/questdb
QUESTDB_ROOT=$SPATE_DATA_DIR/questdb
QUESTDB_HEAP=${SPATE_QUESTDB_HEAP:--Xms128m -Xmx1g}
MAVEN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

install() {
  if [[ -f $QUESTDB_HOME/.complete ]]; then
    log "questdb: $QUESTDB_VERSION already in $QUESTDB_HOME"
    return 0
  fi
  need_cmd mvn "install Apache Maven 3.8+ (Debian/Ubuntu: apt-get install maven)"
  log "questdb: fetching org.questdb:questdb:$QUESTDB_VERSION from Maven Central"
  local start=$SECONDS
  rm -rf "$QUESTDB_HOME"
  mkdir -p "$QUESTDB_HOME"
  # Maven verifies the checksums and honours the user's mirrors and proxies.
  mvn -B -q -Dmaven.repo.local="$SPATE_CACHE_DIR/maven-repo" \
    "$MAVEN_DEPENDENCY_PLUGIN:copy" \
    -Dartifact="org.questdb:questdb:$QUESTDB_VERSION:jar" \
    -DoutputDirectory="$QUESTDB_HOME" -Dmdep.stripVersion=true \
    >"$QUESTDB_HOME/install.log" 2>&1 ||
    { tail -20 "$QUESTDB_HOME/install.log" >&2; die "questdb: maven could not fetch the jar (log $QUESTDB_HOME/install.log)"; }
  [[ -f $QUESTDB_JAR ]] || die "questdb: $QUESTDB_JAR missing after maven"
  touch "$QUESTDB_HOME/.complete"
  log "questdb: $QUESTDB_VERSION installed in $((SECONDS - start))s"
}

start() {
  [[ -f $QUESTDB_HOME/.complete ]] || die "questdb: not installed; run '$0 install' first"
  if daemon_alive questdb && health; then
    log "questdb: already running"
    return 0
  fi
  stop_daemon questdb
  mkdir -p "$QUESTDB_ROOT/conf"
  local http_port min_port pg_port ilp_port
  http_port=$(free_port)
  min_port=$(free_port)
  pg_port=$(free_port)
  ilp_port=$(free_port)
  sed -e "s|@HTTP_PORT@|$http_port|g" \
    -e "s|@HTTP_MIN_PORT@|$min_port|g" \
    -e "s|@PG_PORT@|$pg_port|g" \
    -e "s|@ILP_TCP_PORT@|$ilp_port|g" -e "s|@HOST_IP@|$SPATE_HOST_IP|g" \
    "$QUESTDB_FILES/server.conf.in" >"$QUESTDB_ROOT/conf/server.conf"
  # The ports are picked one by one; make sure they are distinct.
  [[ $(printf '%s\n' "$http_port" "$min_port" "$pg_port" "$ilp_port" | sort -u | wc -l) == 4 ]] ||
    die "questdb: free_port returned the same port twice; try again"

  write_component_env questdb \
    "QUESTDB_HTTP=http://$SPATE_HOST_IP:$http_port" \
    "QUESTDB_ILP_TCP=$SPATE_HOST_IP:$ilp_port" \
    "QUESTDB_PG=$SPATE_HOST_IP:$pg_port" \
    "QUESTDB_METRICS=http://$SPATE_HOST_IP:$min_port/metrics"
  local heap
  read -r -a heap <<<"$QUESTDB_HEAP"
  start_daemon questdb java "${heap[@]}" -XX:+UseParallelGC -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -p "$QUESTDB_JAR" -m io.questdb/io.questdb.ServerMain -d "$QUESTDB_ROOT"
  if ! wait_daemon_healthy questdb 90 health; then
    tail -25 "$SPATE_LOG_DIR/questdb.log" >&2 || true
    die "questdb: did not become healthy (log $SPATE_LOG_DIR/questdb.log)"
  fi
  log "questdb: $QUESTDB_VERSION ready on http://$SPATE_HOST_IP:$http_port"
}

health() {
  daemon_alive questdb || return 1
  read_component_env questdb || return 1
  curl -sf --max-time 3 "$QUESTDB_HTTP/exec?query=select%201" | grep -q '"dataset":\[\[1\]\]'
}

stop() {
  stop_daemon questdb 20
}

case ${1:-} in
  install | start | health | stop) "$1" ;;
  version) echo "$QUESTDB_VERSION" ;;
  *) die "usage: $0 {install|start|health|stop|version}" ;;
esac
