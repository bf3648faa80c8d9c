"""Probes that time one side of natsrs alone, to tell where a scenario's bound lies.

``bench.py`` times whole scenarios, in which the event loop thread, the tokio threads and
nats-server share the machine's cores. These probes take the other sides out:

- ``pubcall``: ``await publish`` calls in bursts of 4,000 that never fill the outbox (a
  flush between bursts, not timed): what one publish costs the event loop thread. Compare
  with scenario 1's rate: when this is far above it, the engine's side bounds publishing.
- ``consume``: ``async for`` over 50,000 messages already queued for the subscription:
  what one delivered message costs the event loop thread, without waiting for arrivals.

::

    python benchmarks/probes.py                      # both, on an embedded nats-server
    python benchmarks/probes.py consume --url nats://127.0.0.1:4222 --rounds 15

Each prints the median and best of ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import natsrs
from natsrs._server import NatsServer

PAYLOAD = b"x" * 16
BURST = 4_000
QUEUED = 50_000  # below the default subscription capacity (65,536): nothing is dropped


async def pubcall(url: str, rounds: int) -> list[float]:
    nc = await natsrs.connect(url)
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(BURST):
            await nc.publish("probes.pub", PAYLOAD)
        rates.append(BURST / (time.perf_counter() - start))
        await nc.flush()
    await nc.close()
    return rates


async def consume(url: str, rounds: int) -> list[float]:
    publisher = await natsrs.connect(url)
    subscriber = await natsrs.connect(url)
    rates = []
    for _ in range(rounds):
        sub = await subscriber.subscribe("probes.sub")
        await subscriber.flush()
        for _ in range(QUEUED):
            await publisher.publish("probes.sub", PAYLOAD)
        await publisher.flush()
        # The server has sent everything once both round trips are done; the last
        # messages may still be on their way through the engine.
        await subscriber.flush()
        await asyncio.sleep(0.05)
        received = 0
        start = time.perf_counter()
        async for _msg in sub:
            received += 1
            if received == QUEUED:
                break
        rates.append(QUEUED / (time.perf_counter() - start))
        await sub.unsubscribe()
    await publisher.close()
    await subscriber.close()
    return rates


PROBES: dict[str, Callable[[str, int], Coroutine[Any, Any, list[float]]]] = {
    "pubcall": pubcall,
    "consume": consume,
}


@contextlib.contextmanager
def server_url(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with NatsServer() as server:
        yield server.url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("probes", nargs="*", help=f"some of {', '.join(PROBES)} (default: all)")
    parser.add_argument("--url", help="a running nats-server (default: start one)")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    unknown = sorted(set(args.probes) - set(PROBES))
    if unknown:
        parser.error(f"unknown probe {unknown[0]!r}: choose from {', '.join(PROBES)}")
    with server_url(args.url) as url:
        for name in args.probes or PROBES:
            rates = asyncio.run(PROBES[name](url, args.rounds))
            print(
                f"{name}: median {statistics.median(rates) / 1e6:.2f} M/s, "
                f"best {max(rates) / 1e6:.2f} M/s over {len(rates)} rounds"
            )


if __name__ == "__main__":
    main()
