#!/usr/bin/env bash
# End-to-end drain throughput: pre-produce N normalised trades to an 8-partition topic,
# then start one release spate-consumer with W workers and report rows landed in QuestDB
# over time, until all N are there. Kafka, QuestDB, the loadgen and the consumer share
# the machine. Each second it prints the rows QuestDB's queries see (after WAL apply) and
# the trades the consumer has had acknowledged by QuestDB (trades_processed_total).
# SPATE_BENCH_LISTENER=sasl_ssl makes the consumer read through the SASL_SSL listener
# (SCRAM-SHA-512, the environment's CA, hostname verification on, the password in a
# file) instead of PLAINTEXT; the trades are produced over PLAINTEXT either way.
# Usage: tests/bench/e2e-drain.sh [N=4000000] [W=4]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-4000000}; W=${2:-4}
. tests/bench/lib.sh
run=$(date +%s); topic="e2e-drain-$run"; table="e2e_drain_$run"
bench_topic "$topic" 8
bench_topic "$topic.dlq" 1
echo "producing $N trades to $topic ..."
target/release/spate-loadgen --topic "$topic" --profile max --count "$N" --symbols 64 2>/dev/null
acked() {
  curl -s "http://127.0.0.1:$port/metrics" | awk '/^trades_processed_total/ {s += $2} END {printf "%d", s}'
}
port=$(free_port)
case ${SPATE_BENCH_LISTENER:-plaintext} in
  plaintext)
    start_consumer "$topic" "$table" "$W" "$port" "$SPATE_LOG_DIR/e2e-drain-consumer.log" ;;
  sasl_ssl)
    password_file=$(mktemp "${SPATE_STATE_DIR:-.spate}/bench-password.XXXXXX")
    trap 'rm -f "$password_file"; bench_cleanup' EXIT
    printf '%s' "$KAFKA_SCRAM_PASSWORD" >"$password_file"
    KAFKA_BROKERS=$KAFKA_SASL_SSL_BROKERS SPATE_KAFKA_SECURITY_PROTOCOL=SASL_SSL \
      SPATE_KAFKA_SASL_MECHANISM=SCRAM-SHA-512 SPATE_KAFKA_SASL_USERNAME=$KAFKA_SCRAM_USER \
      SPATE_KAFKA_SASL_PASSWORD_FILE=$password_file SPATE_KAFKA_SSL_CA_FILE=$KAFKA_CA_FILE \
      start_consumer "$topic" "$table" "$W" "$port" "$SPATE_LOG_DIR/e2e-drain-consumer.log" ;;
  *) echo "SPATE_BENCH_LISTENER must be plaintext or sasl_ssl" >&2; exit 2 ;;
esac
echo "consumer reads through ${SPATE_BENCH_LISTENER:-plaintext}"
start=$(date +%s.%N)
acked_at=""
while sleep 1; do
  c=$(rows "$table"); a=$(acked); t=$(python3 -c "print(f'{$(date +%s.%N)-$start:.1f}')")
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
