"""``python -m natsrs bench``: a quick throughput and latency measurement with natsrs.

Three phases against one server, each on fresh connections:

* ``publish``: one client publishes ``count`` messages of ``size`` bytes, then flushes
  (messages per second of ``publish`` calls until the server has them all).
* ``pubsub``: one client publishes ``count`` messages that a subscriber on a second
  connection receives (messages per second from the first publish to the last receive).
* ``request``: ``requests`` sequential requests answered by a responder on a second
  connection (round-trip latency p50/p99 in microseconds, and requests per second).

A quick look, not a benchmark suite (``benchmarks/`` in the repository compares clients
with repeated, warmed-up runs).
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import TextIO

import natsrs

# Connects to the URL with these options (the CLI adds its timeout and auth flags).
Connect = Callable[[natsrs.ConnectOptions, str], Awaitable[natsrs.Client]]
# Messages the pubsub subscriber may buffer (async-nats drops beyond: slow consumer).
MAX_SUBSCRIPTION_CAPACITY = 1 << 20

PROGRESS_AFTER = 1.0  # seconds a phase runs before its progress bar appears
PROGRESS_EVERY = 0.1  # seconds between two redraws
BAR_WIDTH = 30


class Progress:
    """A one-line text progress bar (``label [#####.....]  50%``) on a stream.

    Drawn only when enabled, and only once the phase has run for ``PROGRESS_AFTER``
    seconds, so quick phases print nothing. ``done()`` erases it.
    """

    def __init__(self, label: str, total: int, stream: TextIO, enabled: bool) -> None:
        self.label = label
        self.total = max(total, 1)
        self.stream = stream
        self.enabled = enabled
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.drawn = False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < PROGRESS_AFTER or now - self.last_draw < PROGRESS_EVERY:
            return
        self.last_draw = now
        fraction = min(done / self.total, 1.0)
        filled = int(fraction * BAR_WIDTH)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r{self.label:<8} [{bar}] {fraction * 100:3.0f}% ")
        self.stream.flush()
        self.drawn = True

    def done(self) -> None:
        if self.drawn:
            self.stream.write("\r" + " " * (BAR_WIDTH + 18) + "\r")
            self.stream.flush()
            self.drawn = False


@dataclass
class Throughput:
    messages: int
    seconds: float
    msgs_per_sec: float
    mb_per_sec: float


@dataclass
class Latency:
    requests: int
    seconds: float
    requests_per_sec: float
    p50_us: float
    p99_us: float
    mean_us: float


@dataclass
class Results:
    version: str
    count: int
    size: int
    publish: Throughput
    pubsub: Throughput
    request: Latency
    lost: int = field(default=0)
    """Messages the pubsub subscriber did not receive (slow-consumer drops)."""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _throughput(messages: int, size: int, seconds: float) -> Throughput:
    seconds = max(seconds, 1e-9)
    return Throughput(
        messages=messages,
        seconds=seconds,
        msgs_per_sec=messages / seconds,
        mb_per_sec=messages * size / seconds / 1e6,
    )


def _percentile(ordered: list[float], fraction: float) -> float:
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


async def _wait(awaitable: Awaitable[natsrs.Message | None], timeout: float) -> None:
    """Await with a deadline (a coroutine, so ``wait_for`` can drive it on any Python)."""

    async def wait() -> None:
        await awaitable

    await asyncio.wait_for(wait(), timeout)


async def _sync(client: natsrs.Client, timeout: float) -> None:
    """Return once the server has processed everything ``client`` sent (subscriptions)."""
    inbox = client.new_inbox()
    probe = await client.subscribe(inbox)
    await client.publish(inbox)
    await _wait(probe.next(), timeout)
    await probe.unsubscribe()


async def bench_publish(
    connect: Connect, url: str, count: int, size: int, progress: Progress, timeout: float
) -> Throughput:
    nc = await connect(natsrs.ConnectOptions().name("natsrs-bench-pub"), url)
    try:
        subject = f"natsrs.bench.pub.{secrets.token_hex(4)}"
        payload = bytes(size)
        started = time.perf_counter()
        for i in range(count):
            await nc.publish(subject, payload)
            if i % 1024 == 0:
                progress.update(i)
        await nc.flush(timeout)
        elapsed = time.perf_counter() - started
    finally:
        progress.done()
        await nc.close()
    return _throughput(count, size, elapsed)


async def bench_pubsub(
    connect: Connect, url: str, count: int, size: int, progress: Progress, timeout: float
) -> tuple[Throughput, int]:
    """Returns the throughput and how many messages were lost (0 normally)."""
    pub = await connect(natsrs.ConnectOptions().name("natsrs-bench-pub"), url)
    capacity = min(max(count, 65536), MAX_SUBSCRIPTION_CAPACITY)
    sub_options = natsrs.ConnectOptions().name("natsrs-bench-sub").subscription_capacity(capacity)
    sub_client = await connect(sub_options, url)
    try:
        subject = f"natsrs.bench.pubsub.{secrets.token_hex(4)}"
        sub = await sub_client.subscribe(subject)
        await _sync(sub_client, timeout)
        received = 0
        last = time.perf_counter()

        async def receive() -> None:
            nonlocal received, last
            while received < count:
                batch = await asyncio.wait_for(_batch(sub), timeout)
                if not batch:
                    return
                received += len(batch)
                last = time.perf_counter()
                progress.update(received)

        receiver = asyncio.ensure_future(receive())
        payload = bytes(size)
        started = time.perf_counter()
        for i in range(count):
            await pub.publish(subject, payload)
            if i % 4096 == 0:
                await asyncio.sleep(0)  # let the receiver keep up
        await pub.flush(timeout)
        try:
            await receiver
        except asyncio.TimeoutError:
            pass  # nothing more within the timeout: some messages were dropped
    finally:
        progress.done()
        await pub.close()
        await sub_client.close()
    return _throughput(received, size, last - started), count - received


async def _batch(sub: natsrs.Subscriber) -> list[natsrs.Message]:
    return await sub.next_batch()


async def bench_request(
    connect: Connect, url: str, requests: int, size: int, progress: Progress, timeout: float
) -> Latency:
    client = await connect(natsrs.ConnectOptions().name("natsrs-bench-req"), url)
    server = await connect(natsrs.ConnectOptions().name("natsrs-bench-rep"), url)
    try:
        subject = f"natsrs.bench.req.{secrets.token_hex(4)}"
        sub = await server.subscribe(subject)

        async def respond() -> None:
            async for msg in sub:
                await msg.respond(msg.payload)

        responder = asyncio.ensure_future(respond())
        await _sync(server, timeout)
        payload = bytes(size)
        latencies: list[float] = []
        started = time.perf_counter()
        for i in range(requests):
            sent = time.perf_counter()
            await client.request(subject, payload, timeout=timeout)
            latencies.append(time.perf_counter() - sent)
            if i % 64 == 0:
                progress.update(i)
        elapsed = time.perf_counter() - started
        await sub.unsubscribe()
        responder.cancel()
    finally:
        progress.done()
        await client.close()
        await server.close()
    latencies.sort()
    return Latency(
        requests=requests,
        seconds=elapsed,
        requests_per_sec=requests / max(elapsed, 1e-9),
        p50_us=_percentile(latencies, 0.50) * 1e6,
        p99_us=_percentile(latencies, 0.99) * 1e6,
        mean_us=sum(latencies) / len(latencies) * 1e6,
    )


async def run(
    url: str,
    connect: Connect,
    *,
    count: int,
    size: int,
    requests: int,
    timeout: float,
    progress: bool,
    stream: TextIO | None = None,
) -> Results:
    """Run the three phases against ``url``; ``progress`` draws bars on ``stream``."""
    out = stream if stream is not None else sys.stderr

    def bar(label: str, total: int) -> Progress:
        return Progress(label, total, out, progress)

    publish = await bench_publish(connect, url, count, size, bar("publish", count), timeout)
    pubsub, lost = await bench_pubsub(connect, url, count, size, bar("pubsub", count), timeout)
    request = await bench_request(connect, url, requests, size, bar("request", requests), timeout)
    return Results(
        version=natsrs.__version__,
        count=count,
        size=size,
        publish=publish,
        pubsub=pubsub,
        request=request,
        lost=lost,
    )


def table(results: Results) -> list[str]:
    """The results as lines of a small text table."""
    rows = [
        f"natsrs {results.version} bench: {results.count} messages of {results.size} bytes, "
        f"{results.request.requests} requests",
        "",
        f"{'test':<10} {'count':>9} {'msg/s':>12} {'MB/s':>9} {'p50 us':>9} {'p99 us':>9}",
    ]
    for name, row in (("publish", results.publish), ("pub->sub", results.pubsub)):
        rows.append(
            f"{name:<10} {row.messages:>9} {row.msgs_per_sec:>12,.0f} {row.mb_per_sec:>9.2f}"
            f" {'-':>9} {'-':>9}"
        )
    req = results.request
    rows.append(
        f"{'request':<10} {req.requests:>9} {req.requests_per_sec:>12,.0f} {'-':>9}"
        f" {req.p50_us:>9.1f} {req.p99_us:>9.1f}"
    )
    if results.lost:
        rows.append(f"(pub->sub: {results.lost} messages not received: slow consumer)")
    return rows
