"""natsrs's awaitables work wherever nats-py's coroutines do: awaited, and handed to
``asyncio.create_task``, ``loop.create_task``, ``TaskGroup.create_task``, ``wait_for``,
``gather``, ``shield`` and ``ensure_future``, on each of their three paths (finished
during the call, failed during the call, pending). Cancelling one gives back what its
operation took, and a dropped event loop releases natsrs's hub with it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import warnings
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

import natsrs
from helpers import WAIT, responder, w
from natsrs import Message, Subscriber
from natsrs._server import NatsServer

if TYPE_CHECKING:
    from conftest import ClientFactory
from natsrs.errors import BadSubjectError, NoRespondersError

# -- how an awaitable is run -----------------------------------------------------------


async def _awaited(aw: Any) -> Any:
    return await w(aw)


async def _create_task(aw: Any) -> Any:
    return await w(asyncio.create_task(aw))


async def _loop_create_task(aw: Any) -> Any:
    return await w(asyncio.get_running_loop().create_task(aw))


async def _task_group(aw: Any) -> Any:
    try:
        async with asyncio.TaskGroup() as group:  # type: ignore[attr-defined]
            task = group.create_task(aw)
    except BaseExceptionGroup as group_error:  # noqa: F821 (3.11+ only)
        raise group_error.exceptions[0] from None
    return task.result()


async def _wait_for(aw: Any) -> Any:
    return await asyncio.wait_for(aw, WAIT)


async def _gather(aw: Any) -> Any:
    (result,) = await w(asyncio.gather(aw))
    return result


async def _shield(aw: Any) -> Any:
    return await w(asyncio.shield(aw))


async def _ensure_future(aw: Any) -> Any:
    return await w(asyncio.ensure_future(aw))


async def _python_task(aw: Any) -> Any:
    """asyncio's pure-Python Task, which steps with ``send``/``throw`` where the C Task
    uses the iterator slot."""
    task_type = asyncio.tasks._PyTask  # type: ignore[attr-defined]
    return await w(task_type(aw, loop=asyncio.get_running_loop()))


RUNNERS: dict[str, Callable[[Any], Coroutine[Any, Any, Any]]] = {
    "await": _awaited,
    "create_task": _create_task,
    "loop.create_task": _loop_create_task,
    "wait_for": _wait_for,
    "gather": _gather,
    "shield": _shield,
    "ensure_future": _ensure_future,
}
if hasattr(asyncio.tasks, "_PyTask"):
    RUNNERS["python Task"] = _python_task
if sys.version_info >= (3, 11):
    RUNNERS["TaskGroup.create_task"] = _task_group


# -- the operations, one per path --------------------------------------------------------


@dataclass
class Case:
    """``make`` calls the operation; the call returns an awaitable of type ``kind``."""

    kind: str  # "_Ready | _Pending": the engine decides during the call
    make: Callable[[natsrs.Client, Subscriber], Awaitable[Any]]
    check: Callable[[Any], bool] | None = None
    raises: type[Exception] | None = None


def _publish_soon(nc: natsrs.Client, subject: str, payload: bytes) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await nc.publish(subject, payload)

    task = asyncio.ensure_future(later())
    _KEEP.add(task)
    task.add_done_callback(_KEEP.discard)


_KEEP: set[asyncio.Future[Any]] = set()


def _next_msg_pending(nc: natsrs.Client, sub: Subscriber) -> Awaitable[Message]:
    aw = sub.next_msg(timeout=WAIT)
    _publish_soon(nc, sub.subject, b"later")
    return aw


def _flush_pending(nc: natsrs.Client, sub: Subscriber) -> Awaitable[None]:
    nc.publish("a.d", b"unflushed")  # finished at once; the flush waits for the server
    return nc.flush()


CASES = {
    "publish ready": Case("_Ready", lambda nc, sub: nc.publish("a.b", b"x"), lambda r: r is None),
    "subscribe ready": Case(
        "_Ready", lambda nc, sub: nc.subscribe("a.c"), lambda r: isinstance(r, Subscriber)
    ),
    "next_msg queued": Case(
        "_Ready", lambda nc, sub: sub.next_msg(timeout=WAIT), lambda m: m.payload == b"queued"
    ),
    "publish failing": Case(
        "_Failed", lambda nc, sub: nc.publish("", b"x"), raises=BadSubjectError
    ),
    "request pending": Case(
        "_Pending",
        lambda nc, sub: nc.request("echo", b"hi", timeout=WAIT),
        lambda m: m.payload == b"re:hi",
    ),
    "next_msg pending": Case("_Pending", _next_msg_pending, lambda m: m.payload == b"later"),
    "flush": Case("_Ready | _Pending", _flush_pending, lambda r: r is None),
    "request failing while pending": Case(
        "_Pending",
        lambda nc, sub: nc.request("inbox.queued", b"", timeout=0.2),
        raises=natsrs.errors.TimeoutError,
    ),
    "request without responders": Case(
        "_Failed | _Pending",
        lambda nc, sub: nc.request("nobody.listens", b"", timeout=WAIT),
        raises=NoRespondersError,
    ),
}


@pytest.mark.parametrize("runner", list(RUNNERS))
@pytest.mark.parametrize("case", list(CASES))
async def test_every_path_runs_under_every_asyncio_api(
    client: natsrs.Client, runner: str, case: str
) -> None:
    spec = CASES[case]
    async with responder(client, "echo"):
        sub = await w(client.subscribe("inbox.queued"))
        if case == "next_msg queued":
            await w(client.publish("inbox.queued", b"queued"))
            await w(client.flush())
            await asyncio.sleep(0.05)  # the message reaches the subscription's queue
        aw = spec.make(client, sub)
        assert type(aw).__name__ in spec.kind.split(" | ")
        assert asyncio.iscoroutine(aw)
        if spec.raises is not None:
            with pytest.raises(spec.raises):
                await RUNNERS[runner](aw)
        else:
            assert spec.check is not None
            assert spec.check(await RUNNERS[runner](aw))


async def _message_is_still_there(nc: natsrs.Client, sub: Subscriber, payload: bytes) -> None:
    msg = await w(sub.next_msg(timeout=WAIT))
    assert msg.payload == payload


async def test_next_msg_cancelled_before_its_task_ran_loses_no_message(
    client: natsrs.Client,
) -> None:
    sub = await w(client.subscribe("cancel.before"))
    task = asyncio.create_task(sub.next_msg(timeout=WAIT))
    task.cancel()
    await w(client.publish("cancel.before", b"kept"))
    with pytest.raises(asyncio.CancelledError):
        await task
    await _message_is_still_there(client, sub, b"kept")


async def test_next_msg_finished_but_cancelled_before_its_task_ran_gives_the_message_back(
    client: natsrs.Client,
) -> None:
    """The operation takes the message before its Task ever runs; the cancelled Task must
    put it back."""
    sub = await w(client.subscribe("cancel.finished"))
    pending = sub.next_msg(timeout=WAIT)
    assert type(pending).__name__ == "_Pending"
    await w(client.publish("cancel.finished", b"kept"))
    await w(client.flush())
    await asyncio.sleep(0.1)  # the hub has polled the operation: it holds the message
    task = asyncio.create_task(pending)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _message_is_still_there(client, sub, b"kept")


@pytest.mark.parametrize("make_task", ["create_task", "python Task"])
async def test_next_msg_cancelled_while_waiting_loses_no_message(
    client: natsrs.Client, make_task: str
) -> None:
    sub = await w(client.subscribe("cancel.waiting"))
    if make_task == "create_task":
        task = asyncio.create_task(sub.next_msg(timeout=WAIT))
    else:
        python_task = asyncio.tasks._PyTask  # type: ignore[attr-defined]
        task = python_task(sub.next_msg(timeout=WAIT), loop=asyncio.get_running_loop())
    await asyncio.sleep(0.05)  # the task waits on the operation
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await w(client.publish("cancel.waiting", b"kept"))
    await _message_is_still_there(client, sub, b"kept")


async def test_wait_for_timing_out_a_pending_next_msg_loses_no_message(
    client: natsrs.Client,
) -> None:
    sub = await w(client.subscribe("wait.for"))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(sub.next_msg(timeout=WAIT), 0.05)
    await w(client.publish("wait.for", b"kept"))
    await _message_is_still_there(client, sub, b"kept")


async def test_a_pending_next_msg_dropped_unawaited_gives_its_message_back(
    client: natsrs.Client,
) -> None:
    sub = await w(client.subscribe("dropped"))
    pending = sub.next_msg(timeout=WAIT)
    assert type(pending).__name__ == "_Pending"
    del pending
    gc.collect()
    await w(client.publish("dropped", b"kept"))
    await w(client.flush())
    await _message_is_still_there(client, sub, b"kept")


async def test_a_pending_flush_nobody_awaits_still_runs(client: natsrs.Client) -> None:
    """Dropping an unfinished awaitable does not cancel its operation (natsrs's own
    fire-and-forget calls rely on that)."""
    sub = await w(client.subscribe("fire.and.forget"))
    client.flush()  # pending, dropped at once
    await w(client.publish("fire.and.forget", b"after"))
    await _message_is_still_there(client, sub, b"after")


async def test_shielded_request_finishes_when_the_outer_await_is_cancelled(
    client: natsrs.Client,
) -> None:
    async with responder(client, "slow", lambda msg: b"done"):
        inner = asyncio.ensure_future(client.request("slow", b"", timeout=WAIT))
        outer = asyncio.create_task(_shield(inner))
        await asyncio.sleep(0)
        outer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outer
        assert (await w(inner)).payload == b"done"


async def test_coroutine_protocol_of_each_kind(client: natsrs.Client) -> None:
    ready = client.publish("proto", b"")
    failed = client.publish("", b"")
    sub = await w(client.subscribe("proto.nothing"))
    pending = sub.next_msg(timeout=WAIT)
    assert type(pending).__name__ == "_Pending"
    for aw in (ready, failed, pending):
        with pytest.raises(TypeError, match="non-None"):
            aw.send(1)  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="thrown"):
            aw.throw(ValueError("thrown"))  # type: ignore[attr-defined]
        with pytest.raises(KeyError):
            aw.throw(KeyError)  # type: ignore[attr-defined]
        with pytest.raises(TypeError, match="BaseException"):
            aw.throw(42)  # type: ignore[attr-defined]
        aw.close()  # type: ignore[attr-defined]
    # A finished one still finishes on send(None); a given-up one cannot be reused.
    with pytest.raises(StopIteration):
        client.publish("proto", b"").send(None)  # type: ignore[attr-defined]
    with pytest.raises(BadSubjectError):
        client.publish("", b"").send(None)  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="reuse"):
        pending.send(None)  # type: ignore[attr-defined]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks are Python 3.12+")
async def test_an_eager_task_of_a_finished_call_is_done_at_creation(
    client: natsrs.Client,
) -> None:
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined]
    try:
        task = asyncio.create_task(client.publish("eager", b""))
        assert task.done()
        assert task.result() is None
    finally:
        loop.set_task_factory(previous)


# -- loops that are dropped without being closed ----------------------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts fds in /proc")
def test_a_dropped_loop_that_was_never_closed_releases_its_hub(nats_server: NatsServer) -> None:
    """Each loop gets a hub (two sockets) at its first pending operation; a loop that is
    garbage-collected unclosed must take the hub with it. asyncio's loop only: uvloop
    keeps a loop that was never closed alive (and its own fds open) by itself."""

    async def one_operation() -> None:
        nc = await asyncio.wait_for(natsrs.connect(nats_server.url), WAIT)
        sub = await nc.subscribe("nobody")
        with contextlib.suppress(natsrs.errors.TimeoutError):
            await sub.next_msg(timeout=0.01)  # pending: needs the loop's hub
        await asyncio.wait_for(nc.close(), WAIT)

    loops: list[weakref.ref[asyncio.AbstractEventLoop]] = []

    def run_in_a_new_loop() -> None:
        loop = asyncio.new_event_loop()
        loops.append(weakref.ref(loop))
        loop.run_until_complete(one_operation())
        # Never closed: only the garbage collector ends it.

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # "unclosed event loop"
        run_in_a_new_loop()
        gc.collect()
        baseline = _open_fds()
        for _ in range(30):
            run_in_a_new_loop()
        gc.collect()
        gc.collect()
    assert [ref for ref in loops if ref() is not None] == []
    # Each loop held 5 fds (its selector, self-pipe and the hub's pair) while alive.
    assert _open_fds() <= baseline + 4


@pytest.mark.parametrize("runner", list(RUNNERS))
async def test_client_drain_runs_under_every_asyncio_api(
    nats_server: NatsServer, client_factory: ClientFactory, runner: str
) -> None:
    nc = await client_factory(nats_server.url)
    await w(nc.subscribe("draining"))
    aw = nc.drain()
    assert asyncio.iscoroutine(aw)
    assert await RUNNERS[runner](aw) is None
    assert nc.is_closed
