#!/usr/bin/env bash
# BCDB ledger write throughput on this machine (partial: the full BCDB
# benchmark adds verified reads, find/search latency at 1M objects and
# bytes on disk against SQLite).
#
# usage: bench/bcdb/run.sh [ENTRIES] [BATCH]   (defaults 200000 1000)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p bcdb --example ledger_bench
BIN=${CARGO_TARGET_DIR:-target}/release/examples/ledger_bench
for round in 1 2 3; do
  echo "round $round"
  "$BIN" "${1:-200000}" "${2:-1000}"
done
