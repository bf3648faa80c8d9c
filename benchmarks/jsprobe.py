"""What one ``js.publish_async`` costs the event loop thread, for natsrs or nats-py.

Scenario ``js-publish-async`` runs with the acks-in-flight bound full, so its rate mixes
the call, the acks coming back and the server. This probe takes those apart: bursts of
``--burst`` calls (below both clients' bound of 4,000, so no call waits), then, untimed
per call, the wait until every ack has arrived, then awaiting each (done) ack. Per message
it prints the call's wall time, the event loop thread's own CPU time during the burst
(``time.thread_time``) and its context switches (``/proc/self/task/<tid>/status``): a call
whose wall time is far above its CPU time lost the core to other threads it woke.

With ``--core-pipeline N`` it also times, for natsrs, N pipelined JetStream publishes made
of core calls only: each ``PUB`` with a reply subject under one wildcard inbox
subscription, through the client's outbox (``await nc.publish(subject, payload, reply)``),
at most 4,000 unacknowledged, the acks read with ``next_batch`` and parsed with
``json.loads``. That is the shape a batched ``publish_async`` would have (one engine wake-up
per batch of publishes, acks routed by natsrs), with every per-message step in Python: a
floor for what such a route could reach.

::

    python benchmarks/jsprobe.py                          # natsrs and nats-py, own server
    python benchmarks/jsprobe.py natsrs --url nats://127.0.0.1:4222 --rounds 15
    python benchmarks/jsprobe.py natsrs --core-pipeline 100000

Medians over ``--rounds`` bursts, on a fresh memory stream (deleted after).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

from natsrs._server import NatsServer

PAYLOAD = b"x" * 128
CLIENTS = ("natsrs", "nats-py")


def switches() -> tuple[int, int]:
    """(voluntary, involuntary) context switches of the calling thread so far."""
    counts = {}
    with open(f"/proc/self/task/{threading.get_native_id()}/status", encoding="ascii") as f:
        for line in f:
            if "ctxt_switches" in line:
                name, value = line.split(":")
                counts[name.strip()] = int(value)
    return counts["voluntary_ctxt_switches"], counts["nonvoluntary_ctxt_switches"]


async def connect(client: str, url: str) -> Any:
    if client == "natsrs":
        import natsrs

        return await natsrs.connect(url)
    import nats

    return await nats.connect(url)


async def probe(client: str, url: str, rounds: int, burst: int) -> dict[str, float]:
    nc = await connect(client, url)
    js = nc.jetstream(timeout=10)
    stream = f"PROBE_{os.getpid()}_{time.monotonic_ns()}"
    subject = f"probes.js.{stream}"
    await js.add_stream(name=stream, subjects=[subject], storage="memory")
    samples: dict[str, list[float]] = {
        "call_us": [],
        "call_cpu_us": [],
        "involuntary_per_call": [],
        "voluntary_per_call": [],
        "acks_us": [],
        "await_us": [],
    }
    try:
        publish_async = js.publish_async
        for _ in range(rounds):
            before = switches()
            wall, cpu = time.perf_counter(), time.thread_time()
            futures = [await publish_async(subject, PAYLOAD) for _ in range(burst)]
            called, called_cpu = time.perf_counter(), time.thread_time()
            after = switches()
            await js.publish_async_completed()
            acked = time.perf_counter()
            for future in futures:
                await future
            awaited = time.perf_counter()
            samples["call_us"].append((called - wall) / burst * 1e6)
            samples["call_cpu_us"].append((called_cpu - cpu) / burst * 1e6)
            samples["voluntary_per_call"].append((after[0] - before[0]) / burst)
            samples["involuntary_per_call"].append((after[1] - before[1]) / burst)
            samples["acks_us"].append((acked - called) / burst * 1e6)
            samples["await_us"].append((awaited - acked) / burst * 1e6)
    finally:
        await js.delete_stream(stream)
        await nc.close()
    return {name: statistics.median(values) for name, values in samples.items()}


async def core_pipeline(url: str, count: int, in_flight: int = 4000) -> float:
    """Messages/s of ``count`` pipelined JetStream publishes over natsrs's core calls."""
    import natsrs

    nc = await natsrs.connect(url)
    js = nc.jetstream(timeout=10)
    stream = f"PROBE_{os.getpid()}_{time.monotonic_ns()}"
    subject = f"probes.js.{stream}"
    await js.add_stream(name=stream, subjects=[subject], storage="memory")
    try:
        prefix = nc.new_inbox()
        acks = await nc.subscribe(prefix + ".*")
        await nc.flush()
        publish = nc.publish
        sent = acked = last = 0
        start = time.perf_counter()
        while acked < count:
            while sent < count and sent - acked < in_flight:
                await publish(subject, PAYLOAD, f"{prefix}.{sent}")
                sent += 1
            for msg in await acks.next_batch(in_flight):
                last = json.loads(msg.data)["seq"]
                acked += 1
        elapsed = time.perf_counter() - start
        if last != count:
            raise RuntimeError(f"last ack has sequence {last}, expected {count}")
        return count / elapsed
    finally:
        await js.delete_stream(stream)
        await nc.close()


@contextlib.contextmanager
def server_url(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    with NatsServer(jetstream=True) as server:
        yield server.url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clients", nargs="*", help=f"some of {', '.join(CLIENTS)} (default: all)")
    parser.add_argument("--url", help="a running nats-server with JetStream (default: start one)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--burst", type=int, default=3000, help="calls per burst, < 4000")
    parser.add_argument(
        "--core-pipeline",
        type=int,
        default=0,
        metavar="N",
        help="also time N pipelined publishes made of natsrs's core calls (see above)",
    )
    args = parser.parse_args()
    unknown = sorted(set(args.clients) - set(CLIENTS))
    if unknown:
        parser.error(f"unknown client {unknown[0]!r}: choose from {', '.join(CLIENTS)}")
    if not 1 <= args.burst < 4000:
        parser.error("--burst must be between 1 and 3999 (below the acks-in-flight bound)")
    clients = args.clients or [
        c for c in CLIENTS if c == "natsrs" or importlib.util.find_spec("nats") is not None
    ]
    with server_url(args.url) as url:
        for client in clients:
            m = asyncio.run(probe(client, url, args.rounds, args.burst))
            print(
                f"{client}: call {m['call_us']:.2f} µs (loop thread CPU {m['call_cpu_us']:.2f} µs, "
                f"switches per call {m['voluntary_per_call']:.2f} voluntary "
                f"{m['involuntary_per_call']:.2f} involuntary), until all acked "
                f"{m['acks_us']:.2f} µs, awaiting a done ack {m['await_us']:.2f} µs "
                f"(per message, medians of {args.rounds} bursts of {args.burst})"
            )
        if args.core_pipeline > 0:
            rate = asyncio.run(core_pipeline(url, args.core_pipeline))
            print(f"natsrs core pipeline: {rate / 1e3:.1f} k msg/s over {args.core_pipeline}")


if __name__ == "__main__":
    main()
