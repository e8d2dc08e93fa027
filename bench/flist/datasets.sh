#!/usr/bin/env bash
# Builds the Debian root filesystems the flist benchmarks use, once each:
#   d0      bookworm minbase
#   d0r     the same built again (a rebuild: same packages, new timestamps)
#   d2      d0 plus python3 (apt-get in a chroot)
# apt lists and caches are removed, SOURCE_DATE_EPOCH is not set: these are
# realistic rebuilds, not reproducible builds.
#
# usage: bench/flist/datasets.sh [DIR]   (default /var/cache/tfgrid-bench/datasets; needs root)
set -euo pipefail
DIR=${1:-/var/cache/tfgrid-bench/datasets}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
mkdir -p "$DIR"
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap

clean() {
  rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb
}

minbase() {
  local out=$DIR/$1
  [ -x "$out/usr/bin/dpkg-query" ] && return
  echo "debootstrap $1 ..." >&2
  rm -rf "$out.partial"
  debootstrap --variant=minbase bookworm "$out.partial" "$MIRROR" >"$DIR/$1.log" 2>&1
  clean "$out.partial"
  mv "$out.partial" "$out"
}

with_package() {
  local base=$DIR/$1 out=$DIR/$2 pkg=$3
  [ -e "$out.done" ] && return
  echo "$2: $1 + $pkg ..." >&2
  rm -rf "$out.partial"
  cp -a "$base" "$out.partial"
  mount -t proc proc "$out.partial/proc"
  trap 'umount "$out.partial/proc" 2>/dev/null || true' RETURN
  cp /etc/resolv.conf "$out.partial/etc/resolv.conf"
  chroot "$out.partial" apt-get update -qq >"$DIR/$2.log" 2>&1
  DEBIAN_FRONTEND=noninteractive chroot "$out.partial" apt-get install -y -qq --no-install-recommends "$pkg" >>"$DIR/$2.log" 2>&1
  umount "$out.partial/proc"
  clean "$out.partial"
  rm -rf "$out"
  mv "$out.partial" "$out"
  touch "$out.done"
}

minbase d0
minbase d0r
with_package d0 d2 python3
du -sh "$DIR"/d0 "$DIR"/d0r "$DIR"/d2 >&2
