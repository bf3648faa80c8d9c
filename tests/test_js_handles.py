"""async-nats's shape of JetStream (``natsrs.js.handles``): stream handles, pull consumers
read with ``fetch``/``batch``/``messages()``, and the pull-based ordered consumer, against
a real JetStream server over both clients."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from helpers import SLOW_WAIT, w
from natsrs.js import api
from natsrs.js.errors import NotFoundError
from natsrs.js.handles import OrderedConsumer, PullConsumer, Stream

pytestmark = pytest.mark.timeout(120)


async def _filled(js: Any, count: int, *, allow_direct: bool = False) -> Stream:
    config = api.StreamConfig(
        name="S", subjects=["s.>"], storage=api.StorageType.MEMORY, allow_direct=allow_direct
    )
    stream = await w(js.get_or_create_stream(config))
    for i in range(count):
        await w(js.publish(f"s.{i % 2}", str(i).encode()))
    return stream


async def test_stream_handles(js: Any) -> None:
    with pytest.raises(NotFoundError):
        await w(js.get_stream("S"))
    made = await w(js.create_stream(name="S", subjects=["s.>"], storage="memory"))
    assert isinstance(made, Stream) and made.name == "S"
    assert made.cached_info is not None and made.cached_info.config.subjects == ["s.>"]
    again = await w(js.get_or_create_stream(api.StreamConfig(name="S", subjects=["s.>"])))
    assert again.cached_info is not None and again.cached_info.config.name == "S"
    bare = js.get_stream_no_info("S")
    assert bare.cached_info is None
    for i in range(4):
        await w(js.publish(f"s.{i % 2}", str(i).encode()))
    info = await w(bare.info(subjects_filter=">"))
    assert info.state.messages == 4 and info.state.subjects == {"s.0": 2, "s.1": 2}
    assert bare.cached_info is info
    assert await w(js.stream_by_subject("s.x")) == "S"
    assert [i.config.name async for i in js.streams()] == ["S"]
    with pytest.raises(ValueError):
        await w(js.get_or_create_stream(api.StreamConfig()))


async def test_stream_messages(js: Any) -> None:
    stream = await _filled(js, 4, allow_direct=True)
    assert (await w(stream.get_raw_message(2))).data == b"1"
    assert (await w(stream.get_last_raw_message_by_subject("s.0"))).data == b"2"
    assert (await w(stream.direct_get(3))).data == b"2"
    assert (await w(stream.direct_get_last_for_subject("s.1"))).data == b"3"
    assert await w(stream.delete_message(1))
    with pytest.raises(NotFoundError):
        await w(stream.get_raw_message(1))
    assert await w(stream.purge(subject="s.1"))
    assert (await w(stream.info())).state.messages == 1
    assert await w(stream.purge())
    assert (await w(stream.info())).state.messages == 0


async def test_consumer_handles(js: Any) -> None:
    stream = await _filled(js, 0)
    made = await w(stream.create_consumer(durable_name="C", ack_policy="explicit"))
    assert isinstance(made, PullConsumer) and made.name == "C" and made.stream == "S"
    got = await w(stream.get_consumer("C"))
    assert got.cached_info is not None and got.cached_info.config.durable_name == "C"
    with pytest.raises(NotFoundError):
        await w(stream.get_consumer("missing"))
    other = await w(stream.get_or_create_consumer("D", api.ConsumerConfig(ack_policy="none")))
    assert (await w(other.info())).config.ack_policy == api.AckPolicy.NONE
    assert sorted([n async for n in stream.consumer_names()]) == ["C", "D"]
    assert (await w(stream.consumer_info("D"))).name == "D"
    assert await w(stream.delete_consumer("D"))
    assert [n async for n in stream.consumer_names()] == ["C"]


async def test_fetch_takes_what_is_there_and_batch_waits(js: Any) -> None:
    stream = await _filled(js, 5)
    consumer = await w(stream.create_consumer(durable_name="C", ack_policy="explicit"))
    assert [m.data for m in await w(consumer.fetch(3))] == [b"0", b"1", b"2"]
    rest = await w(consumer.fetch(10))
    assert [m.data for m in rest] == [b"3", b"4"]
    for msg in rest:
        await w(msg.ack())
    # Nothing left: fetch returns at once, empty; batch waits its expiry.
    assert await w(consumer.fetch(10)) == []
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await w(consumer.batch(10, expires=0.5)) == []
    assert loop.time() - began >= 0.4
    # What arrives within the expiry is returned when it ends.
    later = asyncio.ensure_future(consumer.batch(2, expires=1.0))
    await asyncio.sleep(0.2)
    await w(js.publish("s.0", b"late"))
    assert [m.data for m in await w(later)] == [b"late"]
    with pytest.raises(ValueError):
        await consumer.fetch(0)


async def test_messages_iterates_and_repulls_until_stopped(js: Any) -> None:
    stream = await _filled(js, 30)
    consumer = await w(stream.create_consumer(durable_name="C", ack_policy="explicit"))
    pulled = consumer.messages(max_messages=8, expires=5.0)
    seen: list[int] = []
    async for msg in pulled:
        seen.append(int(msg.data))
        await w(msg.ack())
        if len(seen) == 30:
            break
    assert seen == list(range(30))
    for i in range(30, 40):
        await w(js.publish("s.0", str(i).encode()))
    batches: list[list[int]] = []
    async for batch in pulled.batches():
        batches.append([int(m.data) for m in batch])
        if sum(len(b) for b in batches) == 10:
            break
    assert [n for b in batches for n in b] == list(range(30, 40))
    await w(pulled.stop())
    with pytest.raises(StopAsyncIteration):
        await w(pulled.__anext__())


async def test_ordered_consumer_reads_in_order_and_replaces_a_lost_consumer(js: Any) -> None:
    stream = await _filled(js, 10)
    ordered = await w(stream.ordered_consumer(filter_subject="s.>"))
    assert isinstance(ordered, OrderedConsumer)
    first = ordered.name
    assert first is not None
    messages = ordered.messages(max_messages=4, expires=2.0, heartbeat=0.2)
    got = [int((await w(messages.__anext__())).data) for _ in range(5)]
    assert got == [0, 1, 2, 3, 4]
    # The consumer goes away: the rest arrives through a new one, with no gap.
    await w(stream.delete_consumer(first))
    for i in range(10, 12):
        await w(js.publish("s.0", str(i).encode()))
    rest = [int((await w(messages.__anext__(), SLOW_WAIT)).data) for _ in range(7)]
    assert got + rest == list(range(12))
    assert ordered.name not in (None, first)
    await messages.aclose()
