"""nats-py's ``nats.aio.subscription``: ``Subscription`` (:class:`natsrs.Subscriber`) and
the ``cb=``/``future=`` delivery behind ``subscribe(..., cb=...)``.

The extension hands a new ``cb=`` or ``future=`` subscriber to :func:`deliver`. A reader
task moves messages from the engine into a pending queue with nats-py's limits (a message
over ``pending_msgs_limit``/``pending_bytes_limit`` is dropped and ``SlowConsumerError``
goes to the client's ``error_cb``); a worker task runs the callback on one message at a
time, and an exception in it goes to ``error_cb`` too. Both tasks end with the
subscription.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
from collections.abc import Awaitable
from typing import Any, Callable

from natsrs import errors
from natsrs._natsrs import Message, Subscriber

Subscription = Subscriber

__all__ = [
    "DEFAULT_SUB_PENDING_BYTES_LIMIT",
    "DEFAULT_SUB_PENDING_MSGS_LIMIT",
    "Subscription",
    "deliver",
    "hold",
]

logger = logging.getLogger("natsrs")

# nats-py's defaults (nats.aio.subscription).
DEFAULT_PENDING_MSGS_LIMIT = 512 * 1024
DEFAULT_PENDING_BYTES_LIMIT = 128 * 1024 * 1024
DEFAULT_SUB_PENDING_MSGS_LIMIT = DEFAULT_PENDING_MSGS_LIMIT
DEFAULT_SUB_PENDING_BYTES_LIMIT = DEFAULT_PENDING_BYTES_LIMIT
_READ_BATCH = 256

ErrorCallback = Callable[[Exception], Awaitable[None]]


async def report(error_cb: ErrorCallback | None, error: Exception) -> None:
    """Give ``error`` to ``error_cb``, or log it when there is none (or it fails)."""
    if error_cb is None:
        logger.error("natsrs: %s", error, exc_info=error)
        return
    try:
        await error_cb(error)
    except Exception:
        logger.exception("natsrs: the error callback raised")


def deliver(
    sub: Subscriber,
    cb: Callable[[Message], Awaitable[None]] | None,
    future: asyncio.Future[Message] | None,
    pending_msgs_limit: int | None,
    pending_bytes_limit: int | None,
    error_cb: ErrorCallback | None,
) -> None:
    """Start delivering ``sub``'s messages to ``cb`` (or its first one to ``future``).

    Raises:
        natsrs.errors.InvalidCallbackTypeError: ``cb`` is not a coroutine function.
    """
    if cb is not None and not inspect.iscoroutinefunction(cb):
        raise errors.InvalidCallbackTypeError(
            "the subscription callback must be a coroutine function"
        )
    loop = asyncio.get_running_loop()
    if cb is None:
        assert future is not None
        _keep(loop.create_task(_resolve_future(sub, future)))
        return
    max_msgs = DEFAULT_PENDING_MSGS_LIMIT if pending_msgs_limit is None else pending_msgs_limit
    max_bytes = DEFAULT_PENDING_BYTES_LIMIT if pending_bytes_limit is None else pending_bytes_limit
    pending: collections.deque[Message] = collections.deque()
    state = _Pending(pending, max_msgs, max_bytes)
    sub._held = state
    ready = asyncio.Event()
    _keep(
        loop.create_task(_read(sub, state, ready, error_cb)),
        loop.create_task(_work(cb, pending, state, ready, error_cb)),
    )


# Keeps delivery tasks alive until they end (asyncio holds only weak references).
_TASKS: set[asyncio.Task[Any]] = set()


def _keep(*tasks: asyncio.Task[Any]) -> None:
    for task in tasks:
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)


class _Pending:
    """A ``cb=`` subscription's queue, which ``Subscriber.pending_msgs`` and
    ``pending_bytes`` count with the engine's; with ``pull``, the queue of a subscription
    without ``cb=`` that has pending limits (see :func:`hold`)."""

    __slots__ = ("bytes", "ended", "max_bytes", "max_msgs", "pull", "queue", "ready")

    def __init__(
        self,
        queue: collections.deque[Message],
        max_msgs: int,
        max_bytes: int,
        ready: asyncio.Event | None = None,
    ) -> None:
        self.queue = queue
        # nats-py: a limit of 0 (or less) is no limit.
        self.max_msgs = max(0, max_msgs)
        self.max_bytes = max(0, max_bytes)
        self.bytes = 0
        self.ended = False
        # Read by next_msg / next_batch / async for (the extension hands those here).
        self.pull = ready is not None
        self.ready = ready


def hold(
    sub: Subscriber,
    pending_msgs_limit: int | None,
    pending_bytes_limit: int | None,
    error_cb: ErrorCallback | None,
) -> None:
    """Pending limits for a subscription without ``cb=`` (nats-py's): messages are
    queued here as they arrive, those past a limit dropped with a ``SlowConsumerError``
    to ``error_cb``, and ``next_msg``, ``next``, ``next_batch`` and ``async for`` read
    this queue (the extension calls :func:`_held_next` / :func:`_held_batch`)."""
    max_msgs = DEFAULT_PENDING_MSGS_LIMIT if pending_msgs_limit is None else pending_msgs_limit
    max_bytes = DEFAULT_PENDING_BYTES_LIMIT if pending_bytes_limit is None else pending_bytes_limit
    ready = asyncio.Event()
    state = _Pending(collections.deque(), max_msgs, max_bytes, ready)
    sub._held = state
    _keep(asyncio.get_running_loop().create_task(_read(sub, state, ready, error_cb)))


async def _wait_for_held(state: _Pending, timeout: float | None) -> bool:
    """Waits until ``state`` has a message (True) or has ended (False), at most
    ``timeout`` seconds."""
    assert state.ready is not None
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while not state.queue:
        if state.ended:
            return False
        state.ready.clear()
        if deadline is None:
            await state.ready.wait()
            continue
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise errors.TimeoutError("nats: timeout")
        try:
            await asyncio.wait_for(state.ready.wait(), remaining)
        except asyncio.TimeoutError:
            if not state.queue and not state.ended:
                raise errors.TimeoutError("nats: timeout") from None
    return True


def _take(state: _Pending) -> Message:
    msg = state.queue.popleft()
    state.bytes -= len(msg.data)
    return msg


async def _held_next(state: _Pending, timeout: float | None, end: str) -> Message | None:
    """The next held message; at the end, per ``end``: ``"none"`` → None, ``"stop"`` →
    StopAsyncIteration, ``"bad"`` → BadSubscriptionError."""
    if await _wait_for_held(state, timeout):
        return _take(state)
    if end == "stop":
        raise StopAsyncIteration
    if end == "bad":
        raise errors.BadSubscriptionError("the subscription has ended (unsubscribed or drained)")
    return None


async def _held_batch(state: _Pending, max_msgs: int, timeout: float | None) -> list[Message]:
    """Up to ``max_msgs`` held messages, waiting for the first; [] once ended."""
    if not await _wait_for_held(state, timeout):
        return []
    batch: list[Message] = []
    while state.queue and len(batch) < max_msgs:
        batch.append(_take(state))
    return batch


async def _read(
    sub: Subscriber,
    state: _Pending,
    ready: asyncio.Event,
    error_cb: ErrorCallback | None,
) -> None:
    try:
        # Whatever is queued at once goes into state.queue under the pending limits, in
        # one call per batch (``Subscriber._next_held_batch``); None once it has ended.
        while (dropped := await sub._next_held_batch(_READ_BATCH)) is not None:
            ready.set()
            for _ in range(dropped):
                await report(
                    error_cb,
                    errors.SlowConsumerError(
                        f"slow consumer on {sub.subject!r} (sid {sub.sid}): message dropped",
                        subject=sub.subject,
                        sid=sub.sid,
                    ),
                )
    finally:
        state.ended = True
        ready.set()


async def _work(
    cb: Callable[[Message], Awaitable[None]],
    pending: collections.deque[Message],
    state: _Pending,
    ready: asyncio.Event,
    error_cb: ErrorCallback | None,
) -> None:
    popleft = pending.popleft
    while True:
        while pending:
            msg = popleft()
            state.bytes -= len(msg.data)
            try:
                await cb(msg)
            except Exception as exc:
                await report(error_cb, exc)
        if state.ended:
            return
        ready.clear()
        await ready.wait()


async def _resolve_future(sub: Subscriber, future: asyncio.Future[Message]) -> None:
    msg = await sub.next()
    if msg is not None and not future.done():
        future.set_result(msg)
    await sub.unsubscribe()
