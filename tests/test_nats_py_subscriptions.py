"""nats-py's ``Subscription`` and ``Msg``, and the ``cb=`` delivery semantics: one
message at a time, pending limits, errors to ``error_cb``.

Everything goes through ``import natsrs as nats`` against real ``nats-server``
processes from the fixtures, one per test on free ports. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import natsrs
import natsrs as nats
from helpers import w, wait_until
from nats_py_helpers import (
    Closeable,
    Recorder,
    connect,
    nats_client,
)
from natsrs._server import NatsServer
from natsrs.aio.msg import Msg
from natsrs.aio.subscription import Subscription

pytestmark = pytest.mark.timeout(60)


# -- Subscription ---------------------------------------------------------------------------


async def test_subscription_api(nc: Any) -> None:
    sub = await w(nc.subscribe("compat.subscription"))
    assert isinstance(sub, Subscription) and isinstance(sub, natsrs.Subscriber)
    assert sub.subject == "compat.subscription" and sub.delivered == 0
    with pytest.raises(nats.errors.TimeoutError):
        await sub.next_msg(timeout=0.1)
    for i in range(4):
        await w(nc.publish("compat.subscription", str(i).encode()))
    # All four are queued here before unsubscribe(limit=2) below: the engine ends a
    # subscription whose delivered count has reached the limit, dropping later arrivals.
    await w(nc.flush())
    assert (await w(sub.next_msg())).data == b"0"
    seen = []
    async for msg in sub.messages:
        seen.append(msg.data)
        if len(seen) == 2:
            break
    assert seen == [b"1", b"2"] and sub.delivered == 3
    await w(sub.unsubscribe(limit=2))  # one more, then the iteration ends
    await w(nc.publish("compat.subscription", b"4"))
    assert [m.data async for m in sub.messages] == [b"3"]

    drained = await w(nc.subscribe("compat.drained"))
    await w(nc.publish("compat.drained", b"in-flight"))
    await w(nc.flush())
    await w(drained.drain())
    assert [m.data async for m in drained.messages] == [b"in-flight"]
    with pytest.raises(nats.errors.BadSubscriptionError):
        await w(drained.next_msg(timeout=0.1))


async def test_subscription_pending_counters(nc: Any) -> None:
    sub = await w(nc.subscribe("compat.pending"))
    for _ in range(3):
        await w(nc.publish("compat.pending", b"12345"))
    await w(nc.flush())
    assert (sub.pending_msgs, sub.pending_bytes) == (3, 15)
    assert (await w(sub.next_msg())).data == b"12345"
    assert (sub.pending_msgs, sub.pending_bytes) == (2, 10)
    assert [m.data async for m in _take(sub, 2)] == [b"12345", b"12345"]
    assert (sub.pending_msgs, sub.pending_bytes) == (0, 0)

    # Counting while a reader waits must not leave that reader deaf to new messages.
    waiting = asyncio.ensure_future(sub.next_msg(timeout=5))
    await asyncio.sleep(0.05)
    assert sub.pending_msgs == 0
    await w(nc.publish("compat.pending", b"later"))
    assert (await w(waiting)).data == b"later"


async def _take(sub: Any, count: int) -> AsyncIterator[Msg]:
    async for msg in sub.messages:
        yield msg
        count -= 1
        if count == 0:
            return


async def test_callback_subscription_pending_counts_what_the_callback_has_not_had(
    nc: Any,
) -> None:
    release = asyncio.Event()
    seen: list[bytes] = []

    async def slow(msg: Msg) -> None:
        seen.append(msg.data)
        await release.wait()

    sub = await w(nc.subscribe("compat.pending.cb", cb=slow))
    for payload in (b"a", b"bb", b"ccc"):
        await w(nc.publish("compat.pending.cb", payload))
    await w(nc.flush())
    await wait_until(lambda: seen == [b"a"] and sub.pending_msgs == 2)
    assert sub.pending_bytes == 5
    release.set()
    await wait_until(lambda: len(seen) == 3)
    assert (sub.pending_msgs, sub.pending_bytes) == (0, 0)


# -- Msg -------------------------------------------------------------------------------------


async def test_msg_api(nc: Any) -> None:
    async def respond(msg: Msg) -> None:
        await msg.respond(b"re:" + msg.data)

    await w(nc.subscribe("compat.msg", cb=respond))
    sub = await w(nc.subscribe("compat.msg.copy"))
    await w(nc.flush())
    await w(nc.publish("compat.msg.copy", b"body", "compat.msg.reply", {"K": "v", "Z": "z"}))
    msg = await w(sub.next_msg())
    assert isinstance(msg, Msg) and isinstance(msg, natsrs.Message)
    assert msg.subject == "compat.msg.copy" and msg.reply == "compat.msg.reply"
    assert msg.data == b"body"
    assert msg.headers is not None and msg.header is not None
    assert msg.headers["K"] == "v" and msg.headers.get("Z") == "z" and "K" in msg.headers
    assert dict(msg.headers) == {"K": "v", "Z": "z"}
    assert dict(msg.headers.items()) == {"K": "v", "Z": "z"}
    reply = await w(nc.request("compat.msg", b"q", timeout=2))
    assert reply.data == b"re:q"
    plain = await w(nc.subscribe("compat.msg.plain"))
    await w(nc.publish("compat.msg.plain", b""))
    assert (await w(plain.next_msg())).headers is None


async def test_msg_headers_are_a_dict_that_keeps_repeated_values(nc: Any) -> None:
    sub = await w(nc.subscribe("compat.hdr"))
    await w(nc.publish("compat.hdr", b"", headers={"K": "v", "M": ["1", "2"]}))
    msg = await w(sub.next_msg())
    headers = msg.headers
    assert isinstance(headers, dict) and isinstance(headers, nats.Headers)
    assert headers == {"K": "v", "M": "1"} and json.loads(json.dumps(headers)) == headers
    assert headers.get_all("M") == ["1", "2"] and headers.get_all("absent") == []
    assert headers.to_dict() == {"K": ["v"], "M": ["1", "2"]}
    assert headers.copy().get_all("M") == ["1", "2"]
    # One dict per message, as nats-py's: a change stays.
    headers["X"] = "y"
    assert msg.headers is headers and msg.header is headers and msg.headers["X"] == "y"

    # Passed on as they are, every value goes out again.
    copy_sub = await w(nc.subscribe("compat.hdr.copy"))
    await w(nc.publish("compat.hdr.copy", b"", headers=headers))
    forwarded = (await w(copy_sub.next_msg())).headers
    assert forwarded.to_dict() == {"K": ["v"], "M": ["1", "2"], "X": ["y"]}


# -- semantics ---------------------------------------------------------------------------------


async def test_callbacks_run_one_message_at_a_time_per_subscription(nc: Any) -> None:
    running = {"a": 0, "b": 0}
    most = {"a": 0, "b": 0}
    order: dict[str, list[int]] = {"a": [], "b": []}
    overlapped = asyncio.Event()
    done = asyncio.Event()

    def handler(key: str) -> Callable[[Msg], Awaitable[None]]:
        async def cb(msg: Msg) -> None:
            running[key] += 1
            most[key] = max(most[key], running[key])
            if running["a"] and running["b"]:
                overlapped.set()
            await asyncio.sleep(0.01)
            order[key].append(int(msg.data))
            running[key] -= 1
            if len(order["a"]) == len(order["b"]) == 10:
                done.set()

        return cb

    await w(nc.subscribe("compat.serial.a", cb=handler("a")))
    await w(nc.subscribe("compat.serial.b", cb=handler("b")))
    for i in range(10):
        await w(nc.publish("compat.serial.a", str(i).encode()))
        await w(nc.publish("compat.serial.b", str(i).encode()))
    await w(done.wait())
    assert most == {"a": 1, "b": 1}
    assert order["a"] == order["b"] == list(range(10))
    assert overlapped.is_set()  # the two subscriptions do run concurrently


async def test_callback_exceptions_and_pending_limit_overflow_go_to_error_cb(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await connect(opened, nats_server.url, error_cb=rec.error_cb)

    async def broken(msg: Msg) -> None:
        raise RuntimeError(f"bad message {msg.data!r}")

    await w(nc.subscribe("compat.broken", cb=broken))
    await w(nc.publish("compat.broken", b"x"))
    error = await rec.wait_error(RuntimeError)
    assert "bad message" in str(error)

    release = asyncio.Event()
    handled: list[bytes] = []

    async def stuck(msg: Msg) -> None:
        await release.wait()
        handled.append(msg.data)

    slow = await w(nc.subscribe("compat.slow", cb=stuck, pending_msgs_limit=2))
    for i in range(10):
        await w(nc.publish("compat.slow", str(i).encode()))
    await w(nc.flush())
    slow_error = await rec.wait_error(nats.errors.SlowConsumerError)
    assert getattr(slow_error, "sid", None) == slow.sid
    release.set()
    await wait_until(lambda: len(handled) >= 2)
    await asyncio.sleep(0.1)
    # Two pending (plus the one in the callback, if it got there first); the rest dropped.
    assert handled[:2] == [b"0", b"1"] and len(handled) <= 3, handled
    assert sum(isinstance(e, nats.errors.SlowConsumerError) for e in rec.errors) >= 7


async def test_pending_bytes_limit_drops_what_would_exceed_it(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await connect(opened, nats_server.url, error_cb=rec.error_cb)
    release = asyncio.Event()
    entered: list[bytes] = []
    handled: list[bytes] = []

    async def stuck(msg: Msg) -> None:
        entered.append(msg.data)
        await release.wait()
        handled.append(msg.data)

    # 10 bytes may wait: the first message reaches the callback, the next two (4 + 6
    # bytes) wait, and the 1-byte fourth would make 11; the 0-byte fifth still fits.
    sub = await w(nc.subscribe("compat.bytes", cb=stuck, pending_bytes_limit=10))
    await w(nc.publish("compat.bytes", b"first"))
    await wait_until(lambda: entered == [b"first"])
    for payload in (b"4444", b"666666", b"1", b""):
        await w(nc.publish("compat.bytes", payload))
    await w(nc.flush())
    await rec.wait_error(nats.errors.SlowConsumerError)
    assert (sub.pending_msgs, sub.pending_bytes) == (3, 10)
    release.set()
    await wait_until(lambda: len(handled) == 4)
    assert handled == [b"first", b"4444", b"666666", b""]
    assert sum(isinstance(e, nats.errors.SlowConsumerError) for e in rec.errors) == 1


async def test_pending_limits_without_a_callback_drop_on_arrival(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    """nats-py's limits on a subscription read with next_msg: what arrives past them is
    dropped at once (error_cb hears of it before anything is read), and every way of
    reading takes what was kept, in order."""
    rec = Recorder()
    nc = await connect(opened, nats_server.url, error_cb=rec.error_cb)
    sub = await w(nc.subscribe("compat.held.>", pending_msgs_limit=5, pending_bytes_limit=-1))
    await w(nc.flush())
    for i in range(6):
        await w(nc.publish(f"compat.held.{i}", b"bar"))
    await w(nc.flush())
    error = await rec.wait_error(nats.errors.SlowConsumerError)
    assert getattr(error, "sid", None) == sub.sid
    await wait_until(lambda: sub.pending_msgs == 5)
    assert sub.pending_bytes == 15
    assert (await w(sub.next_msg())).subject == "compat.held.0"
    assert (sub.pending_msgs, sub.pending_bytes) == (4, 12)
    batch = await w(sub.next_batch(2, timeout=1))
    assert [m.subject for m in batch] == ["compat.held.1", "compat.held.2"]
    assert (await w(sub.next(timeout=1))).subject == "compat.held.3"
    async for msg in sub:
        assert msg.subject == "compat.held.4"
        break
    with pytest.raises(nats.errors.TimeoutError):
        await sub.next_msg(timeout=0.2)
    with pytest.raises(nats.errors.TimeoutError):
        await sub.next_batch(timeout=0.2)
    # Room again: new messages are kept.
    await w(nc.publish("compat.held.later", b"x"))
    assert (await w(sub.next_msg())).subject == "compat.held.later"
    assert sum(isinstance(e, nats.errors.SlowConsumerError) for e in rec.errors) == 1
    await w(sub.unsubscribe())
    assert await w(sub.next(timeout=1)) is None
    with pytest.raises(nats.errors.BadSubscriptionError):
        await w(sub.next_msg())


async def test_engine_slow_consumer_goes_to_error_cb(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await connect(opened, nats_server.url, error_cb=rec.error_cb, subscription_capacity=16)
    sub = await w(nc.subscribe("compat.engine.slow"))
    for i in range(500):
        await w(nc.publish("compat.engine.slow", str(i).encode()))
    await w(nc.flush())
    error = await rec.wait_error(nats.errors.SlowConsumerError)
    assert getattr(error, "sid", None) == sub.sid


async def test_flush_after_subscribe_means_the_server_has_the_subscription(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    subscriber = await nats_client(opened, nats_server.url)
    publisher = await connect(opened, nats_server.url)
    for i in range(20):
        subject = f"compat.flushed.{i}"
        sub = await w(subscriber.subscribe(subject))
        await w(subscriber.flush())
        # Another connection publishes at once: the interest must already be there.
        await w(publisher.publish(subject, b"seen"))
        assert (await w(sub.next_msg(timeout=2))).data == b"seen"
