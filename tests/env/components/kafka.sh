#!/usr/bin/env bash
# Apache Kafka of spate's local environment: one combined broker + controller node in
# KRaft mode, run from the Maven Central jars on the machine's Java 17.
#
#   kafka.sh install   collect kafka_2.13 and its runtime jars with Maven into
#                      $SPATE_CACHE_DIR/kafka-<version>/libs
#   kafka.sh start     make the TLS material (kafka/tls.sh), format the storage on first
#                      start, start the broker with three listeners on free ports of the
#                      pod bridge's host address (PLAINTEXT, SASL_SSL, SSL with client
#                      certificates; the KRaft controller on loopback), wait until it
#                      answers the Kafka protocol and create the SCRAM users
#   kafka.sh health    exit 0 when the broker answers ApiVersions and Metadata and the
#                      secured listeners accept connections
#   kafka.sh stop      stop the broker
#
# Exports KAFKA_BROKERS, KAFKA_SASL_SSL_BROKERS, KAFKA_SSL_BROKERS, the TLS files, the
# users and their passwords (see tests/env/README.md).

source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

# The newest 4.x release whose artifacts are all on Maven Central (4.4.0's pom names a
# kafka-tools-api 4.4.0 that Central does not have).
KAFKA_VERSION=${SPATE_KAFKA_VERSION:-4.3.1}
KAFKA_HOME=$SPATE_CACHE_DIR/kafka-$KAFKA_VERSION
KAFKA_FILES=$SPATE_ROOT/tests/env/kafka
KAFKA_DATA=$SPATE_DATA_DIR/kafka
KAFKA_CONF=$SPATE_STATE_DIR/kafka
KAFKA_HEAP=${SPATE_KAFKA_HEAP:--Xms256m -Xmx512m}
KAFKA_TLS=$KAFKA_CONF/tls
# shellcheck source=../kafka/tls.sh
source "$KAFKA_FILES/tls.sh"

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

# ensure_users: the SASL users' names and passwords, generated once (hex, so they go
# into server.properties as they are); kept in the state directory, mode 600.
ensure_users() {
  local f=$KAFKA_CONF/users.env
  if [[ ! -f $f ]]; then
    (
      umask 077
      printf '%s\n' "KAFKA_SCRAM_USER=spate-scram" "KAFKA_SCRAM_PASSWORD=$(openssl rand -hex 16)" \
        "KAFKA_PLAIN_USER=spate-plain" "KAFKA_PLAIN_PASSWORD=$(openssl rand -hex 16)" >"$f.tmp"
    )
    mv "$f.tmp" "$f"
  fi
  # shellcheck disable=SC1090
  source "$f"
}

# scram_user BROKERS USER PASSWORD: SCRAM-SHA-256 and -512 credentials for USER.
scram_user() {
  printf '%s' "$3" | java -cp "$KAFKA_HOME/libs/*" "$KAFKA_FILES/ScramUser.java" "$1" "$2" \
    SCRAM-SHA-256,SCRAM-SHA-512 >>"$SPATE_LOG_DIR/kafka-users.log" 2>&1
}

