"""The publish outbox: order, barriers, backpressure and `pending_data_size`.

A tight publish loop queues into the client's outbox and a tokio task hands the messages
to the engine; a lone publish goes to the engine directly. These tests pin what users
rely on across both paths: nothing is lost or reordered, operations that come after
publishes (flush, request, subscribe, unsubscribe, close) stay after them, and a stalled
connection makes `await publish` wait instead of growing memory.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

import natsrs
from helpers import SLOW_WAIT, next_msg, responder, until_idle, w, wait_until
from natsrs import errors
from natsrs._server import NatsServer

if TYPE_CHECKING:
    from conftest import ClientFactory

COUNT = 20_000


async def test_a_burst_arrives_complete_and_in_order(
    nats_server: NatsServer, client: natsrs.Client
) -> None:
    reader = await natsrs.connect(nats_server.url)
    sub = await reader.subscribe("ob.order.>")
    await reader.flush()
    for i in range(COUNT):
        # Two subjects alternating in runs, so the cached subject changes too.
        await client.publish(f"ob.order.{(i // 7) % 2}", i.to_bytes(4, "big"))
    await client.flush()
    got: list[int] = []
    while len(got) < COUNT:
        got.extend(int.from_bytes(m.payload, "big") for m in await w(sub.next_batch(4096)))
    assert got == list(range(COUNT))
    await reader.close()


async def test_flush_returns_only_after_every_queued_publish_reached_the_server(
    nats_server: NatsServer, client: natsrs.Client
) -> None:
    """The server routes everything before the flush's round trip to ``reader``, whose
    own round trip then brings all of it in: afterwards nothing needs waiting for."""
    reader = await natsrs.connect(nats_server.url)
    sub = await reader.subscribe("ob.flush2")
    await reader.flush()
    for _ in range(COUNT):
        await client.publish("ob.flush2", b"y")
    await client.flush()
    await reader.flush()
    assert len(await until_idle(sub, idle=0)) == COUNT
    await reader.close()


async def test_a_request_goes_out_after_the_publishes_before_it(
    nats_server: NatsServer, client: natsrs.Client
) -> None:
    """The responder counts what it saw on one connection, where order is the server's."""
    peer = await natsrs.connect(nats_server.url)
    seen = 0

    async def count(msg: natsrs.Message) -> None:
        nonlocal seen
        if msg.subject == "ob.req.data":
            seen += 1
        else:
            await msg.respond(str(seen).encode())

    await peer.subscribe("ob.req.*", cb=count)
    await peer.flush()
    for _ in range(5000):
        await client.publish("ob.req.data", b"d")
    reply = await client.request("ob.req.count", b"", timeout=5)
    assert reply.payload == b"5000"
    await peer.close()


async def test_publish_then_subscribe_then_unsubscribe_keep_their_order(
    client: natsrs.Client,
) -> None:
    for _ in range(3000):
        await client.publish("ob.late", b"before")
    sub = await client.subscribe("ob.late")
    # Nothing published before the subscription reaches it.
    await client.flush()
    assert await until_idle(sub, idle=0) == []
    for _ in range(10):
        await client.publish("ob.late", b"after")
    await sub.unsubscribe(limit=10)
    await client.flush()
    payloads = [(await next_msg(sub)).payload for _ in range(10)]
    assert payloads == [b"after"] * 10


async def test_close_sends_what_was_published_before_it(
    nats_server: NatsServer, client: natsrs.Client
) -> None:
    writer = await natsrs.connect(nats_server.url)
    sub = await client.subscribe("ob.close")
    await client.flush()
    for i in range(COUNT):
        await writer.publish("ob.close", i.to_bytes(4, "big"))
    await writer.close()
    got = 0
    while got < COUNT:
        got += len(await w(sub.next_batch(4096)))
    assert got == COUNT


async def test_a_stalled_connection_makes_publish_wait_not_grow(
    nats_server: NatsServer,
) -> None:
    """With the server gone the engine's channel fills, then the outbox: publish waits."""
    nc = await natsrs.connect(
        nats_server.url, client_capacity=8, reconnect_delay_callback=lambda _n: 0.05
    )
    reader_url = nats_server.url
    nats_server.stop()
    await wait_until(lambda: not nc.is_connected)
    published = 0

    async def publish_all() -> None:
        nonlocal published
        for _ in range(100_000):
            await nc.publish("ob.stall", b"z" * 64)
            published += 1

    task = asyncio.ensure_future(publish_all())
    await asyncio.sleep(0.5)
    assert not task.done(), "publish never waited while the connection was down"
    # Bounded by the engine's channel, one taken batch and the outbox limits.
    assert published < 20_000
    assert 0 < nc.pending_data_size <= (published + 1) * 64
    nats_server.start()
    reader = await natsrs.connect(reader_url)
    await wait_until(lambda: nc.is_connected, timeout=10)
    await w(task, timeout=30)
    await w(nc.flush(), timeout=10)
    assert nc.pending_data_size == 0
    await reader.close()
    await nc.close()


