#!/usr/bin/env bash
# BCDB benchmarks on this machine:
#  1. ledger_bench: ledger write throughput with schema-less 200-byte values, batched (one
#     fsync per batch) and signed single writes (one commit each), ROUNDS rounds;
#  2. text_bench: the full-text index alone at 1,000,000 documents, once;
#  3. scale_bench: typed node records through Bcdb::execute at OBJECTS objects (batched
#     writes, verified reads with proof bytes, find/search p50/p99, signed single writes,
#     bytes on disk against the same objects as JSON rows in SQLite), once.
#
# usage: bench/bcdb/run.sh [ENTRIES] [BATCH] [OBJECTS]   (defaults 200000 1000 1000000)
#   ROUNDS=3      ledger_bench rounds (0 skips it)
#   OBJECTS=0     skips scale_bench
# Raw output goes to stdout, e.g. `bench/bcdb/run.sh | tee bench/results/<date>-<host>/bcdb-scale.txt`.
# scale_bench prints its load rate every 10 % of OBJECTS: watch it before waiting for 1M.
set -euo pipefail
cd "$(dirname "$0")/../.."
ENTRIES=${1:-200000}
BATCH=${2:-1000}
OBJECTS=${3:-1000000}
ROUNDS=${ROUNDS:-3}
cargo build --release -q -p bcdb --example ledger_bench --example text_bench --example scale_bench
DIR=${CARGO_TARGET_DIR:-target}/release/examples
if REV=$(git rev-parse --short HEAD 2>/dev/null); then
  git diff --quiet HEAD -- || REV="$REV, dirty tree"
else
  REV="not a git checkout"
fi
echo "# $(date -u +%FT%TZ) $(hostname) $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg), $REV"
for round in $(seq 1 "$ROUNDS"); do
  echo "ledger_bench round $round"
  "$DIR/ledger_bench" "$ENTRIES" "$BATCH"
done
echo "text_bench"
"$DIR/text_bench"
if [ "$OBJECTS" != 0 ]; then
  echo "scale_bench $OBJECTS $BATCH"
  /usr/bin/time -f "scale_bench: %e s wall, %M KiB max RSS" "$DIR/scale_bench" "$OBJECTS" "$BATCH"
fi
