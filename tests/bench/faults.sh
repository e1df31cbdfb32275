#!/usr/bin/env bash
# The fault suite with its recovery times: QuestDB SIGKILL, full disk and slow network,
# a Kafka broker restart, consumer SIGKILLs, a rebalance storm. Prints each suite's
# RECOVERY lines and kill placements. SPATE_FAULT_ROUNDS=N repeats it N times (a soak).
set -euo pipefail
cd "$(dirname "$0")/../.."
export SPATE_ENV_COMPONENTS=${SPATE_ENV_COMPONENTS:-kafka questdb prometheus}
for round in $(seq 1 "${SPATE_FAULT_ROUNDS:-1}"); do
  echo "round $round"
  for suite in consumer_faults consumer_kafka_restart consumer_crash consumer_storm; do
    start=$(date +%s)
    cargo test -q --locked -p spate-tests --test "$suite" -- --nocapture 2>&1 |
      grep -E '^(RECOVERY|kill|kills|disk full|slow QuestDB|broker stopped|[0-9]+ members|rebalances)|test result'
    echo "$suite: $(( $(date +%s) - start )) s"
  done
done
