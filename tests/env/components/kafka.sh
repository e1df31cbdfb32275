#!/usr/bin/env bash
# Apache Kafka of spate's local environment: one combined broker + controller node in
# KRaft mode, run from the Maven Central jars on the machine's Java 17.
#
#   kafka.sh install   collect kafka_2.13 and its runtime jars with Maven into
#                      $SPATE_CACHE_DIR/kafka-<version>/libs
#   kafka.sh start     format the storage on first start, start the broker on a free
#                      port of the pod bridge's host address (the KRaft controller on
#                      loopback), wait until it answers the Kafka protocol
#   kafka.sh health    exit 0 when the broker answers ApiVersions and Metadata
#   kafka.sh stop      stop the broker
#
# Exports KAFKA_BROKERS.

source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

# The newest 4.x release whose artifacts are all on Maven Central (4.4.0's pom names a
# kafka-tools-api 4.4.0 that Central does not have).
KAFKA_VERSION=${SPATE_KAFKA_VERSION:-4.3.1}
KAFKA_HOME=$SPATE_CACHE_DIR/kafka-$KAFKA_VERSION
KAFKA_FILES=$SPATE_ROOT/tests/env/kafka
KAFKA_DATA=$SPATE_DATA_DIR/kafka
KAFKA_CONF=$SPATE_STATE_DIR/kafka
KAFKA_HEAP=${SPATE_KAFKA_HEAP:--Xms256m -Xmx512m}

install() {
  if [[ -f $KAFKA_HOME/.complete ]]; then
    log "kafka: $KAFKA_VERSION already in $KAFKA_HOME"
    return 0
  fi
  need_cmd mvn "install Apache Maven 3.8+ (Debian/Ubuntu: apt-get install maven)"
  log "kafka: collecting kafka_2.13 $KAFKA_VERSION and its runtime jars from Maven Central"
  local start=$SECONDS
  rm -rf "$KAFKA_HOME"
  mkdir -p "$KAFKA_HOME"
  # A Maven repository of our own keeps the cache self-contained (removing
  # $SPATE_CACHE_DIR removes everything) and leaves ~/.m2 alone.
  mvn -B -q -f "$KAFKA_FILES/pom.xml" \
    -Dmaven.repo.local="$SPATE_CACHE_DIR/maven-repo" \
    -Dkafka.version="$KAFKA_VERSION" \
    -DoutputDirectory="$KAFKA_HOME/libs" \
    dependency:copy-dependencies >"$KAFKA_HOME/install.log" 2>&1 ||
    { tail -20 "$KAFKA_HOME/install.log" >&2; die "kafka: maven could not collect the jars (log $KAFKA_HOME/install.log)"; }
  [[ -f $KAFKA_HOME/libs/kafka_2.13-$KAFKA_VERSION.jar ]] || die "kafka: kafka_2.13-$KAFKA_VERSION.jar missing after maven"
  touch "$KAFKA_HOME/.complete"
  log "kafka: $KAFKA_VERSION installed in $((SECONDS - start))s ($(du -sh "$KAFKA_HOME/libs" | cut -f1))"
}

# The JVM command line of the broker and of the storage tool.
read -r -a KAFKA_HEAP_OPTS <<<"$KAFKA_HEAP"
KAFKA_JAVA=(java "${KAFKA_HEAP_OPTS[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$KAFKA_FILES/log4j2.xml" -Dkafka.logs.dir="$SPATE_LOG_DIR"
  -cp "$KAFKA_HOME/libs/*")

# reuse_or_free_port FILE: the port saved in FILE when nothing listens there, else a new
# free one (saved). Keeping the controller's address stable across restarts is kinder to
# the persisted KRaft quorum state.
reuse_or_free_port() {
  local f=$1 port=""
  [[ -f $f ]] && port=$(cat "$f")
  if [[ -z $port ]] || port_open 127.0.0.1 "$port" || port_open "$SPATE_HOST_IP" "$port"; then
    port=$(free_port)
    echo "$port" >"$f"
  fi
  echo "$port"
}

start() {
  [[ -f $KAFKA_HOME/.complete ]] || die "kafka: not installed; run '$0 install' first"
  if daemon_alive kafka && health; then
    log "kafka: already running"
    return 0
  fi
  stop_daemon kafka
  mkdir -p "$KAFKA_DATA" "$KAFKA_CONF"
  local broker_port controller_port
  broker_port=$(reuse_or_free_port "$KAFKA_CONF/broker.port")
  controller_port=$(reuse_or_free_port "$KAFKA_CONF/controller.port")
  [[ $broker_port != "$controller_port" ]] || controller_port=$(free_port)
  echo "$controller_port" >"$KAFKA_CONF/controller.port"
  sed -e "s|@BROKER_PORT@|$broker_port|g" \
    -e "s|@CONTROLLER_PORT@|$controller_port|g" \
    -e "s|@DATA_DIR@|$KAFKA_DATA|g" -e "s|@HOST_IP@|$SPATE_HOST_IP|g" \
    "$KAFKA_FILES/server.properties.in" >"$KAFKA_CONF/server.properties"

  if [[ ! -f $KAFKA_DATA/meta.properties ]]; then
    local cluster_id
    cluster_id=$(python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
    log "kafka: formatting storage in $KAFKA_DATA (cluster $cluster_id)"
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format --ignore-formatted \
      -t "$cluster_id" -c "$KAFKA_CONF/server.properties" >>"$SPATE_LOG_DIR/kafka-format.log" 2>&1 ||
      { tail -20 "$SPATE_LOG_DIR/kafka-format.log" >&2; die "kafka: formatting the storage failed"; }
  fi

  write_component_env kafka "KAFKA_BROKERS=$SPATE_HOST_IP:$broker_port"
  start_daemon kafka "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_CONF/server.properties"
  if ! wait_daemon_healthy kafka 90 health; then
    tail -25 "$SPATE_LOG_DIR/kafka.log" >&2 || true
    die "kafka: did not become healthy (log $SPATE_LOG_DIR/kafka.log)"
  fi
  log "kafka: $KAFKA_VERSION ready on $SPATE_HOST_IP:$broker_port"
}

health() {
  daemon_alive kafka || return 1
  read_component_env kafka || return 1
  python3 "$KAFKA_FILES/probe.py" "$KAFKA_BROKERS"
}

stop() {
  # A controlled shutdown of a single node takes a few seconds.
  stop_daemon kafka 30
}

case ${1:-} in
  install | start | health | stop) "$1" ;;
  version) echo "$KAFKA_VERSION" ;;
  *) die "usage: $0 {install|start|health|stop|version}" ;;
esac
