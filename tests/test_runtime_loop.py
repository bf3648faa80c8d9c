"""``ConnectOptions.runtime("loop")``: the client's engine runs on its event loop's thread.

The whole suite also runs with every client so (``NATSRS_RUNTIME=loop``, in CI); these
tests check what only this mode has: where the engine runs, and what follows from it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

import natsrs
from helpers import WAIT, next_msg, w
from natsrs._server import NatsServer

pytestmark = pytest.mark.timeout(60)


def test_runtime_takes_threads_or_loop() -> None:
    assert "runtime='threads'" in repr(natsrs.ConnectOptions().runtime("threads"))
    assert "runtime='loop'" in repr(natsrs.ConnectOptions().runtime("loop"))
    with pytest.raises(ValueError, match="runtime must be"):
        natsrs.ConnectOptions().runtime("fibers")


def _publish_from_another_thread(url: str, subject: str, count: int) -> None:
    async def publish() -> None:
        nc = await natsrs.ConnectOptions().runtime("threads").connect(url)
        for i in range(count):
            await nc.publish(subject, b"%d" % i)
        await nc.flush()
        await nc.close()

    thread = threading.Thread(target=asyncio.run, args=(publish(),))
    thread.start()
    thread.join(WAIT)
    assert not thread.is_alive()


def _wait_blocking(sub: natsrs.Subscriber, count: int) -> int:
    """Blocks the loop up to 2 s for ``sub`` to have ``count`` messages pending."""
    deadline = time.monotonic() + 2.0
    while sub.pending_msgs < count and time.monotonic() < deadline:
        time.sleep(0.01)  # a plain function: called from a coroutine to block its loop
    return int(sub.pending_msgs)


@pytest.mark.parametrize("runtime", ["threads", "loop"])
async def test_the_engine_reads_on_the_loop_only_with_runtime_loop(
    nats_server: NatsServer, runtime: str
) -> None:
    nc = await w(natsrs.ConnectOptions().runtime(runtime).connect(nats_server.url))
    try:
        sub = await w(nc.subscribe("where.x"))
        await w(nc.flush())
        # The loop is blocked while another thread publishes and the server delivers.
        _publish_from_another_thread(nats_server.url, "where.x", 10)
        pending = _wait_blocking(sub, 10)
        if runtime == "threads":
            assert pending == 10, "the engine's threads read while the loop was busy"
        else:
            assert pending == 0, "nothing reads the socket while the loop is busy"
        # Once the loop runs, everything arrives, in order.
        got = [int((await next_msg(sub)).payload) for _ in range(10)]
        assert got == list(range(10))
    finally:
        await w(nc.close())


async def test_a_lone_publish_or_request_is_on_the_wire_when_the_call_returns(
    nats_server: NatsServer,
) -> None:
    """With the engine on the loop, nothing turns its runtime while the loop is blocked,
    so what a lone call hands over must be written during the call itself."""
    nc = await w(natsrs.ConnectOptions().runtime("loop").connect(nats_server.url))
    # Its engine reads on natsrs's threads, so it counts arrivals while the loop is blocked.
    watcher = await w(natsrs.ConnectOptions().runtime("threads").connect(nats_server.url))
    try:
        sub = await w(watcher.subscribe("handover.>"))
        await w(watcher.flush())
        await w(nc.flush())
        await asyncio.sleep(0.05)  # the calls below are lone, not part of a burst

        published = nc.publish("handover.pub", b"one")
        assert _wait_blocking(sub, 1) == 1, "the publish was not written during its call"
        await w(published)

        await asyncio.sleep(0.05)
        reply = nc.request("handover.req", b"two", timeout=WAIT)
        assert _wait_blocking(sub, 2) == 2, "the request was not written during its call"
        assert (await next_msg(sub)).payload == b"one"
        request = await next_msg(sub)
        assert request.payload == b"two"
        await w(request.respond(b"answer"))
        assert (await w(reply)).payload == b"answer"
    finally:
        await w(watcher.close())
        await w(nc.close())


async def test_round_trips_timeouts_and_no_responders(nats_server: NatsServer) -> None:
    nc = await w(natsrs.ConnectOptions().runtime("loop").connect(nats_server.url))
    silent = await w(natsrs.ConnectOptions().runtime("loop").connect(nats_server.url))
    try:
        sub = await w(nc.subscribe("svc"))

        async def serve() -> None:
            async for msg in sub:
                await msg.respond(b"re:" + msg.payload)

        server = asyncio.create_task(serve())
        silent_sub = await w(silent.subscribe("never.answers"))
        await w(silent.flush())
        for i in range(200):
            reply = await w(nc.request("svc", b"%d" % i, timeout=WAIT))
            assert reply.payload == b"re:%d" % i
        with pytest.raises(natsrs.errors.NoRespondersError):
            await w(nc.request("nobody.here", b"", timeout=WAIT))
        started = time.monotonic()
        with pytest.raises(natsrs.errors.TimeoutError):
            await w(nc.request("never.answers", b"", timeout=0.3))
        assert time.monotonic() - started < 2.0
        assert await w(nc.rtt()) >= 0
        assert silent_sub.pending_msgs == 1
        server.cancel()
    finally:
        await w(nc.close())
        await w(silent.close())


async def test_an_async_reconnect_delay_callback_falls_back_to_the_default(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The loop cannot await a callback for the engine it is running: a coroutine
    function is refused with a warning, and the default delay is used."""
    called: list[int] = []

    async def delay(n: int) -> float:
        called.append(n)
        return 0.1

    nc = await w(
        natsrs.ConnectOptions()
        .runtime("loop")
        .reconnect_delay_callback(delay)
        .connect(nats_server.url)
    )
    events = nc.events()
    with caplog.at_level(logging.WARNING, logger="natsrs"):
        nats_server.stop()
        kinds = []
        while natsrs.EventKind.DISCONNECTED not in kinds:
            kinds.append((await w(events.__anext__())).kind)
        nats_server.start()
        while natsrs.EventKind.CONNECTED not in kinds[-1:]:
            kinds.append((await w(events.__anext__(), 15)).kind)
    assert called == []
    assert any("plain (not async) reconnect delay callback" in r.message for r in caplog.records)
    await w(nc.close())


def test_a_client_whose_loop_closed_is_closed(nats_server: NatsServer) -> None:
    """Its engine ran on that loop: the client is closed with it, and says so."""

    async def connect() -> natsrs.Client:
        return await w(natsrs.ConnectOptions().runtime("loop").connect(nats_server.url))

    nc = asyncio.run(connect())

    async def use() -> None:
        with pytest.raises(natsrs.errors.ConnectionClosedError):
            await w(nc.request("x", b"", timeout=1.0))
        with pytest.raises(natsrs.errors.ConnectionClosedError):
            await w(nc.publish("x", b""))

    asyncio.run(use())
    assert nc.is_closed
