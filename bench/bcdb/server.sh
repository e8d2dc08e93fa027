#!/usr/bin/env bash
# BCDB over the network: `tfgrid bcdb serve` against redis-server with an append-only file
# fsynced on every write (appendfsync always), same machine, same run, with redis-benchmark
# SET (each write a signed-checkpoint ledger entry on the bcdb side). Concurrency 1, 10 and
# 50 clients without pipelining (group commit across connections), then 50 clients with a
# pipeline of 16; fsync on and off. ROUNDS rounds, alternating, medians.
#
# usage: bench/bcdb/server.sh            (N=20000 requests per run, ROUNDS=3)
# Raw output goes to stdout: `bench/bcdb/server.sh | tee bench/results/<dir>/bcdb-server.txt`.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-20000}
ROUNDS=${ROUNDS:-3}
cargo build --release -q -p tfgrid
BIN=${CARGO_TARGET_DIR:-target}/release/tfgrid
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

. bench/lib.sh

start() { # kind name: starts a fresh server, sets PORT and PID
  local p; p=$(port)
  mkdir -p "$WORK/$2"
  # each case starts the server itself in the background, so $! is its pid
  case $1 in
    bcdb) "$BIN" bcdb serve --listen "127.0.0.1:$p" --data "$WORK/$2/bcdb" >"$WORK/$2.log" 2>&1 & ;;
    bcdb-nosync) "$BIN" bcdb serve --listen "127.0.0.1:$p" --data "$WORK/$2/bcdb" --sync false \
      >"$WORK/$2.log" 2>&1 & ;;
    redis) redis-server --port "$p" --save "" --appendonly yes \
      --appendfsync always --dir "$WORK/$2" >"$WORK/$2.log" 2>&1 & ;;
    redis-nosync) redis-server --port "$p" --save "" --appendonly yes \
      --appendfsync no --dir "$WORK/$2" >"$WORK/$2.log" 2>&1 & ;;
  esac
  PID=$!
  PIDS+=("$PID")
  PORT=$p
  wait_port "$p"
}

stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }

# rps <port> <clients> <pipeline>: SET requests per second
rps() {
  redis-benchmark -p "$1" -t set -n "$N" -c "$2" -P "$3" -r 1000000 --csv -q 2>/dev/null |
    tr -d '"' | awk -F, '$1=="SET" {print $2}'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "# $(date -u +%FT%TZ) $(hostname) $(nproc) cpus, $(git rev-parse --short HEAD 2>/dev/null || echo '?'), N=$N, $ROUNDS rounds"
printf '%-14s %-8s %10s %10s %8s\n' "sync" "clients" "bcdb/s" "redis/s" "ratio"
for sync in on off; do
  for shape in "1 1" "10 1" "50 1" "50 16"; do
    set -- $shape
    clients=$1 pipe=$2
    b=() r=()
    for round in $(seq 1 "$ROUNDS"); do
      kind=bcdb rkind=redis
      [ "$sync" = off ] && kind=bcdb-nosync rkind=redis-nosync
      start "$kind" "b-$sync-$clients-$pipe-$round"; b+=("$(rps "$PORT" "$clients" "$pipe")"); stop
      start "$rkind" "r-$sync-$clients-$pipe-$round"; r+=("$(rps "$PORT" "$clients" "$pipe")"); stop
    done
    bm=$(printf '%s\n' "${b[@]}" | median)
    rm_=$(printf '%s\n' "${r[@]}" | median)
    label="$clients"
    [ "$pipe" != 1 ] && label="$clients x P$pipe"
    printf '%-14s %-8s %10.0f %10.0f %8.2f\n' "$sync" "$label" "$bm" "$rm_" "$(echo "$bm / $rm_" | bc -l)"
    echo "  raw bcdb: ${b[*]}; redis: ${r[*]}"
  done
done
