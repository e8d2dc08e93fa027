#!/usr/bin/env python3
"""Flists against tar.gz images: storage at rest, bytes moved and time to a
running command on a cold node, over loopback links with added latency.

The images are the Debian root filesystems bench/flist/datasets.sh builds:
d0 (bookworm minbase), d0r (d0 built again), d2 (d0 + python3).

Storage (S1): one shared dir store receives the flists of d0, d0r and d2 in
that order; the docker side keeps one tar.gz per image ("squashed") or a
base layer plus an app layer ("layered", the app layer holds what d2 adds
to d0). A rebuild's new bytes are what d0r adds to a store that holds d0.

Cold start (S2, S4): a `tfgrid zdb` holds the blocks and a plain HTTP
server holds the tar.gz and .fl files; the node reaches both through
linkproxy.py, which adds a one-way delay and a rate limit and counts bytes.
  untar: curl the tar.gz | tar -xz into an empty dir, chroot, run.
  flist: curl the .fl and its signature, `tfgrid flist mount --writable` with
         an empty cache and the trusted signer's key, chroot, run.
Each run starts from an empty node directory (and dropped page cache for
the node's files); runs of the two methods alternate; medians are reported.

usage: bench/flist/deploy.py [--runs 5] [--profiles lan,wan,poor] [--datasets DIR] [--out FILE]
(run as root; builds tfgrid in release mode first)
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROFILES = {"lan": (1, 1000), "wan": (30, 100), "poor": (100, 20)}
WORKLOADS = {"d0": ["/bin/sh", "-c", "true"], "d2": ["python3", "-c", "print(1)"]}


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def out(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, deadline=20):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port} after {deadline}s")


def du(path):
    return int(out("du", "-sb", str(path)).split()[0])


def count_files(path):
    return sum(len(files) for _, _, files in os.walk(path))


def drop_caches():
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


class Proxy:
    """A linkproxy.py in front of one port; counts bytes in both directions."""

    def __init__(self, target_port, delay_ms, rate_mbit, work):
        self.port = free_port()
        self.stats = Path(work) / f"proxy-{self.port}.json"
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "bench/flist/linkproxy.py"), str(self.port),
             f"127.0.0.1:{target_port}", "--delay-ms", str(delay_ms),
             "--rate-mbit", str(rate_mbit), "--stats", str(self.stats)])
        wait_port(self.port)

    def bytes(self):
        self.stats.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        end = time.monotonic() + 5
        while time.monotonic() < end:
            try:
                s = json.loads(self.stats.read_text())
                return s["bytes_down"] + s["bytes_up"]
            except (OSError, ValueError):
                time.sleep(0.01)
        sys.exit("proxy did not write its stats")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def make_layer(base, image, dest):
    """The files of `image` that are new or changed against `base` (rsync --compare-dest)."""
    run("rsync", "-a", "--compare-dest=" + str(base) + "/", str(image) + "/", str(dest) + "/")


def tar_gz(src, dest):
    run("tar", "-C", str(src), "--numeric-owner", "--xattrs", "-czf", str(dest), ".")
    return dest.stat().st_size


def storage(tfgrid, data, work, key):
    """S1: bytes at rest, and what each image adds to a shared store."""
    store, http = work / "store", work / "http"
    http.mkdir()
    rows, total_fl = {}, 0
    for name in ["d0", "d0r", "d2"]:
        before = du(store) if store.exists() else 0
        blocks_before = count_files(store) if store.exists() else 0
        fl = http / f"{name}.fl"
        t0 = time.monotonic()
        run(tfgrid, "flist", "create", "--store", f"dir://{store}",
            "--store", f"zdb://127.0.0.1:{ZDB_PORT}", str(data / name), str(fl),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        took = time.monotonic() - t0
        run(tfgrid, "flist", "sign", "--identity", str(key), str(fl), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        # The .fl is kept and served zstd-compressed, as a hub stores it.
        run("zstd", "-q", "-19", "-f", str(fl), "-o", f"{fl}.zst")
        fl_size = Path(f"{fl}.zst").stat().st_size
        total_fl += fl_size
        rows[name] = {
            "tree_bytes": du(data / name),
            "new_block_bytes": du(store) - before,
            "new_blocks": count_files(store) - blocks_before,
            "fl_bytes": fl_size,
            "fl_raw_bytes": fl.stat().st_size,
            "create_s": took,
            "targz_bytes": tar_gz(data / name, http / f"{name}.tar.gz"),
        }
    layer = work / "d2-layer"
    make_layer(data / "d0", data / "d2", layer)
    rows["d2"]["app_layer_bytes"] = tar_gz(layer, http / "d2-layer.tar.gz")
    shutil.rmtree(layer)
    squashed = sum(r["targz_bytes"] for r in rows.values())
    # d0r's base differs from d0's byte for byte (timestamps), so it is a new blob.
    layered = rows["d0"]["targz_bytes"] + rows["d0r"]["targz_bytes"] + rows["d2"]["app_layer_bytes"]
    flist_total = du(store) + total_fl
    d0_flist = rows["d0"]["new_block_bytes"] + rows["d0"]["fl_bytes"]
    rebuild = rows["d0r"]["new_block_bytes"] + rows["d0r"]["fl_bytes"]
    rebuild_raw = rows["d0r"]["new_block_bytes"] + rows["d0r"]["fl_raw_bytes"]
    return {
        "images": rows,
        "docker_squashed_bytes": squashed,
        "docker_layered_bytes": layered,
        "flist_bytes": flist_total,
        "flist_blocks": count_files(store),
        "rebuild_new_bytes": rebuild,
        "rebuild_new_fraction": rebuild / d0_flist,
        "rebuild_new_fraction_raw_fl": rebuild_raw / d0_flist,
        "rebuild_new_block_fraction": rows["d0r"]["new_block_bytes"] / d0_flist,
    }


def chroot_run(root, workload):
    run("chroot", str(root), *workload, stdout=subprocess.DEVNULL)


def cold_untar(node, http_port, name):
    root = node / "rootfs"
    root.mkdir()
    curl = subprocess.Popen(["curl", "-sSf", f"http://127.0.0.1:{http_port}/{name}.tar.gz"],
                            stdout=subprocess.PIPE)
    run("tar", "-xz", "-C", str(root), "--numeric-owner", stdin=curl.stdout)
    curl.stdout.close()
    if curl.wait() != 0:
        sys.exit("curl failed")
    chroot_run(root, WORKLOADS[name])


def cold_flist(node, http_port, zdb_port, name, tfgrid, signer):
    fl = node / f"{name}.fl"
    url = f"http://127.0.0.1:{http_port}/{name}.fl"
    curl = subprocess.Popen(["curl", "-sSf", f"{url}.zst"], stdout=subprocess.PIPE)
    run("zstd", "-q", "-d", "-o", str(fl), stdin=curl.stdout)
    curl.stdout.close()
    if curl.wait() != 0:
        sys.exit("curl failed")
    run("curl", "-sSf", "-o", f"{fl}.sig", f"{url}.sig")
    mnt = node / "rootfs"
    mnt.mkdir()
    mount = subprocess.Popen(
        [tfgrid, "flist", "mount", "--trusted-key", signer, "--cache", str(node / "cache"),
         "--store", f"zdb://127.0.0.1:{zdb_port}", "--writable", "--upper", str(node / "upper"),
         str(fl), str(mnt)], stderr=subprocess.PIPE, text=True)
    try:
        for line in mount.stderr:
            if line.startswith("mounted "):
                break
        else:
            sys.exit(f"mount failed: {mount.wait()}")
        chroot_run(mnt, WORKLOADS[name])
    finally:
        mount.send_signal(signal.SIGINT)
        mount.wait()


def cold_starts(tfgrid, work, runs, profile, signer):
    delay, rate = PROFILES[profile]
    http_proxy = Proxy(HTTP_PORT, delay, rate, work)
    zdb_proxy = Proxy(ZDB_PORT, delay, rate, work)
    results = {}
    try:
        for name in WORKLOADS:
            samples = {"untar": [], "flist": []}
            moved = {"untar": [], "flist": []}
            for i in range(runs):
                order = ["untar", "flist"] if i % 2 == 0 else ["flist", "untar"]
                for method in order:
                    node = Path(tempfile.mkdtemp(dir=work, prefix="node-"))
                    drop_caches()
                    b0 = http_proxy.bytes() + zdb_proxy.bytes()
                    t0 = time.monotonic()
                    if method == "untar":
                        cold_untar(node, http_proxy.port, name)
                    else:
                        cold_flist(node, http_proxy.port, zdb_proxy.port, name, tfgrid, signer)
                    samples[method].append(time.monotonic() - t0)
                    moved[method].append(http_proxy.bytes() + zdb_proxy.bytes() - b0)
                    shutil.rmtree(node)
            results[name] = {
                m: {"median_s": statistics.median(samples[m]), "min_s": min(samples[m]),
                    "max_s": max(samples[m]), "bytes": statistics.median(moved[m])}
                for m in samples
            }
            r = results[name]
            print(f"  {profile:5} {name:3} untar {r['untar']['median_s']:6.2f} s "
                  f"{r['untar']['bytes'] / 1e6:7.1f} MB | flist {r['flist']['median_s']:6.2f} s "
                  f"{r['flist']['bytes'] / 1e6:6.1f} MB | bytes {r['untar']['bytes'] / r['flist']['bytes']:5.1f}x "
                  f"fewer, time {r['untar']['median_s'] / r['flist']['median_s']:4.1f}x", flush=True)
    finally:
        http_proxy.stop()
        zdb_proxy.stop()
    return results


def main():
    global ZDB_PORT, HTTP_PORT
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--profiles", default="lan,wan,poor")
    p.add_argument("--datasets", default="/var/cache/tfgrid-bench/datasets", type=Path)
    p.add_argument("--out", type=Path, help="write all figures to this JSON file")
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the benchmark mounts, chroots and drops caches")
    for name in ["d0", "d0r", "d2"]:
        if not (a.datasets / name / "usr/bin/dpkg-query").exists():
            sys.exit(f"missing {a.datasets / name}: run bench/flist/datasets.sh first")
    for tool in ["rsync", "curl", "zstd"]:
        if not shutil.which(tool):
            run("apt-get", "install", "-y", "-qq", tool)
    run("cargo", "build", "--release", "-q", "-p", "tfgrid", cwd=REPO)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    tfgrid = str(target / "release/tfgrid")

    work = Path(tempfile.mkdtemp(prefix="tfgrid-deploy-", dir="/var/tmp"))
    ZDB_PORT, HTTP_PORT = free_port(), free_port()
    zdb = subprocess.Popen([tfgrid, "zdb", "--data", str(work / "zdb"), "--index",
                            str(work / "zdb-index"), "--port", str(ZDB_PORT)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    http = None
    try:
        wait_port(ZDB_PORT)
        key = work / "signer.json"
        run(tfgrid, "id", "new", "--file", str(key), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        signer = out(tfgrid, "id", "show", "--file", str(key)).split()[2]
        s1 = storage(tfgrid, a.datasets, work, key)
        print("S1 storage at rest (d0, d0r, d2):")
        print(f"  docker squashed {s1['docker_squashed_bytes'] / 1e6:.1f} MB, layered "
              f"{s1['docker_layered_bytes'] / 1e6:.1f} MB, flist store + .fl "
              f"{s1['flist_bytes'] / 1e6:.1f} MB ({s1['flist_blocks']} blocks)")
        print(f"  rebuild d0r adds {s1['rebuild_new_bytes'] / 1e6:.2f} MB = "
              f"{100 * s1['rebuild_new_fraction']:.2f}% of d0 "
              f"(blocks alone {100 * s1['rebuild_new_block_fraction']:.2f}%, "
              f"with an uncompressed .fl {100 * s1['rebuild_new_fraction_raw_fl']:.2f}%)")
        for name, r in s1["images"].items():
            print(f"  {name}: tree {r['tree_bytes'] / 1e6:.1f} MB, tar.gz {r['targz_bytes'] / 1e6:.1f} MB, "
                  f".fl.zst {r['fl_bytes'] / 1e6:.2f} MB (.fl {r['fl_raw_bytes'] / 1e6:.2f}), new blocks {r['new_blocks']} "
                  f"({r['new_block_bytes'] / 1e6:.1f} MB), create {r['create_s']:.1f} s")
        http = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                 "--directory", str(work / "http"), str(HTTP_PORT)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(HTTP_PORT)
        print(f"S2/S4 cold start, {a.runs} runs each, medians (delay ms one way / Mbit/s):")
        s4 = {}
        for profile in a.profiles.split(","):
            s4[profile] = cold_starts(tfgrid, work, a.runs, profile, signer)
        if a.out:
            a.out.parent.mkdir(parents=True, exist_ok=True)
            a.out.write_text(json.dumps({"storage": s1, "cold_start": s4,
                                         "profiles": PROFILES}, indent=1))
    finally:
        if http:
            http.terminate()
        zdb.terminate()
        zdb.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
