"""Helpers shared by the test modules: bounded waits, polling, round trips, a responder."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

import natsrs
from natsrs import ConnectionState, Message, Subscriber
from natsrs._server import NatsServer

T = TypeVar("T")

WAIT = 5.0
"""The bound on one operation against a local server that is up."""
SLOW_WAIT = 10.0
"""The bound on what spans a reconnect or moves megabytes (a restart, a websocket frame)."""
PROCESS_WAIT = 30.0
"""The bound on a Python child process (the CLI, an example) that starts, works and exits."""

LOOP_RUNTIME = os.environ.get("NATSRS_RUNTIME", "").strip() == "loop"
"""The suite runs with every client's engine on its loop (``NATSRS_RUNTIME=loop``)."""

threads_runtime_only = pytest.mark.skipif(
    LOOP_RUNTIME,
    reason="a client whose engine runs on its loop works only while that loop runs",
)


async def w(awaitable: Awaitable[T], timeout: float = WAIT) -> T:
    """Await with a bound, so a broken operation fails the test instead of hanging it."""

    async def wait() -> T:
        # wait_for gets a coroutine: on Python 3.9 a task cannot drive natsrs's
        # already-complete awaitables directly.
        return await awaitable

    return await asyncio.wait_for(wait(), timeout)


async def next_msg(sub: Subscriber, timeout: float = WAIT) -> Message:
    msg = await w(sub.next(), timeout)
    assert msg is not None, f"subscription to {sub.subject} ended before a message arrived"
    return msg


_round_trips = itertools.count()


async def assert_works(client: natsrs.Client, *, close: bool = False) -> None:
    """``client`` is connected and a message it publishes comes back through the server.

    With ``close=True`` the client is closed afterwards, whether the check passed or not
    (for clients a test connects by hand rather than through a fixture).
    """
    try:
        subject = f"works.{next(_round_trips)}"
        sub = await w(client.subscribe(subject))
        await w(client.publish(subject, b"still works"))
        assert (await next_msg(sub)).payload == b"still works"
        await w(sub.unsubscribe())
        assert client.connection_state == ConnectionState.CONNECTED
    except BaseException:
        if close:  # the check's failure is the news, not a close error after it
            with contextlib.suppress(Exception):
                await w(client.close())
        raise
    if close:
        await w(client.close())


def connz_entry(server: NatsServer, nc: natsrs.Client, **params: Any) -> dict[str, Any]:
    """The server's ``/connz`` record of this client's connection."""
    info = nc.server_info
    assert info is not None
    connections = server.connz({"cid": info.client_id, **params})["connections"]
    assert len(connections) == 1, connections
    entry: dict[str, Any] = connections[0]
    return entry


async def wait_until(predicate: Callable[[], object], timeout: float = WAIT) -> None:
    """Poll ``predicate`` (sync, truthy when done) until it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def responder(
    client: natsrs.Client,
    subject: str,
    handler: Callable[[Message], bytes] = lambda msg: b"re:" + msg.payload,
) -> AsyncIterator[Subscriber]:
    """Answer every request on ``subject`` with ``handler(msg)`` while inside the block."""
    sub = await w(client.subscribe(subject))

    async def serve() -> None:
        async for msg in sub:
            await msg.respond(handler(msg))

    task = asyncio.create_task(serve())
    await w(client.flush())
    try:
        yield sub
    finally:
        task.cancel()
        await asyncio.wait({task}, timeout=WAIT)


async def until_idle(sub: Subscriber, idle: float = 0.5) -> list[Message]:
    """Messages until none arrives for ``idle`` seconds (or the subscription ends)."""
    received: list[Message] = []
    while True:
        try:
            msg = await w(sub.next(timeout=idle))
        except natsrs.errors.TimeoutError:
            return received
        if msg is None:
            return received
        received.append(msg)


async def until_end(sub: Subscriber) -> list[Message]:
    """Every message until the subscription's ``async for`` ends."""
    return [msg async for msg in sub]


async def assert_no_message(sub: Subscriber, wait: float = 0.3) -> None:
    with pytest.raises(natsrs.errors.TimeoutError):
        await w(sub.next(timeout=wait))
