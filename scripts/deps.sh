#!/usr/bin/env bash
# Installs the Debian packages tfgrid's tests and benchmarks use, once.
#   redis-tools: redis-cli, redis-benchmark (protocol tests, benchmarks)
#   redis-server: the anchor the zdb benchmark compares against
#   bc: summing test counts
#   fuse3: fusermount3, used to mount flists
#   attr: getfattr, to compare xattrs of a mounted flist with its source
#   debootstrap: builds the Debian root filesystem the flist tests pack
# the Python packages the BCDB client tests need (redis, pynacl),
# and builds that root filesystem once, into $TFGRID_TEST_ROOTFS
# (default /var/cache/tfgrid-rootfs/bookworm-minbase).
set -euo pipefail
missing=()
for pkg in redis-tools redis-server bc fuse3 attr debootstrap; do
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
# redis-py and PyNaCl from PyPI: the pure-Python BCDB client (python/) and its tests.
# A machine that cannot install them fails here rather than skipping those tests.
python3 -c 'import nacl, redis' 2>/dev/null || python3 -m pip install -q 'redis>=5,<9' 'pynacl>=1.5,<2' || {
  echo "could not pip-install redis and pynacl for the Python client tests" >&2
  exit 1
}
# A redis-server started by the package would hold port 6379; benchmarks
# start their own.
if command -v systemctl >/dev/null 2>&1; then
  systemctl stop redis-server >/dev/null 2>&1 || true
fi

# A Debian minbase root filesystem, built outside the clone so repeated runs
# reuse it; an interrupted build leaves only a .partial directory behind.
rootfs=${TFGRID_TEST_ROOTFS:-/var/cache/tfgrid-rootfs/bookworm-minbase}
if [ ! -x "$rootfs/usr/bin/dpkg-query" ] && [ "$(id -u)" -eq 0 ]; then
  echo "building the test root filesystem $rootfs (debootstrap, about a minute)"
  mkdir -p "$(dirname "$rootfs")"
  rm -rf "$rootfs.partial"
  if debootstrap --variant=minbase bookworm "$rootfs.partial" http://deb.debian.org/debian \
      >"$rootfs.log" 2>&1; then
    rm -rf "$rootfs"
    mv "$rootfs.partial" "$rootfs"
  else
    echo "warning: debootstrap failed (see $rootfs.log); the root filesystem tests will skip" >&2
  fi
fi
