#!/usr/bin/env bash
# flist create throughput and storage, against tar.gz of the same tree, in
# one run on one machine.
#
# usage: bench/flist/create.sh [SOURCE_DIR]   (default /usr/lib/x86_64-linux-gnu)
#
# Prints: source size, flist create MB/s (cold page cache when run as root),
# a second create of the same tree (bytes uploaded), store + .fl size vs
# `tar -czf` size and time.
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC=${1:-/usr/lib/x86_64-linux-gnu}
cargo build --release -q -p tfgrid
BIN=${CARGO_TARGET_DIR:-target}/release/tfgrid
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

drop_caches() { sync; [ "$(id -u)" = 0 ] && echo 3 >/proc/sys/vm/drop_caches || true; }
now() { date +%s.%N; }

bytes=$(du -sb "$SRC" | cut -f1)
echo "source: $SRC, $bytes bytes"

drop_caches
t0=$(now)
"$BIN" flist create "$SRC" "$WORK/a.fl" --store "dir://$WORK/store" >"$WORK/a.out" 2>/dev/null
t1=$(now)
cat "$WORK/a.out"
"$BIN" flist create "$SRC" "$WORK/b.fl" --store "dir://$WORK/store" >"$WORK/b.out" 2>/dev/null
echo "second create of the same tree: $(grep -o 'uploaded [0-9]* new blocks' "$WORK/b.out")"
"$BIN" flist create "$SRC" "$WORK/z.fl" --block-codec zstd --store "dir://$WORK/zstore" >/dev/null 2>&1

drop_caches
t2=$(now)
tar -C "$SRC" -czf "$WORK/src.tar.gz" . 2>/dev/null
t3=$(now)

store=$(du -sb "$WORK/store" | cut -f1)
zstore=$(du -sb "$WORK/zstore" | cut -f1)
fl=$(stat -c %s "$WORK/a.fl")
targz=$(stat -c %s "$WORK/src.tar.gz")
python3 - "$bytes" "$t0" "$t1" "$t2" "$t3" "$store" "$fl" "$targz" "$zstore" <<'PY'
import sys
b, t0, t1, t2, t3, store, fl, targz, zstore = map(float, sys.argv[1:])
fc, tz = t1 - t0, t3 - t2
print(f"flist create: {fc:.2f} s, {b/1e6/fc:.0f} MB/s")
print(f"tar -czf:     {tz:.2f} s, {b/1e6/tz:.0f} MB/s  (create is {tz/fc:.1f}x faster)")
print(f"at rest: store {store/1e6:.1f} MB + .fl {fl/1e6:.2f} MB = {(store+fl)/1e6:.1f} MB; tar.gz {targz/1e6:.1f} MB (ratio {(store+fl)/targz:.2f})")
print(f"at rest with --block-codec zstd: {(zstore+fl)/1e6:.1f} MB (ratio to tar.gz {(zstore+fl)/targz:.2f})")
PY