async def test_pending_data_size_counts_unsent_payload(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    nc = await client_factory(
        nats_server.url, client_capacity=8, reconnect_delay_callback=lambda _n: 0.05
    )
    assert nc.pending_data_size == 0
    for _ in range(1000):
        await w(nc.publish("ob.pending", b"p" * 100))
    await w(nc.flush())
    assert nc.pending_data_size == 0

    # With the server gone nothing is sent: what the engine cannot take stays counted,
    # in whole payloads of 100 bytes (headers and subjects are not payload).
    nats_server.stop()
    await wait_until(lambda: not nc.is_connected)
    published = 0

    async def publish_until_it_waits() -> None:
        nonlocal published
        for _ in range(100_000):
            await nc.publish("ob.pending", b"p" * 100, headers={"X-Not": "payload"})
            published += 1

    task = asyncio.ensure_future(publish_until_it_waits())
    await wait_until(lambda: nc.pending_data_size > 0)
    pending = nc.pending_data_size
    assert pending % 100 == 0 and 0 < pending <= (published + 1) * 100, (pending, published)
    nats_server.start()
    await w(task, SLOW_WAIT * 3)
    await w(nc.flush(), SLOW_WAIT)
    assert nc.pending_data_size == 0


async def test_a_bad_message_in_a_burst_fails_alone(client: natsrs.Client) -> None:
    sub = await client.subscribe("ob.bad")
    await client.flush()
    for _ in range(100):
        await client.publish("ob.bad", b"ok")
    with pytest.raises(errors.BadSubjectError):
        await client.publish("ob bad", b"no")
    with pytest.raises(errors.MaxPayloadError):
        await client.publish("ob.bad", b"x" * (client.max_payload + 1))
    with pytest.raises(errors.MaxPayloadError):
        # Headers count against max_payload, as on the wire.
        await client.publish("ob.bad", b"x" * (client.max_payload - 8), headers={"k": "v" * 16})
    await client.publish("ob.bad", b"last")
    await client.flush()
    got = [m.payload for m in await w(sub.next_batch(1000))]
    while len(got) < 101:
        got.extend(m.payload for m in await w(sub.next_batch(1000)))
    assert got == [b"ok"] * 100 + [b"last"]


async def test_replies_and_headers_ride_the_outbox_in_order(client: natsrs.Client) -> None:
    sub = await client.subscribe("ob.mixed")
    await client.flush()
    for i in range(2000):
        if i % 3 == 0:
            await client.publish("ob.mixed", b"plain")
        elif i % 3 == 1:
            await client.publish("ob.mixed", b"reply", reply=f"ob.inbox.{i}")
        else:
            await client.publish("ob.mixed", b"headers", headers={"n": str(i)})
    await client.flush()
    got: list[natsrs.Message] = []
    while len(got) < 2000:
        got.extend(await w(sub.next_batch(2000)))
    for i, msg in enumerate(got):
        if i % 3 == 0:
            assert msg.payload == b"plain" and msg.reply == ""
        elif i % 3 == 1:
            assert msg.payload == b"reply" and msg.reply == f"ob.inbox.{i}"
        else:
            assert msg.payload == b"headers" and msg.headers is not None
            assert msg.headers["n"] == str(i)


async def test_large_payloads_arrive_intact_and_in_order(client: natsrs.Client) -> None:
    sub = await client.subscribe("ob.large")
    await client.flush()
    blobs = [bytes([i]) * (64 * 1024 + i) for i in range(32)]
    for blob in blobs:
        await client.publish("ob.large", blob)
    await client.flush()
    got = [(await next_msg(sub)).payload for _ in blobs]
    assert got == blobs


async def test_responses_to_a_burst_of_requests(client: natsrs.Client) -> None:
    async with responder(client, "ob.echo"):
        replies = await w(
            asyncio.gather(*(client.request("ob.echo", str(i).encode()) for i in range(500)))
        )
    assert [r.payload for r in replies] == [b"re:" + str(i).encode() for i in range(500)]


async def test_a_cancelled_waiting_publish_does_not_hold_up_later_flushes(
    nats_server: NatsServer,
) -> None:
    """A lone publish that had to wait for the engine's channel and was then cancelled
    counts as settled: a later flush must not wait for it forever."""
    nc = await natsrs.connect(
        nats_server.url, client_capacity=4, reconnect_delay_callback=lambda _n: 0.05
    )
    try:
        nats_server.stop()
        await wait_until(lambda: not nc.is_connected)
        waited = False
        for _ in range(64):
            # Spaced out, so each is a lone publish that goes to the engine directly.
            await asyncio.sleep(0.002)
            try:
                await asyncio.wait_for(nc.publish("ob.cancel", b"c"), 0.1)
            except asyncio.TimeoutError:
                waited = True
                break
        assert waited, "the engine's channel never filled up"
        nats_server.start()
        await wait_until(lambda: nc.is_connected, timeout=10)
        await w(nc.flush(timeout=5), timeout=10)
        assert nc.pending_data_size == 0
    finally:
        await nc.close()
