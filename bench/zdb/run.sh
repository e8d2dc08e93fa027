#!/usr/bin/env bash
# zdb benchmark: tfgrid zdb against Debian's redis-server, same machine,
# same run, with redis-benchmark. Prints a table with ratios and keeps the
# raw CSV under bench/results/<date>-<host>/.
#
# usage: bench/zdb/run.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/deps.sh

N=${N:-200000}
QUICK=${1:-}
[ "$QUICK" = "--quick" ] && N=50000

cargo build --release -q -p tfgrid
BIN=${CARGO_TARGET_DIR:-target}/release/tfgrid
OUT=bench/results/$(date +%Y-%m-%d)-$(hostname -s)
mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

. bench/lib.sh

start_zdb() { # name extra-args...
  local name=$1; shift
  local p; p=$(port)
  "$BIN" zdb --listen 127.0.0.1 --port "$p" --data "$WORK/$name" --socket "$WORK/$name.sock" --dualnet "$@" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!); LAST_PID=$!; LAST_PORT=$p; LAST_SOCK=$WORK/$name.sock
  wait_port "$p"
}

start_redis() { # name
  local p; p=$(port)
  redis-server --port "$p" --unixsocket "$WORK/$1.sock" --save "" --appendonly no \
    --dir "$WORK" >"$WORK/$1.log" 2>&1 &
  PIDS+=($!); LAST_PID=$!; LAST_PORT=$p; LAST_SOCK=$WORK/$1.sock
  wait_port "$p"
}

stop_last() { kill "$LAST_PID"; wait "$LAST_PID" 2>/dev/null || true; }

# rps <csv-line-filter> <redis-benchmark args...>: prints requests/s of the test
rps() {
  local test=$1; shift
  redis-benchmark "$@" --csv -q 2>/dev/null | tr -d '"' | awk -F, -v t="$test" '$1==t {print $2}'
}

RESULTS=$OUT/zdb.csv
RAW=$OUT/zdb-raw.csv
echo "case,test,tfgrid_rps,redis_rps,ratio" >"$RESULTS"
echo "case,test,kind,tfgrid_rps_each_round,redis_rps_each_round" >"$RAW"

row() { # case test ours theirs
  local ratio
  ratio=$(python3 -c "print(f'{$3/$4:.2f}')")
  echo "$1,$2,$3,$4,$ratio" | tee -a "$RESULTS"
}

median() { python3 -c 'import sys, statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# Each case runs ROUNDS times, alternating fresh tfgrid and redis-server
# servers so that noise from the shared machine hits both alike; the table
# shows the median of each side and their ratio.
ROUNDS=${ROUNDS:-3}
run_case() { # case-name test-list bench-args (uses TARGET=tcp|unix)
  local name=$1 tests=$2; shift 2
  local target=${TARGET:-tcp}
  declare -A ours theirs
  for _ in $(seq "$ROUNDS"); do
    start_zdb "z-$name"
    local conn=(-p "$LAST_PORT"); [ "$target" = unix ] && conn=(-s "$LAST_SOCK")
    for t in ${tests//,/ }; do ours[$t]="${ours[$t]:-} $(rps "${t^^}" "${conn[@]}" -t "$t" "$@")"; done
    stop_last
    start_redis "r-$name"
    conn=(-p "$LAST_PORT"); [ "$target" = unix ] && conn=(-s "$LAST_SOCK")
    for t in ${tests//,/ }; do theirs[$t]="${theirs[$t]:-} $(rps "${t^^}" "${conn[@]}" -t "$t" "$@")"; done
    stop_last
  done
  for t in ${tests//,/ }; do
    echo "$name,${t^^},raw,${ours[$t]# },${theirs[$t]# }" >>"$RAW"
    # shellcheck disable=SC2086
    row "$name" "${t^^}" "$(median ${ours[$t]})" "$(median ${theirs[$t]})"
  done
}

echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
TARGET=tcp  run_case "4KiB -c50 -P1 tcp"   set,get -n "$N" -c 50 -P 1  -d 4096 -r 100000
TARGET=tcp  run_case "4KiB -c50 -P16 tcp"  set,get -n "$N" -c 50 -P 16 -d 4096 -r 100000
TARGET=unix run_case "4KiB -c50 -P1 unix"  set,get -n "$N" -c 50 -P 1  -d 4096 -r 100000
TARGET=unix run_case "4KiB -c50 -P16 unix" set,get -n "$N" -c 50 -P 16 -d 4096 -r 100000
TARGET=tcp  run_case "64KiB -c50 -P1 tcp"  set,get -n $((N / 10)) -c 50 -P 1 -d 65536 -r 10000

# Sequential-mode inserts (every SET a new id) against Redis SETs of random keys.
VALUE=$(head -c 4096 /dev/zero | tr '\0' v)
seq_ours="" seq_theirs=""
for _ in $(seq "$ROUNDS"); do
  start_zdb z-seq --mode seq
  seq_ours="$seq_ours $(redis-benchmark -p "$LAST_PORT" -n "$N" -c 50 -P 1 --csv -q SET "" "$VALUE" 2>/dev/null | tail -1 | tr -d '"' | cut -d, -f2)"
  stop_last
  start_redis r-seq
  seq_theirs="$seq_theirs $(redis-benchmark -p "$LAST_PORT" -n "$N" -c 50 -P 1 -r 1000000 --csv -q SET "key:__rand_int__" "$VALUE" 2>/dev/null | tail -1 | tr -d '"' | cut -d, -f2)"
  stop_last
done
# shellcheck disable=SC2086
row "seq inserts 4KiB -c50 -P1 tcp" "SET" "$(median $seq_ours)" "$(median $seq_theirs)"

# Memory: RSS growth per key after loading 200k and 1M 16-byte keys.
echo "keys,server,rss_before_kib,rss_after_kib,bytes_per_key" >"$OUT/zdb-memory.csv"
for n in 200000 1000000; do
  [ "$QUICK" = "--quick" ] && [ "$n" -gt 200000 ] && continue
  start_zdb "z-mem-$n"
  echo "$n,tfgrid,$(python3 bench/zdb/load_keys.py "$LAST_PORT" "$LAST_PID" "$n" | cut -d' ' -f2- | tr ' ' ,)" | tee -a "$OUT/zdb-memory.csv"
  stop_last
  start_redis "r-mem-$n"
  echo "$n,redis,$(python3 bench/zdb/load_keys.py "$LAST_PORT" "$LAST_PID" "$n" | cut -d' ' -f2- | tr ' ' ,)" | tee -a "$OUT/zdb-memory.csv"
  stop_last
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# results in $OUT"
