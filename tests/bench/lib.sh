# Shared by the end-to-end bench scripts: sourced from the repository root.
# Brings the environment up, loads its addresses, builds the release binaries.
set -euo pipefail
make -s env-up >/dev/null
set -a; . .spate/env; set +a
cargo build -q --release --locked -p spate-consumer --bin spate-consumer --bin spate-loadgen

# bench_topic TOPIC PARTITIONS [key=value,...]: creates a topic through Kafka's Admin API.
bench_topic() {
  local libs
  libs=$(ls -d "${XDG_CACHE_HOME:-$HOME/.cache}"/spate/kafka-*/libs | head -1)
  java -cp "$libs/*" tests/bench/CreateTopic.java "$KAFKA_BROKERS" "$1" "$2" "${3:-}" 2>/dev/null
}

# free_port: a free loopback port.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_consumer TOPIC TABLE WORKERS PORT LOG: one release consumer in the background;
# sets $consumer_pid and stops it when the script exits. Other SPATE_* settings pass
# through from the caller's environment.
start_consumer() {
  KAFKA_TOPICS=$1 KAFKA_GROUP_ID=$1 QDB_CLIENT_CONF="http::addr=${QUESTDB_HTTP#http://};" \
  SPATE_TABLE=$2 NUM_WORKERS=$3 SPATE_LISTEN=127.0.0.1:$4 SPATE_INPUT_FORMAT=normalized \
    target/release/spate-consumer >"$5" 2>&1 &
  consumer_pid=$!
  trap 'kill -TERM $consumer_pid 2>/dev/null; wait $consumer_pid 2>/dev/null' EXIT
}

# rows TABLE: count() of a QuestDB table as queries see it now (0 if it does not exist).
rows() {
  curl -s -G "$QUESTDB_HTTP/exec" --data-urlencode "query=select count() from $1" |
    python3 -c 'import sys, json
try: print(json.load(sys.stdin)["dataset"][0][0])
except Exception: print(0)'
}
