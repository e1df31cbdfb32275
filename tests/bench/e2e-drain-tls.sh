#!/usr/bin/env bash
# The cost of TLS and SCRAM on the drain rate: e2e-drain.sh through PLAINTEXT and through
# SASL_SSL (SCRAM-SHA-512), back to back, RUNS pairs, the order alternating from one
# pair to the next; prints trades/s from consumer start to the last acknowledgement.
# Usage: tests/bench/e2e-drain-tls.sh [RUNS=3] [N=2000000] [W=4]
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-3}; N=${2:-2000000}; W=${3:-4}
rate() {
  SPATE_BENCH_LISTENER=$1 tests/bench/e2e-drain.sh "$N" "$W" |
    sed -n 's/.*acknowledged by QuestDB \([0-9.]*\) s after consumer start: \([0-9,]*\) trades\/s/\1 \2/p'
}
echo "run | listener | acknowledged after (s) | trades/s"
for ((i = 1; i <= RUNS; i++)); do
  if ((i % 2)); then order=(plaintext sasl_ssl); else order=(sasl_ssl plaintext); fi
  for l in "${order[@]}"; do
    read -r secs per_sec < <(rate "$l")
    echo "$i | $l | $secs | $per_sec"
  done
done
