#!/usr/bin/env bash
# Installs the Debian packages tfgrid's tests and benchmarks use, once.
#   redis-tools: redis-cli, redis-benchmark (protocol tests, benchmarks)
#   redis-server: the anchor the zdb benchmark compares against
#   bc: summing test counts
#   fuse3: fusermount3, used to mount flists
set -euo pipefail
missing=()
for pkg in redis-tools redis-server bc fuse3; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages ${missing[*]}: run as root or install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}"
  }
fi
# A redis-server started by the package would hold port 6379; benchmarks
# start their own.
if command -v systemctl >/dev/null 2>&1; then
  systemctl stop redis-server >/dev/null 2>&1 || true
fi
