#!/usr/bin/env python3
"""Loads N distinct keys into a Redis-protocol server with pipelined SETs
(16-byte keys, 1-byte values) and prints the server's RSS afterwards.

usage: load_keys.py PORT PID N
"""
import os
import socket
import sys


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    s = socket.create_connection(("127.0.0.1", port))
    batch = 1000
    before = rss_kib(pid)
    for start in range(0, n, batch):
        buf = bytearray()
        count = min(batch, n - start)
        for i in range(start, start + count):
            key = b"key:%012d" % i
            buf += b"*3\r\n$3\r\nSET\r\n$16\r\n" + key + b"\r\n$1\r\nx\r\n"
        s.sendall(buf)
        # Each reply is a bulk of the key (0-db) or +OK (Redis); count lines.
        need, got = count, 0
        pending = b""
        while got < need:
            chunk = s.recv(1 << 16)
            if not chunk:
                raise RuntimeError("server closed the connection")
            pending += chunk
            lines = pending.split(b"\r\n")
            pending = lines.pop()
            for line in lines:
                if line.startswith(b"+") or line.startswith(b"$") or line.startswith(b"-"):
                    if line.startswith(b"-"):
                        raise RuntimeError(line.decode())
                    got += 1
    after = rss_kib(pid)
    print(f"{n} {before} {after} {(after - before) * 1024 / n:.1f}")


if __name__ == "__main__":
    main()
