#!/usr/bin/env bash
# End-to-end drain throughput: pre-produce N normalised trades to an 8-partition topic,
# then start one release spate-consumer with W workers and report rows landed in QuestDB
# over time, until all N are there. Kafka, QuestDB, the loadgen and the consumer share
# the machine. Each second it prints the rows QuestDB's queries see (after WAL apply) and
# the trades the consumer has had acknowledged by QuestDB (trades_processed_total).
# Usage: tests/bench/e2e-drain.sh [N=4000000] [W=4]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-4000000}; W=${2:-4}
make -s env-up >/dev/null
set -a; . .spate/env; set +a
cargo build -q --release --locked -p spate-consumer --bin spate-consumer --bin spate-loadgen
run=$(date +%s); topic="e2e-drain-$run"; table="e2e_drain_$run"
libs=$(ls -d "${XDG_CACHE_HOME:-$HOME/.cache}"/spate/kafka-*/libs | head -1)
java -cp "$libs/*" tests/bench/CreateTopic.java "$KAFKA_BROKERS" "$topic" 8 2>/dev/null
java -cp "$libs/*" tests/bench/CreateTopic.java "$KAFKA_BROKERS" "$topic.dlq" 1 2>/dev/null
echo "producing $N trades to $topic ..."
target/release/spate-loadgen --topic "$topic" --profile max --count "$N" --symbols 64 2>/dev/null
count() {
  curl -s -G "$QUESTDB_HTTP/exec" --data-urlencode "query=select count() from $table" |
    python3 -c 'import sys, json
try: print(json.load(sys.stdin)["dataset"][0][0])
except Exception: print(0)'
}
acked() {
  curl -s "http://127.0.0.1:$port/metrics" | awk '/^trades_processed_total/ {s += $2} END {printf "%d", s}'
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
KAFKA_TOPICS=$topic KAFKA_GROUP_ID=$topic QDB_CLIENT_CONF="http::addr=${QUESTDB_HTTP#http://};" \
SPATE_TABLE=$table NUM_WORKERS=$W SPATE_LISTEN=127.0.0.1:$port SPATE_INPUT_FORMAT=normalized \
  target/release/spate-consumer >"$SPATE_LOG_DIR/e2e-drain-consumer.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
start=$(date +%s.%N)
acked_at=""
while sleep 1; do
  c=$(count); a=$(acked); t=$(python3 -c "print(f'{$(date +%s.%N)-$start:.1f}')")
  echo "t=${t}s rows=$c acknowledged=$a"
  if [ -z "$acked_at" ] && [ "${a:-0}" -ge "$N" ]; then
    acked_at=$t
    python3 -c "print(f'{$N} trades acknowledged by QuestDB {$t} s after consumer start: {$N/$t:,.0f} trades/s')"
  fi
  if [ "$c" -ge "$N" ]; then
    python3 -c "print(f'{$N} trades in {$t} s from consumer start: {$N/$t:,.0f} trades/s')"
    break
  fi
  python3 -c "import sys; sys.exit($t > 300)" || { echo "gave up after 300 s"; exit 1; }
done
