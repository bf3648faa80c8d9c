"""Soak: 1,000,000 messages pub -> sub and 100,000 requests through one nats-server.

Checks what a long-running process needs: resident memory flat (within 10 MB after the
warm-up), no growth in open file descriptors or tokio tasks. Prints the figures and exits
non-zero if a check fails.

    python scripts/soak.py                    # the full run (a minute or two)
    python scripts/soak.py --messages 100000 --requests 10000   # shorter
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

import natsrs
from natsrs import _natsrs
from natsrs._server import NatsServer

CHUNK = 10_000
MB = 1024 * 1024


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def fds() -> int:
    fd_dir = Path("/proc/self/fd")
    return len(list(fd_dir.iterdir())) if fd_dir.is_dir() else 0


async def pump(pub: natsrs.Client, sub: natsrs.Subscriber, count: int) -> None:
    payload = b"0123456789abcdef"
    received = 0
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        for _ in range(n):
            await pub.publish("soak.data", payload)
        # Keep the subscriber within its buffer: no slow-consumer drops in a soak.
        target = received + n
        async for _ in sub:
            received += 1
            if received == target:
                break


async def requests(client: natsrs.Client, count: int) -> None:
    for start in range(0, count, 100):
        await asyncio.gather(
            *(client.request("soak.svc", b"q", timeout=5) for _ in range(min(100, count - start)))
        )


async def main(messages: int, request_count: int) -> int:
    server = NatsServer()
    server.start()
    try:
        pub = await natsrs.connect(server.url)
        rx = await natsrs.connect(server.url)
        sub = await rx.subscribe("soak.data")
        service = await rx.subscribe("soak.svc")

        async def respond() -> None:
            async for msg in service:
                await msg.respond(b"r")

        responder = asyncio.ensure_future(respond())
        await rx.flush()

        warm = max(messages // 10, CHUNK)
        await pump(pub, sub, warm)
        await requests(pub, max(request_count // 10, 100))
        base = (rss(), fds(), _natsrs._runtime_alive_tasks())
        started = time.perf_counter()
        await pump(pub, sub, messages)
        await requests(pub, request_count)
        elapsed = time.perf_counter() - started
        end = (rss(), fds(), _natsrs._runtime_alive_tasks())

        responder.cancel()
        await pub.close()
        await rx.close()
    finally:
        server.stop()

    growth = (end[0] - base[0]) / MB
    print(f"messages {messages:,} + requests {request_count:,} in {elapsed:.1f} s")
    print(f"RSS      {base[0] / MB:.1f} MB -> {end[0] / MB:.1f} MB ({growth:+.1f} MB)")
    print(f"fds      {base[1]} -> {end[1]}")
    print(f"tasks    {base[2]} -> {end[2]}")
    failures = []
    if growth > 10:
        failures.append(f"RSS grew {growth:.1f} MB (limit 10 MB)")
    if end[1] > base[1]:
        failures.append("open file descriptors grew")
    if end[2] > base[2]:
        failures.append("tokio tasks grew")
    for failure in failures:
        print(f"FAIL: {failure}")
    print("ok" if not failures else "soak failed")
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100_000)
    options = parser.parse_args()
    if not os.path.isdir("/proc/self"):
        sys.exit("soak needs /proc (Linux) to read RSS and descriptors")
    sys.exit(asyncio.run(main(options.messages, options.requests)))
