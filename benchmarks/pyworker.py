"""One benchmark measurement for one Python client, in its own process.

``benchmarks/bench.py`` runs this once per (scenario, client, event loop, run), so every
figure comes from a fresh interpreter: no state (GC generations, memory, a started tokio
runtime) leaks from one measurement into the next, and RSS figures are the client's own.

::

    python benchmarks/pyworker.py --client natsrs --loop uvloop --scenario publish \\
        --url nats://127.0.0.1:4222 --count 500000 --warmup 50000
    {"client": "natsrs", "loop": "uvloop", "scenario": "publish", ..., "metrics": {...}}

Fairness: the timed loops are written once and shared by both clients (natsrs and nats-py
have the same ``publish``/``request``/``flush``/``respond`` call shapes), so the only code that
differs is connecting and subscribing (the glue in :class:`NatsrsGlue` and
:class:`NatsPyGlue`). Each role (publisher, subscriber, responder, requester) has its own
connection. Every scenario warms up before timing. ``benchmarks/raw/src/main.rs`` mirrors
each scenario step for step in Rust.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import os
import sys
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine
from typing import Any, Protocol

SCENARIOS = (
    "publish",
    "batch",
    "subscribe",
    "callback",
    "request",
    "inflight",
    "large_pub",
    "large_recv",
    "memory_stream",
    "memory_idle",
    "js_publish",
    "js_publish_async",
    "js_fetch",
    "js_ordered",
)
CLIENTS = ("natsrs", "nats-py")
LOOPS = ("asyncio", "uvloop")

IN_FLIGHT = 100
"""Requests sent together (one ``gather``) in the ``inflight`` scenario."""
LARGE_FLUSH_EVERY = 8
"""Flush every this many messages when publishing large payloads."""
WINDOW_BYTES = 16 << 20
"""Bytes a publisher may run ahead of its subscriber (see :class:`Window`)."""
REQUEST_TIMEOUT = 10.0
JS_TIMEOUT = 10.0
"""The JetStream context's ``timeout`` (API calls and each ack) and each fetch's wait."""
JS_FETCH_BATCH = 500
"""Messages asked for per ``fetch`` in the ``js_fetch`` scenario (the raw program's too)."""
JS_FILL_CHUNK = 1000
"""Core publishes between flushes while filling a stream for ``js_fetch`` (untimed)."""

Metrics = dict[str, float]


# -- the surface both clients share ---------------------------------------------------------


class Msg(Protocol):
    def respond(self, data: bytes, /) -> Awaitable[None]: ...


class Client(Protocol):
    """What the timed loops call: identical for natsrs and nats-py."""

    def publish(self, subject: str, payload: bytes, /) -> Awaitable[None]: ...
    def request(self, subject: str, payload: bytes, /, *, timeout: float) -> Awaitable[Any]: ...
    def flush(self) -> Awaitable[None]: ...
    def close(self) -> Awaitable[None]: ...
    def jetstream(self, *, timeout: float) -> Any:
        """A JetStream context: natsrs's ``natsrs.js.JetStreamContext`` or nats-py's, which
        share the calls the ``js_*`` scenarios make (``add_stream``, ``publish``,
        ``publish_async``, ``pull_subscribe``, ``fetch``, ``msg.ack()``, ...)."""
        ...


Callback = Callable[[Any], Coroutine[Any, Any, None]]
BatchPublish = Callable[[list[tuple[str, bytes]]], Awaitable[None]]


class Glue(Protocol):
    """Connecting and subscribing: the only per-client code."""

    async def connect(self, url: str) -> Client: ...
    async def iterate(self, client: Client, subject: str) -> AsyncIterable[Any]:
        """Subscribe; the messages as an ``async for`` iterable."""
        ...

    async def callback(self, client: Client, subject: str, cb: Callback) -> None:
        """Subscribe with a callback run for every message."""
        ...

    async def hold(self, client: Client, subject: str) -> object:
        """Subscribe and return the subscription object (kept alive by the caller)."""
        ...

    def batch_publisher(self, client: Client) -> BatchPublish | None:
        """The client's batch publish call, ``None`` when it has none."""
        ...

    notes: dict[str, str]
    """How a scenario was run where the clients differ (reported with the figures)."""


class NatsrsGlue:
    def __init__(self) -> None:
        self._tasks: list[asyncio.Future[None]] = []
        self.notes: dict[str, str] = {}

    async def connect(self, url: str) -> Client:
        import natsrs

        client: Client = await natsrs.connect(url, request_timeout=REQUEST_TIMEOUT)
        return client

    async def iterate(self, client: Client, subject: str) -> AsyncIterable[Any]:
        import natsrs

        assert isinstance(client, natsrs.Client)
        return await client.subscribe(subject)

    async def callback(self, client: Client, subject: str, cb: Callback) -> None:
        import natsrs

        assert isinstance(client, natsrs.Client)
        signature = getattr(natsrs.Client.subscribe, "__text_signature__", None) or ""
        if "cb=" in signature:
            self.notes["callback"] = "native subscribe(cb=)"
            await client.subscribe(subject, cb=cb)
            return
        # An older natsrs without callback subscriptions: emulate nats-py's `cb=` with a
        # task that iterates and awaits the callback for every message (what nats-py's own
        # per-subscription task does).
        self.notes["callback"] = "emulated: async for + await cb(msg)"
        sub = await self.iterate(client, subject)

        async def pump() -> None:
            async for msg in sub:
                await cb(msg)

        self._tasks.append(asyncio.ensure_future(pump()))

    async def hold(self, client: Client, subject: str) -> object:
        return await self.iterate(client, subject)

    def batch_publisher(self, client: Client) -> BatchPublish | None:
        publish_many: BatchPublish | None = getattr(client, "publish_many", None)
        return publish_many


class NatsPyGlue:
    def __init__(self) -> None:
        self.notes: dict[str, str] = {}

    async def connect(self, url: str) -> Client:
        import nats

        nc = await nats.connect(url)
        client: Client = nc
        return client

    async def iterate(self, client: Client, subject: str) -> AsyncIterable[Any]:
        from nats.aio.client import Client as NatsPyClient

        assert isinstance(client, NatsPyClient)
        sub = await client.subscribe(subject)
        return sub.messages

    async def callback(self, client: Client, subject: str, cb: Callback) -> None:
        from nats.aio.client import Client as NatsPyClient

        assert isinstance(client, NatsPyClient)
        await client.subscribe(subject, cb=cb)

    async def hold(self, client: Client, subject: str) -> object:
        from nats.aio.client import Client as NatsPyClient

        assert isinstance(client, NatsPyClient)
        return await client.subscribe(subject)

    def batch_publisher(self, client: Client) -> BatchPublish | None:
        return None  # nats-py has no batch publish


def make_glue(client: str) -> Glue:
    return NatsrsGlue() if client == "natsrs" else NatsPyGlue()


# -- helpers --------------------------------------------------------------------------------


def rss_bytes() -> int:
    """Resident set size of this process (``VmRSS`` of ``/proc/self/status``)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (same definition as the Rust program)."""
    rank = -(-len(sorted_values) * fraction // 1)  # ceil
    index = min(max(int(rank), 1), len(sorted_values)) - 1
    return sorted_values[index]


async def round_trip(client: Client) -> None:
    """One request through the server on this connection.

    The server answers "no responders" only after processing everything the connection
    sent before, so a subscription made before this is live when it returns. natsrs's
    ``flush()`` (like async-nats's) only waits for the socket write, nats-py's is a
    PING/PONG; this is the same for both.
    """
    try:
        await client.request("bench.sync", b"", timeout=REQUEST_TIMEOUT)
    except Exception as exc:
        if type(exc).__name__ != "NoRespondersError":
            raise


class Window:
    """Flow control between a publisher and its subscriber in one process.

    The publisher may run at most ``window`` messages ahead, so neither a subscription's
    buffer (natsrs/async-nats drop beyond ``subscription_capacity``; nats-py beyond
    ``pending_msgs_limit``) nor the server's per-client pending limit overflows. The
    publisher asks for credit ``chunk`` messages at a time; the subscriber reports its
    count every ``chunk`` messages (same sizes as the Rust program's semaphore).
    """

    def __init__(self, size: int) -> None:
        self.window = min(max(WINDOW_BYTES // max(size, 64), 4), 20_000)
        self.chunk = min(max(self.window // 20, 1), 1000)
        self.sent = 0
        self.received = 0
        self._wake_at = -1
        self._event = asyncio.Event()

    async def take(self) -> None:
        """Wait until ``chunk`` more messages may be sent."""
        need = self.sent + self.chunk - self.window
        if self.received < need:
            self._wake_at = need
            self._event.clear()
            await self._event.wait()

    def arrived(self, total: int) -> None:
        self.received = total
        if total >= self._wake_at >= 0:
            self._wake_at = -1
            self._event.set()


async def windowed_publish(
    client: Client, window: Window, count: int, payload: bytes, flush_every: int = 0
) -> None:
    publish = client.publish
    flush = client.flush
    done = 0
    while done < count:
        await window.take()
        end = min(done + window.chunk, count)
        for n in range(done, end):
            await publish("bench.sub", payload)
            if flush_every and (n + 1) % flush_every == 0:
                await flush()
        window.sent += end - done
        done = end
    await flush()


# -- scenarios ------------------------------------------------------------------------------


async def timed(
    client: Client, run: Callable[[int], Awaitable[None]], count: int, warmup: int
) -> float:
    """Seconds ``run(count)`` takes after ``run(warmup)``; closes ``client`` after."""
    await run(warmup)
    start = time.perf_counter()
    await run(count)
    elapsed = time.perf_counter() - start
    await client.close()
    return elapsed


async def publish(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """1: ``await client.publish(...)`` in a loop, then ``flush()``."""
    client = await glue.connect(url)
    payload = b"x" * size

    async def run(n: int) -> None:
        pub = client.publish
        for _ in range(n):
            await pub("bench.pub", payload)
        await client.flush()

    elapsed = await timed(client, run, count, warmup)
    return {"msgs_per_s": count / elapsed}


BATCH = 1000
"""Messages per call in the ``batch`` scenario (the raw program uses the same)."""


class Unsupported(Exception):
    """The client has no API for this scenario."""


async def batch(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """2: the client's batch publish, ``BATCH`` messages a call, then ``flush()``.

    The list is built once, outside the timing (as the caller's own data would be); the
    call converts and queues it.
    """
    client = await glue.connect(url)
    publish_many = glue.batch_publisher(client)
    if publish_many is None:
        await client.close()
        raise Unsupported("no batch API")
    payload = b"x" * size
    messages = [("bench.pub", payload)] * BATCH

    async def run(n: int) -> None:
        for start in range(0, n, BATCH):
            await publish_many(messages if n - start >= BATCH else messages[: n - start])
        await client.flush()

    elapsed = await timed(client, run, count, warmup)
    return {"msgs_per_s": count / elapsed}


async def pub_sub(
    glue: Glue,
    url: str,
    count: int,
    warmup: int,
    size: int,
    *,
    callback: bool,
    flush_every: int = 0,
    memory: bool = False,
) -> tuple[float, Metrics]:
    """Publisher and subscriber on two connections; seconds to receive ``count`` messages.

    With ``memory``, also the RSS before and after those ``count`` messages.
    """
    publisher = await glue.connect(url)
    subscriber = await glue.connect(url)
    payload = b"x" * size
    window = Window(size)
    chunk = window.chunk
    total = warmup + count
    warmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    received = 0
    nbytes = 0  # payload bytes read: every consumer reads every payload, as a real one would

    if callback:

        async def on_message(msg: Any) -> None:
            nonlocal received, nbytes
            nbytes += len(msg.data)
            received += 1
            if received % chunk == 0:
                window.arrived(received)
            if received == warmup:
                warmed.set_result(None)
            if received == total:
                done.set_result(None)

        await glue.callback(subscriber, "bench.sub", on_message)
    else:
        messages = await glue.iterate(subscriber, "bench.sub")

        async def consume() -> None:
            nonlocal received, nbytes
            async for msg in messages:
                nbytes += len(msg.data)  # `data`: nats-py's name, also natsrs's
                received += 1
                if received % chunk == 0:
                    window.arrived(received)
                if received == warmup:
                    warmed.set_result(None)
                if received == total:
                    break
            done.set_result(None)

        consumer = asyncio.ensure_future(consume())
    await round_trip(subscriber)

    await windowed_publish(publisher, window, warmup, payload, flush_every)
    if warmup:
        await warmed
    extra: Metrics = {}
    if memory:
        gc.collect()
        extra["rss_before_mb"] = rss_bytes() / 1e6
    start = time.perf_counter()
    await windowed_publish(publisher, window, count, payload, flush_every)
    await done
    elapsed = time.perf_counter() - start
    if memory:
        gc.collect()
        extra["rss_after_mb"] = rss_bytes() / 1e6
        extra["rss_growth_mb"] = extra["rss_after_mb"] - extra["rss_before_mb"]
    if not callback:
        await consumer
    if nbytes != total * size:
        raise RuntimeError(f"received {nbytes} payload bytes, expected {total * size}")
    await publisher.close()
    await subscriber.close()
    return elapsed, extra


async def subscribe(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """3: publisher -> subscriber, ``async for`` on the subscriber; messages received/s."""
    elapsed, _ = await pub_sub(glue, url, count, warmup, size, callback=False)
    return {"msgs_per_s": count / elapsed}


async def callback(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """4: the same with a callback subscription (emulated for natsrs, see NatsrsGlue)."""
    elapsed, _ = await pub_sub(glue, url, count, warmup, size, callback=True)
    return {"msgs_per_s": count / elapsed}


async def start_responder(glue: Glue, url: str, payload: bytes) -> Client:
    """A responder on its own connection answering ``bench.req`` with ``payload``.

    Both clients use a callback subscription, nats-py's idiomatic responder (its ``async
    for`` is its slow path); for natsrs the two forms measure the same.
    """
    client = await glue.connect(url)

    async def respond(msg: Msg) -> None:
        await msg.respond(payload)

    await glue.callback(client, "bench.req", respond)
    await round_trip(client)
    return client


async def request(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """5: sequential request/reply round trips; p50/p99 latency."""
    payload = b"x" * size
    responder = await start_responder(glue, url, payload)
    client = await glue.connect(url)
    req = client.request
    for _ in range(warmup):
        await req("bench.req", payload, timeout=REQUEST_TIMEOUT)
    micros: list[float] = []
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for _ in range(count):
        sent = clock()
        await req("bench.req", payload, timeout=REQUEST_TIMEOUT)
        micros.append((clock() - sent) / 1e3)
    elapsed = time.perf_counter() - start
    micros.sort()
    await client.close()
    await responder.close()
    return {
        "p50_us": percentile(micros, 0.50),
        "p99_us": percentile(micros, 0.99),
        "req_per_s": count / elapsed,
    }


async def inflight(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """6: ``IN_FLIGHT`` requests at a time (one ``gather``); requests/s."""
    payload = b"x" * size
    responder = await start_responder(glue, url, payload)
    client = await glue.connect(url)
    req = client.request

    async def rounds(n: int) -> int:
        batches = -(-n // IN_FLIGHT)
        for _ in range(batches):
            await asyncio.gather(
                *[req("bench.req", payload, timeout=REQUEST_TIMEOUT) for _ in range(IN_FLIGHT)]
            )
        return batches * IN_FLIGHT

    await rounds(warmup)
    start = time.perf_counter()
    sent = await rounds(count)
    elapsed = time.perf_counter() - start
    await client.close()
    await responder.close()
    return {"req_per_s": sent / elapsed}


async def large_pub(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """7a: publish large payloads, flushing every ``LARGE_FLUSH_EVERY``; MB/s (10^6 B)."""
    client = await glue.connect(url)
    payload = b"x" * size

    async def run(n: int) -> None:
        for i in range(n):
            await client.publish("bench.large", payload)
            if (i + 1) % LARGE_FLUSH_EVERY == 0:
                await client.flush()
        await client.flush()

    elapsed = await timed(client, run, count, warmup)
    return {"mb_per_s": count * size / 1e6 / elapsed}


async def large_recv(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """7b: receive large payloads (publisher on another connection); MB/s received."""
    elapsed, _ = await pub_sub(
        glue, url, count, warmup, size, callback=False, flush_every=LARGE_FLUSH_EVERY
    )
    return {"mb_per_s": count * size / 1e6 / elapsed}


async def memory_stream(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """8a: RSS before and after ``count`` messages through one ``async for`` subscription."""
    _, metrics = await pub_sub(glue, url, count, warmup, size, callback=False, memory=True)
    return metrics


async def memory_idle(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """8b: RSS per idle subscription, over ``count`` subscriptions on one connection."""
    client = await glue.connect(url)
    await client.flush()
    gc.collect()
    before = rss_bytes()
    subs = [await glue.hold(client, f"idle.{i}") for i in range(count)]
    await client.flush()
    gc.collect()
    after = rss_bytes()
    del subs
    await client.close()
    return {
        "rss_before_mb": before / 1e6,
        "rss_after_mb": after / 1e6,
        "bytes_per_sub": (after - before) / count,
    }


# -- JetStream --------------------------------------------------------------------------------


async def with_stream(
    glue: Glue, url: str, body: Callable[[Client, Any, str, str], Awaitable[Metrics]]
) -> Metrics:
    """Runs ``body(client, js, stream, subject)`` on a fresh memory stream, deleted after.

    The stream's name and subject are new for every run (the process id and a counter of
    the clock), so runs never see each other's messages or consumers.
    """
    client = await glue.connect(url)
    js = client.jetstream(timeout=JS_TIMEOUT)
    stream = f"BENCH_{os.getpid()}_{time.monotonic_ns()}"
    subject = f"bench.js.{stream}"
    await js.add_stream(name=stream, subjects=[subject], storage="memory")
    try:
        return await body(client, js, stream, subject)
    finally:
        await js.delete_stream(stream)
        await client.close()


async def fill_stream(
    client: Client, js: Any, stream: str, subject: str, payload: bytes, total: int
) -> None:
    """Puts ``total`` messages in the stream with core publishes (untimed: the consuming
    scenarios measure consuming), then waits until the stream holds them all."""
    for start in range(0, total, JS_FILL_CHUNK):
        for _ in range(min(JS_FILL_CHUNK, total - start)):
            await client.publish(subject, payload)
        await client.flush()
    deadline = time.monotonic() + 60
    while (await js.stream_info(stream)).state.messages < total:
        if time.monotonic() > deadline:
            raise RuntimeError(f"stream {stream} did not reach {total} messages in 60 s")
        await asyncio.sleep(0.02)


async def js_publish(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """9: sequential ``await js.publish(...)`` (each waits for its ack); p50/p99 latency."""
    payload = b"x" * size

    async def body(client: Client, js: Any, stream: str, subject: str) -> Metrics:
        publish = js.publish
        for _ in range(warmup):
            await publish(subject, payload)
        micros: list[float] = []
        clock = time.perf_counter_ns
        start = time.perf_counter()
        for _ in range(count):
            sent = clock()
            ack = await publish(subject, payload)
            micros.append((clock() - sent) / 1e3)
        elapsed = time.perf_counter() - start
        if ack.seq != warmup + count:
            raise RuntimeError(f"last ack has sequence {ack.seq}, expected {warmup + count}")
        micros.sort()
        return {
            "p50_us": percentile(micros, 0.50),
            "p99_us": percentile(micros, 0.99),
            "msgs_per_s": count / elapsed,
        }

    return await with_stream(glue, url, body)


async def js_publish_async(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """10: pipelined ``publish_async``, its ack futures collected, then awaited; msgs/s.

    ``publish_async`` itself waits while the client's bound of acks in flight
    (``publish_async_max_pending``, 4000 for both clients) is reached.
    """
    payload = b"x" * size

    async def body(client: Client, js: Any, stream: str, subject: str) -> Metrics:
        async def run(n: int) -> Any:
            publish_async = js.publish_async
            futures = [await publish_async(subject, payload) for _ in range(n)]
            await js.publish_async_completed()
            ack = None
            for future in futures:
                ack = await future  # every ack is checked, as the raw program does
            return ack

        await run(warmup)
        start = time.perf_counter()
        ack = await run(count)
        elapsed = time.perf_counter() - start
        if ack is None or ack.seq != warmup + count:
            raise RuntimeError(f"last ack {ack!r}, expected sequence {warmup + count}")
        return {"msgs_per_s": count / elapsed}

    return await with_stream(glue, url, body)


async def js_fetch(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """11: a durable pull consumer, ``fetch`` of ``JS_FETCH_BATCH``, ``ack()`` per message.

    The stream is filled first (untimed, core publishes: the scenario measures consuming),
    then ``warmup`` messages are consumed, then ``count`` are timed, ending with a
    ``flush()`` so that every ack has reached the server.
    """
    payload = b"x" * size
    total = warmup + count

    async def body(client: Client, js: Any, stream: str, subject: str) -> Metrics:
        await fill_stream(client, js, stream, subject, payload, total)
        psub = await js.pull_subscribe(subject, "bench", stream=stream)
        nbytes = 0

        async def consume(n: int) -> None:
            nonlocal nbytes
            fetch = psub.fetch
            got = 0
            while got < n:
                msgs = await fetch(min(JS_FETCH_BATCH, n - got), timeout=JS_TIMEOUT)
                for msg in msgs:
                    nbytes += len(msg.data)
                    await msg.ack()
                got += len(msgs)
            await client.flush()

        await consume(warmup)
        start = time.perf_counter()
        await consume(count)
        elapsed = time.perf_counter() - start
        if nbytes != total * size:
            raise RuntimeError(f"received {nbytes} payload bytes, expected {total * size}")
        await psub.unsubscribe()
        return {"msgs_per_s": count / elapsed}

    return await with_stream(glue, url, body)


async def js_ordered(glue: Glue, url: str, count: int, warmup: int, size: int) -> Metrics:
    """12: an ordered push consumer (``js.subscribe(..., cb=, ordered_consumer=True)``)
    reading a filled stream; messages/s from the ``warmup``-th message to the last.

    ``cb=`` is nats-py's fast path (its ``async for`` runs a task per message).
    """
    payload = b"x" * size
    total = warmup + count

    async def body(client: Client, js: Any, stream: str, subject: str) -> Metrics:
        subscribe = getattr(js, "subscribe", None)
        if subscribe is None or "ordered_consumer" not in inspect.signature(subscribe).parameters:
            raise Unsupported("no ordered consumer")
        await fill_stream(client, js, stream, subject, payload, total)
        loop = asyncio.get_running_loop()
        warmed: asyncio.Future[float] = loop.create_future()
        done: asyncio.Future[float] = loop.create_future()
        received = 0
        nbytes = 0

        async def on_message(msg: Any) -> None:
            nonlocal received, nbytes
            nbytes += len(msg.data)
            received += 1
            if received == warmup:
                warmed.set_result(time.perf_counter())
            if received == total:
                done.set_result(time.perf_counter())

        subscribed = time.perf_counter()
        sub = await js.subscribe(subject, stream=stream, cb=on_message, ordered_consumer=True)
        start = await asyncio.wait_for(warmed, 60) if warmup else subscribed
        end = await asyncio.wait_for(done, 300)
        await sub.unsubscribe()
        if nbytes != total * size:
            raise RuntimeError(f"received {nbytes} payload bytes, expected {total * size}")
        return {"msgs_per_s": count / (end - start)}

    return await with_stream(glue, url, body)


RUNNERS: dict[str, Callable[[Glue, str, int, int, int], Coroutine[Any, Any, Metrics]]] = {
    "publish": publish,
    "batch": batch,
    "subscribe": subscribe,
    "callback": callback,
    "request": request,
    "inflight": inflight,
    "large_pub": large_pub,
    "large_recv": large_recv,
    "memory_stream": memory_stream,
    "memory_idle": memory_idle,
    "js_publish": js_publish,
    "js_publish_async": js_publish_async,
    "js_fetch": js_fetch,
    "js_ordered": js_ordered,
}
assert set(RUNNERS) == set(SCENARIOS)


def new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--client", choices=CLIENTS, required=True)
    parser.add_argument("--loop", choices=LOOPS, default="asyncio")
    parser.add_argument("--scenario", choices=SCENARIOS, required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--size", type=int, default=16)
    args = parser.parse_args(argv)

    glue = make_glue(args.client)
    runner = RUNNERS[args.scenario]
    loop = new_loop(args.loop)
    asyncio.set_event_loop(loop)
    unsupported: str | None = None
    try:
        metrics = loop.run_until_complete(
            runner(glue, args.url, args.count, args.warmup, args.size)
        )
    except Unsupported as exc:
        metrics, unsupported = {}, str(exc)
    finally:
        loop.close()
    line = {
        "client": args.client,
        "loop": args.loop,
        "scenario": args.scenario,
        "count": args.count,
        "size": args.size,
        "metrics": metrics,
        "notes": glue.notes,
        "unsupported": unsupported,
    }
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
