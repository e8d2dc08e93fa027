#!/usr/bin/env python3
"""The flist hub: push throughput, and a cold mount reading every file through
the hub against the same blocks from a local dir store and against nginx
serving the image's tar.gz, in one run on one machine.

The image is d0 from bench/flist/datasets.sh (Debian bookworm minbase).
Steps: start `tfgrid hub serve` (block rate limit off), register, push the
tar.gz (timed: upload + conversion + signing); pull the .fl; then, alternating
for --runs rounds, with the page cache dropped and an empty block cache:
  hub:   tfgrid flist mount --store http://hub, read every file (tar -c | wc -c)
  dir:   tfgrid flist mount --store dir://<hub data>/blocks, the same read
  nginx: curl the tar.gz from nginx (Debian's) to /dev/null
Medians are reported; the target is hub >= 70% of dir.

usage: bench/hub/run.py [--runs 5] [--datasets DIR] [--out FILE]   (root)
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench/flist"))
from deploy import drop_caches, du, free_port, out, run, wait_port  # noqa: E402


def read_all(mnt):
    """Reads every file under mnt; returns bytes read."""
    tar = subprocess.Popen(["tar", "-C", str(mnt), "-cf", "-", "."], stdout=subprocess.PIPE)
    count = int(subprocess.run(["wc", "-c"], stdin=tar.stdout, capture_output=True, text=True,
                               check=True).stdout)
    tar.stdout.close()
    if tar.wait() != 0:
        sys.exit("tar failed")
    return count


def mounted_read(tfgrid, fl, store, work, hub_key):
    node = Path(tempfile.mkdtemp(dir=work, prefix="node-"))
    mnt = node / "mnt"
    mnt.mkdir()
    drop_caches()
    t0 = time.monotonic()
    mount = subprocess.Popen([tfgrid, "flist", "mount", "--trusted-key", hub_key, "--cache",
                              str(node / "cache"), "--store", store, str(fl), str(mnt)],
                             stderr=subprocess.PIPE, text=True)
    try:
        for line in mount.stderr:
            if line.startswith("mounted "):
                break
        else:
            sys.exit(f"mount failed: {mount.wait()}")
        n = read_all(mnt)
        took = time.monotonic() - t0
    finally:
        mount.send_signal(signal.SIGINT)
        mount.wait()
    shutil.rmtree(node)
    return took, n


def nginx_download(url):
    drop_caches()
    t0 = time.monotonic()
    run("curl", "-sSf", "-o", "/dev/null", url)
    return time.monotonic() - t0


def start_nginx(root, port, work):
    conf = work / "nginx.conf"
    conf.write_text(f"""
user root; daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/nginx.err;
events {{ worker_connections 64; }}
http {{ access_log off; sendfile on;
  server {{ listen 127.0.0.1:{port}; root {root}; }} }}
""")
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work)])
    wait_port(port)
    return proc


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--datasets", default="/var/cache/tfgrid-bench/datasets", type=Path)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the benchmark mounts and drops caches")
    if not (a.datasets / "d0/usr/bin/dpkg-query").exists():
        sys.exit("run bench/flist/datasets.sh first")
    if not shutil.which("nginx"):
        run("apt-get", "install", "-y", "-qq", "nginx-light")
    run("cargo", "build", "--release", "-q", "-p", "tfgrid", cwd=REPO)
    tfgrid = str(Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release/tfgrid")
    work = Path(tempfile.mkdtemp(prefix="tfgrid-hub-bench-", dir="/var/tmp"))
    procs = []
    try:
        www = work / "www"
        www.mkdir()
        archive = www / "d0.tar.gz"
        run("tar", "-C", str(a.datasets / "d0"), "--numeric-owner", "-czf", str(archive), ".")
        port, nginx_port = free_port(), free_port()
        procs.append(subprocess.Popen([tfgrid, "hub", "serve", "--data", str(work / "hub"),
                                       "--listen", f"127.0.0.1:{port}", "--block-rate", "0"],
                                      stderr=subprocess.DEVNULL))
        wait_port(port)
        procs.append(start_nginx(www, nginx_port, work))
        env = dict(os.environ, TFGRID_HUB=f"http://127.0.0.1:{port}",
                   TFGRID_IDENTITY=str(work / "alice.json"))
        subprocess.run([tfgrid, "id", "new"], env=env, check=True, capture_output=True)
        subprocess.run([tfgrid, "hub", "register", "alice"], env=env, check=True, capture_output=True)
        tree = du(a.datasets / "d0")
        t0 = time.monotonic()
        subprocess.run([tfgrid, "hub", "push", str(archive), "--name", "d0"], env=env, check=True,
                       capture_output=True)
        push_s = time.monotonic() - t0
        fl = work / "d0.fl"
        subprocess.run([tfgrid, "hub", "pull", "alice/d0", str(fl)], env=env, check=True,
                       capture_output=True)
        hub_key = subprocess.run([tfgrid, "hub", "key"], env=env, check=True, capture_output=True,
                                 text=True).stdout.strip()
        print(f"push: {archive.stat().st_size / 1e6:.1f} MB tar.gz ({tree / 1e6:.1f} MB tree) in "
              f"{push_s:.2f} s = {tree / 1e6 / push_s:.0f} MB/s of tree", flush=True)
        stores = {"hub": f"http://127.0.0.1:{port}", "dir": f"dir://{work / 'hub/blocks'}"}
        samples = {"hub": [], "dir": [], "nginx": []}
        read_bytes = 0
        for i in range(a.runs):
            order = ["hub", "dir", "nginx"] if i % 2 == 0 else ["nginx", "dir", "hub"]
            for what in order:
                if what == "nginx":
                    samples[what].append(nginx_download(f"http://127.0.0.1:{nginx_port}/d0.tar.gz"))
                else:
                    took, read_bytes = mounted_read(tfgrid, fl, stores[what], work, hub_key)
                    samples[what].append(took)
        med = {k: statistics.median(v) for k, v in samples.items()}
        print(f"cold mount reading every file ({read_bytes / 1e6:.1f} MB), {a.runs} runs, medians:")
        for k in ["hub", "dir"]:
            print(f"  through {k:3}: {med[k]:.2f} s = {read_bytes / 1e6 / med[k]:.0f} MB/s "
                  f"[{min(samples[k]):.2f}-{max(samples[k]):.2f}]")
        print(f"  nginx tar.gz download alone: {med['nginx']:.2f} s = "
              f"{archive.stat().st_size / 1e6 / med['nginx']:.0f} MB/s")
        print(f"hub / dir read rate: {med['dir'] / med['hub']:.2f} (target >= 0.70)")
        if a.out:
            a.out.parent.mkdir(parents=True, exist_ok=True)
            a.out.write_text(json.dumps({"push_s": push_s, "tree_bytes": tree,
                                         "archive_bytes": archive.stat().st_size,
                                         "read_bytes": read_bytes, "samples": samples}, indent=1))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
