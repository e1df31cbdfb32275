#!/usr/bin/env bash
# End-to-end latency at a steady rate: one release spate-consumer with W workers on an
# 8-partition topic, the loadgen producing RATE normalised trades/s for SECS seconds.
# The consumer's processing_latency_seconds histogram (Kafka append time → QuestDB
# acknowledgement; the topic uses LogAppendTime) is read after a warm-up and at the end;
# p50/p99 come from the difference, interpolated inside the buckets. Every produced trade
# must land.
# Usage: tests/bench/e2e-latency.sh [RATE=150000] [SECS=60] [W=4] [WARMUP=10]
set -euo pipefail
cd "$(dirname "$0")/../.."
RATE=${1:-150000}; SECS=${2:-60}; W=${3:-4}; WARMUP=${4:-10}
. tests/bench/lib.sh
run=$(date +%s); topic="e2e-latency-$run"; table="e2e_latency_$run"
# The broker stamps each record when it appends it, so the latency runs from Kafka
# append time (not the producer's clock) to QuestDB's acknowledgement.
bench_topic "$topic" 8 message.timestamp.type=LogAppendTime
bench_topic "$topic.dlq" 1
port=$(free_port)
start_consumer "$topic" "$table" "$W" "$port" "$SPATE_LOG_DIR/e2e-latency-consumer.log"
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.2
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "consumer not ready"; exit 1; }
scrape() { curl -s "http://127.0.0.1:$port/metrics" || true; }
echo "producing $RATE trades/s for $SECS s to $topic (warm-up $WARMUP s) ..."
target/release/spate-loadgen --topic "$topic" --profile "steady:$RATE" --duration "$SECS" \
  --symbols 64 >"$SPATE_LOG_DIR/e2e-latency-summary.json" 2>"$SPATE_LOG_DIR/e2e-latency-loadgen.log" &
gen=$!
sleep "$WARMUP"
scrape >"$SPATE_LOG_DIR/e2e-latency-before.txt"
wait $gen
scrape >"$SPATE_LOG_DIR/e2e-latency-after.txt"
produced=$(python3 -c "import json; s=json.load(open('$SPATE_LOG_DIR/e2e-latency-summary.json')); print(s['produced_trades'])")
achieved=$(python3 -c "import json; s=json.load(open('$SPATE_LOG_DIR/e2e-latency-summary.json')); print(round(s['trades_per_sec']))")
for _ in $(seq 120); do
  c=$(rows "$table"); [ "$c" -ge "$produced" ] && break; sleep 1
done
echo "produced $produced trades at $achieved trades/s; rows in QuestDB: $c"
python3 - "$SPATE_LOG_DIR/e2e-latency-before.txt" "$SPATE_LOG_DIR/e2e-latency-after.txt" <<'EOF'
import re, sys
def read(path):
    out = {}
    for line in open(path):
        m = re.match(r'processing_latency_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if m:
            out[float(m.group(1))] = float(m.group(2))
    return out
def scalar(path, name):
    total = 0.0
    for line in open(path):
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total
before, after = read(sys.argv[1]), read(sys.argv[2])
flushes = scalar(sys.argv[2], "spate_flush_latency_seconds_count") - scalar(sys.argv[1], "spate_flush_latency_seconds_count")
flush_s = scalar(sys.argv[2], "spate_flush_latency_seconds_sum") - scalar(sys.argv[1], "spate_flush_latency_seconds_sum")
acked = scalar(sys.argv[2], "trades_processed_total") - scalar(sys.argv[1], "trades_processed_total")
bounds = sorted(after)
cum = [after[b] - before.get(b, 0.0) for b in bounds]
total = cum[-1]
if total <= 0:
    sys.exit("no records acknowledged in the measured window")
def quantile(q):
    rank = q * total
    lo_bound, lo_count = 0.0, 0.0
    for b, c in zip(bounds, cum):
        if c >= rank:
            if b == float("inf"):
                return f"> {lo_bound * 1000:.0f} ms"
            frac = (rank - lo_count) / (c - lo_count) if c > lo_count else 1.0
            return f"{(lo_bound + frac * (b - lo_bound)) * 1000:.1f} ms (bucket {lo_bound * 1000:g}–{b * 1000:g} ms)"
        lo_bound, lo_count = b, c
print(f"records in the measured window: {total:,.0f}")
if flushes > 0:
    print(f"flushes: {flushes:,.0f}, mean {acked / flushes:,.0f} rows and {flush_s / flushes * 1000:.1f} ms each")
print(f"p50: {quantile(0.50)}")
print(f"p99: {quantile(0.99)}")
print("cumulative share by bucket: " + ", ".join(
    f"≤{b * 1000:g} ms {c / total:.1%}" for b, c in zip(bounds, cum) if b != float("inf")))
EOF
