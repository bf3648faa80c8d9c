"""Helpers shared by the test modules: bounded awaits, polling, a request responder."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest

import natsrs
from natsrs import Message, Subscriber

T = TypeVar("T")
WAIT = 5.0


async def w(awaitable: Awaitable[T], timeout: float = WAIT) -> T:
    """Await with a bound, so a broken operation fails the test instead of hanging it."""
    return await asyncio.wait_for(awaitable, timeout)


async def next_msg(sub: Subscriber, timeout: float = WAIT) -> Message:
    msg = await w(sub.next(), timeout)
    assert msg is not None, f"subscription to {sub.subject} ended before a message arrived"
    return msg


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


async def assert_no_message(sub: Subscriber, wait: float = 0.3) -> None:
    with pytest.raises(natsrs.errors.TimeoutError):
        await w(sub.next(timeout=wait))