start() {
  [[ -f $KAFKA_HOME/.complete ]] || die "kafka: not installed; run '$0 install' first"
  if daemon_alive kafka && health; then
    log "kafka: already running"
    return 0
  fi
  stop_daemon kafka
  mkdir -p "$KAFKA_DATA" "$KAFKA_CONF"
  chmod 700 "$KAFKA_CONF"
  ensure_tls "$KAFKA_TLS"
  ensure_users
  local broker_port sasl_ssl_port ssl_port controller_port
  broker_port=$(reuse_or_free_port "$KAFKA_CONF/broker.port")
  sasl_ssl_port=$(reuse_or_free_port "$KAFKA_CONF/sasl_ssl.port")
  ssl_port=$(reuse_or_free_port "$KAFKA_CONF/ssl.port")
  controller_port=$(reuse_or_free_port "$KAFKA_CONF/controller.port")
  # Four distinct ports (a port reused from one file may be the free one of another).
  local used=" $broker_port " p
  for p in sasl_ssl_port ssl_port controller_port; do
    while [[ $used == *" ${!p} "* ]]; do printf -v "$p" '%s' "$(free_port)"; done
    used+="${!p} "
  done
  echo "$sasl_ssl_port" >"$KAFKA_CONF/sasl_ssl.port"
  echo "$ssl_port" >"$KAFKA_CONF/ssl.port"
  echo "$controller_port" >"$KAFKA_CONF/controller.port"
  (
    umask 077
    sed -e "s|@BROKER_PORT@|$broker_port|g" -e "s|@SASL_SSL_PORT@|$sasl_ssl_port|g" \
      -e "s|@SSL_PORT@|$ssl_port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" \
      -e "s|@DATA_DIR@|$KAFKA_DATA|g" -e "s|@HOST_IP@|$SPATE_HOST_IP|g" \
      -e "s|@TLS_DIR@|$KAFKA_TLS|g" -e "s|@PLAIN_USER@|$KAFKA_PLAIN_USER|g" \
      -e "s|@PLAIN_PASSWORD@|$KAFKA_PLAIN_PASSWORD|g" \
      "$KAFKA_FILES/server.properties.in" >"$KAFKA_CONF/server.properties"
  )

  if [[ ! -f $KAFKA_DATA/meta.properties ]]; then
    local cluster_id
    cluster_id=$(python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
    log "kafka: formatting storage in $KAFKA_DATA (cluster $cluster_id)"
    "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format --ignore-formatted \
      -t "$cluster_id" -c "$KAFKA_CONF/server.properties" >>"$SPATE_LOG_DIR/kafka-format.log" 2>&1 ||
      { tail -20 "$SPATE_LOG_DIR/kafka-format.log" >&2; die "kafka: formatting the storage failed"; }
  fi
  oauth_token "$KAFKA_CONF/oauth.token" spate-oauth

  write_component_env kafka "KAFKA_BROKERS=$SPATE_HOST_IP:$broker_port" \
    "KAFKA_SASL_SSL_BROKERS=$SPATE_HOST_IP:$sasl_ssl_port" \
    "KAFKA_SSL_BROKERS=$SPATE_HOST_IP:$ssl_port" \
    "KAFKA_LIBS=$KAFKA_HOME/libs" \
    "KAFKA_TLS_DIR=$KAFKA_TLS" \
    "KAFKA_CA_FILE=$KAFKA_TLS/ca.crt" \
    "KAFKA_CLIENT_CERT_FILE=$KAFKA_TLS/client.crt" \
    "KAFKA_CLIENT_KEY_FILE=$KAFKA_TLS/client.key" \
    "KAFKA_EXPIRED_CERT_FILE=$KAFKA_TLS/expired.crt" \
    "KAFKA_EXPIRED_KEY_FILE=$KAFKA_TLS/expired.key" \
    "KAFKA_OTHER_CA_FILE=$KAFKA_TLS/other-ca.crt" \
    "KAFKA_SCRAM_USER=$KAFKA_SCRAM_USER" "KAFKA_SCRAM_PASSWORD=$KAFKA_SCRAM_PASSWORD" \
    "KAFKA_PLAIN_USER=$KAFKA_PLAIN_USER" "KAFKA_PLAIN_PASSWORD=$KAFKA_PLAIN_PASSWORD" \
    "KAFKA_OAUTH_TOKEN_FILE=$KAFKA_CONF/oauth.token"
  chmod 600 "$SPATE_STATE_DIR/kafka.env"
  start_daemon kafka "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_CONF/server.properties"
  if ! wait_daemon_healthy kafka 90 health; then
    tail -25 "$SPATE_LOG_DIR/kafka.log" >&2 || true
    die "kafka: did not become healthy (log $SPATE_LOG_DIR/kafka.log)"
  fi
  scram_user "$SPATE_HOST_IP:$broker_port" "$KAFKA_SCRAM_USER" "$KAFKA_SCRAM_PASSWORD" ||
    die "kafka: creating the SCRAM user failed (log $SPATE_LOG_DIR/kafka-users.log)"
  log "kafka: $KAFKA_VERSION ready on $SPATE_HOST_IP: PLAINTEXT $broker_port, SASL_SSL $sasl_ssl_port, SSL $ssl_port"
}

health() {
  daemon_alive kafka || return 1
  read_component_env kafka || return 1
  python3 "$KAFKA_FILES/probe.py" "$KAFKA_BROKERS" &&
    port_open "${KAFKA_SASL_SSL_BROKERS%:*}" "${KAFKA_SASL_SSL_BROKERS##*:}" &&
    port_open "${KAFKA_SSL_BROKERS%:*}" "${KAFKA_SSL_BROKERS##*:}"
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
