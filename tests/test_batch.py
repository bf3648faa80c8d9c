"""publish_many: many messages in one call (next_batch is in test_subscriber.py)."""

from __future__ import annotations

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
