# Shared by the end-to-end bench scripts: sourced from the repository root.
# Brings the environment up, loads its addresses, builds the release binaries.
set -euo pipefail
make -s env-up >/dev/null
set -a; . .spate/env; set +a
cargo build -q --release --locked -p spate-consumer --bin spate-consumer --bin spate-loadgen

kafka_libs=$(ls -d "${XDG_CACHE_HOME:-$HOME/.cache}"/spate/kafka-*/libs | head -1)
bench_topics=()
bench_tables=()
consumer_pid=""

# Runs at exit: stops the consumer, then drops what the run created (a 4M-trade run
# leaves over a gigabyte in Kafka and as much in QuestDB). SPATE_BENCH_KEEP=1 keeps it.
bench_cleanup() {
  if [ -n "$consumer_pid" ]; then
    kill -TERM "$consumer_pid" 2>/dev/null || true
    wait "$consumer_pid" 2>/dev/null || true
  fi
  [ "${SPATE_BENCH_KEEP:-0}" = 1 ] && return 0
  for t in "${bench_tables[@]}"; do
    curl -s -G "$QUESTDB_HTTP/exec" --data-urlencode "query=DROP TABLE IF EXISTS $t" >/dev/null || true
  done
  if [ ${#bench_topics[@]} -gt 0 ]; then
    java -cp "$kafka_libs/*" tests/bench/DeleteTopics.java "$KAFKA_BROKERS" "${bench_topics[@]}" \
      2>/dev/null || true
  fi
}
trap bench_cleanup EXIT

# bench_topic TOPIC PARTITIONS [key=value,...]: creates a topic through Kafka's Admin API
# (deleted at exit).
bench_topic() {
  bench_topics+=("$1")
  java -cp "$kafka_libs/*" tests/bench/CreateTopic.java "$KAFKA_BROKERS" "$1" "$2" "${3:-}" 2>/dev/null
}

# free_port: a free loopback port.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_consumer TOPIC TABLE WORKERS PORT LOG: one release consumer in the background
# ($SPATE_BENCH_CONSUMER, another build of it, to compare two versions back to back);
# sets $consumer_pid; it is stopped and its table dropped when the script exits. Other
# SPATE_* settings pass through from the caller's environment.
start_consumer() {
  bench_tables+=("$2")
  KAFKA_TOPICS=$1 KAFKA_GROUP_ID=$1 QDB_CLIENT_CONF="http::addr=${QUESTDB_HTTP#http://};" \
  SPATE_TABLE=$2 NUM_WORKERS=$3 SPATE_LISTEN=127.0.0.1:$4 SPATE_INPUT_FORMAT=normalized \
    "${SPATE_BENCH_CONSUMER:-target/release/spate-consumer}" >"$5" 2>&1 &
  consumer_pid=$!
}

# rows TABLE: count() of a QuestDB table as queries see it now (0 if it does not exist).
rows() {
  curl -s -G "$QUESTDB_HTTP/exec" --data-urlencode "query=select count() from $1" |
    python3 -c 'import sys, json
try: print(json.load(sys.stdin)["dataset"][0][0])
except Exception: print(0)'
}
