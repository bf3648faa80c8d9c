"""Subscriber behaviour: ``async for``, ``next()``, ``next_batch()``, counters, and the
ways a subscription ends (unsubscribe, unsubscribe after n, drain, the client closing).
"""

from __future__ import annotations

import asyncio

import pytest

import natsrs
from helpers import assert_works, next_msg, until_end, w, wait_until

# -- receiving ---------------------------------------------------------------------------


async def test_async_for_yields_messages_in_publish_order(client: natsrs.Client) -> None:
    sub = await w(client.subscribe("ordered"))
    for i in range(10):
        await w(client.publish("ordered", str(i).encode()))

    received: list[bytes] = []

    async def consume() -> None:
        async for msg in sub:
            received.append(msg.payload)
            if len(received) == 10:
                break

    await w(consume())
    assert received == [str(i).encode() for i in range(10)]


async def test_concurrent_waiters_on_one_subscriber_each_get_a_message(
    client: natsrs.Client,
) -> None:
    sub = await client.subscribe("lifecycle.many")
    waiters = [asyncio.ensure_future(sub.next()) for _ in range(3)]
    await asyncio.sleep(0.05)
    for i in range(3):
        await client.publish("lifecycle.many", str(i).encode())
    got = await w(asyncio.gather(*waiters))
    assert sorted(m.payload for m in got) == [b"0", b"1", b"2"]


async def test_cancelled_wait_for_a_message_releases_the_subscriber(
    client: natsrs.Client,
) -> None:
    sub = await client.subscribe("lifecycle.cancel")
    waiting = asyncio.ensure_future(sub.next())
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await client.publish("lifecycle.cancel", b"after")
    msg = await w(sub.next())
    assert msg is not None and msg.payload == b"after"


async def test_next_batch_waits_for_the_first_message_and_ends_empty(
    client: natsrs.Client,
) -> None:
    sub = await client.subscribe("batch.wait")
    waiting = asyncio.ensure_future(sub.next_batch(10))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await client.publish("batch.wait", b"first")
    batch = await w(waiting)
    assert [m.payload for m in batch] == [b"first"]
    assert sub.delivered == 1
    await sub.unsubscribe()
    assert await w(sub.next_batch()) == []


async def test_next_with_a_timeout_raises_timeout_error_and_the_subscription_goes_on(
    client: natsrs.Client,
) -> None:
    sub = await w(client.subscribe("sub.timeout"))

    with pytest.raises(natsrs.errors.TimeoutError) as caught:
        await w(sub.next(timeout=0.1))

    assert isinstance(caught.value, TimeoutError)
    await w(client.publish("sub.timeout", b"later"))
    assert (await next_msg(sub)).payload == b"later"


async def test_delivered_and_pending_count_what_python_has_and_has_not_had(
    client: natsrs.Client,
) -> None:
    sub = await w(client.subscribe("sub.counted"))
    assert (sub.delivered, sub.pending_msgs, sub.pending_bytes) == (0, 0, 0)
    for payload in (b"a", b"bb", b"ccc"):
        await w(client.publish("sub.counted", payload))

    await wait_until(lambda: sub.pending_msgs == 3)
    assert (sub.delivered, sub.pending_bytes) == (0, 6)
    assert (await next_msg(sub)).payload == b"a"
    assert (sub.delivered, sub.pending_msgs, sub.pending_bytes) == (1, 2, 5)
    assert [m.payload for m in await w(sub.next_batch())] == [b"bb", b"ccc"]
    assert (sub.delivered, sub.pending_msgs, sub.pending_bytes) == (3, 0, 0)


# -- ending a subscription ---------------------------------------------------------------


async def test_unsubscribe_ends_async_iteration(client: natsrs.Client) -> None:
    sub = await w(client.subscribe("updates"))
    received: list[bytes] = []

    async def consume() -> None:
        async for msg in sub:
            received.append(msg.payload)

    task = asyncio.create_task(consume())
    await w(client.publish("updates", b"1"))
    await wait_until(lambda: received == [b"1"])

    await w(sub.unsubscribe())
    await w(task)
    await w(client.publish("updates", b"2"))
    await w(client.flush())

    assert received == [b"1"]
    assert await w(sub.next()) is None


async def test_unsubscribe_ends_a_waiting_async_for(client: natsrs.Client) -> None:
    sub = await client.subscribe("lifecycle.unsub")

    async def consume() -> int:
        count = 0
        async for _ in sub:
            count += 1
        return count

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0.05)
    await sub.unsubscribe()
    assert await w(consumer) == 0


async def test_unsubscribe_after_n_ends_after_exactly_n_messages(client: natsrs.Client) -> None:
    sub = await w(client.subscribe("limited"))
    await w(sub.unsubscribe_after(3))
    for i in range(5):
        await w(client.publish("limited", str(i).encode()))
    await w(client.flush())

    received = await w(until_end(sub))

    assert [m.payload for m in received] == [b"0", b"1", b"2"]


async def test_subscriber_drain_delivers_in_flight_messages_then_ends(
    client: natsrs.Client,
) -> None:
    sub = await w(client.subscribe("drained"))
    for i in range(5):
        await w(client.publish("drained", str(i).encode()))
    await w(client.flush())

    await w(sub.drain())
    received = await w(until_end(sub))

    assert [m.payload for m in received] == [str(i).encode() for i in range(5)]
    await assert_works(client)


async def test_close_ends_a_pending_async_for(client: natsrs.Client) -> None:
    sub = await w(client.subscribe("waiting"))
    iteration = asyncio.create_task(until_end(sub))
    await asyncio.sleep(0.05)  # let it block waiting for a message
    assert not iteration.done()

    await w(client.close())

    assert await w(iteration) == []
    assert await w(sub.next()) is None
