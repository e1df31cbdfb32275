#!/usr/bin/env bash
# Byte-bounded memory: the consumer_memory suite at the size the figures quote, a 2 GiB
# backlog of 256 KiB market_trades messages drained under a 512 MiB cgroup v1 memory
# limit, with the release consumer (the suite itself runs in the debug build). Prints the
# drain time, the peak RSS (VmHWM), the cgroup's peak and its OOM kills. Needs root (it
# makes a memory cgroup under its own).
# Usage: tests/bench/memory-bound.sh [BACKLOG_MIB=2048] [LIMIT_MIB=512] [TRADE_PAD=0]
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q --release --locked -p spate-consumer --bin spate-consumer
SPATE_CONSUMER_BIN=$PWD/target/release/spate-consumer \
SPATE_MEMTEST_BACKLOG_MIB=${1:-2048} SPATE_MEMTEST_LIMIT_MIB=${2:-512} \
SPATE_MEMTEST_TRADE_PAD=${3:-0} \
  cargo test --locked -p spate-tests --test consumer_memory -- --nocapture 2>&1 |
  grep -E '^(produced|drained)|test result'
