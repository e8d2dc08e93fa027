#!/usr/bin/env python3
"""A TCP proxy that behaves like a slow network link, for benchmarks on loopback.

Every byte is delayed by the one-way latency in each direction and the whole
link (all connections together) is limited to a rate per direction by a token
bucket, so a request/response protocol pays one round trip per exchange and a
bulk download pays the bandwidth: what `tc netem` would do on a real
interface, without touching `lo` for everything else on the machine.

usage: linkproxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT --delay-ms 30 --rate-mbit 100 --stats FILE

The stats file holds one JSON object (bytes each way, connections) and is
rewritten when the proxy gets SIGTERM or SIGINT, and on SIGUSR1.
"""

import argparse
import asyncio
import json
import signal
import time

CHUNK = 64 * 1024


class Bucket:
    """A token bucket shared by every connection of one direction."""

    def __init__(self, rate_bytes):
        self.rate = rate_bytes
        self.free_at = time.monotonic()

    def reserve(self, n):
        """Reserves n bytes of link time; returns when the last byte has left."""
        now = time.monotonic()
        start = max(now, self.free_at)
        self.free_at = start + n / self.rate
        return self.free_at


class Link:
    def __init__(self, delay, rate_bytes):
        self.delay = delay
        self.down = Bucket(rate_bytes)
        self.up = Bucket(rate_bytes)
        self.stats = {"bytes_down": 0, "bytes_up": 0, "connections": 0}

    async def pump(self, reader, writer, bucket, counter):
        """Copies reader to writer, each chunk released after its transmit time plus the delay."""
        queue = asyncio.Queue()

        async def send():
            while True:
                item = await queue.get()
                if item is None:
                    break
                due, data = item
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.create_task(send())
        try:
            while True:
                data = await reader.read(CHUNK)
                if not data:
                    break
                self.stats[counter] += len(data)
                queue.put_nowait((bucket.reserve(len(data)) + self.delay, data))
        except (ConnectionError, OSError):
            pass
        queue.put_nowait(None)
        try:
            await sender
        except (ConnectionError, OSError):
            pass

    async def serve(self, client_r, client_w, host, port):
        self.stats["connections"] += 1
        try:
            server_r, server_w = await asyncio.open_connection(host, port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            self.pump(client_r, server_w, self.up, "bytes_up"),
            self.pump(server_r, client_w, self.down, "bytes_down"),
        )


async def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("listen_port", type=int)
    p.add_argument("target")
    p.add_argument("--delay-ms", type=float, default=30.0, help="one-way latency")
    p.add_argument("--rate-mbit", type=float, default=100.0, help="link rate per direction")
    p.add_argument("--stats", required=True, help="file to write the byte counters to")
    a = p.parse_args()
    host, port = a.target.rsplit(":", 1)
    link = Link(a.delay_ms / 1000.0, a.rate_mbit * 1e6 / 8)

    def dump():
        with open(a.stats, "w") as f:
            json.dump(link.stats, f)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, dump)
    server = await asyncio.start_server(
        lambda r, w: link.serve(r, w, host, int(port)), "127.0.0.1", a.listen_port
    )
    dump()
    async with server:
        await stop.wait()
    dump()


if __name__ == "__main__":
    asyncio.run(main())
