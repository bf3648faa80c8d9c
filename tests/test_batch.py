"""The batch paths: publish_many and next_batch."""

from __future__ import annotations

import asyncio

import pytest

import natsrs
from helpers import w
from natsrs import errors
from natsrs._server import NatsServer


async def test_publish_many_delivers_every_message_in_order(client: natsrs.Client) -> None:
    sub = await client.subscribe("batch.>")
    await client.flush()
    messages = [(f"batch.{i % 3}", str(i).encode()) for i in range(5000)]
    await client.publish_many(messages)
    got: list[natsrs.Message] = []
    while len(got) < len(messages):
        got.extend(await w(sub.next_batch(1000)))
    assert [(m.subject, m.payload) for m in got] == messages


async def test_publish_many_waits_instead_of_dropping_when_the_engine_is_full(
    nats_server: NatsServer,
) -> None:
    nc = await natsrs.connect(nats_server.url, client_capacity=8)
    sub = await nc.subscribe("batch.full")
    await nc.flush()
    await w(nc.publish_many([("batch.full", b"x")] * 2000))
    count = 0
    while count < 2000:
        count += len(await w(sub.next_batch()))
    assert count == 2000
    await nc.close()


async def test_publish_many_rejects_bad_items_with_typed_errors(client: natsrs.Client) -> None:
    with pytest.raises(errors.BadSubjectError):
        await client.publish_many([("ok", b"1"), ("bad subject", b"2")])
    with pytest.raises(TypeError):
        await client.publish_many([("ok", "not bytes")])
    with pytest.raises(TypeError):
        await client.publish_many([("only-subject",)])
    sub = await client.subscribe("batch.after")
    await client.publish_many([("batch.after", b"fine")])
    msg = await w(sub.next())
    assert msg is not None and msg.payload == b"fine"


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
