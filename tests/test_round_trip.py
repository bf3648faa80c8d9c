"""flush() and rtt(): a round trip to the server that other clients cannot break, and
that the counters do not show as the user's messages."""

from __future__ import annotations

import natsrs
from conftest import ClientFactory
from helpers import next_msg, w
from natsrs._server import NatsServer


async def test_flush_and_publish_counts_only_the_users_messages(client: natsrs.Client) -> None:
    for n in range(10):
        await client.publish("counted", b"%d" % n)
        await w(client.flush())
    await w(client.rtt())
    assert client.stats["out_msgs"] == 10
    assert client.statistics().out_messages == 10
    assert client.stats["in_msgs"] == 0


async def test_flush_is_ordered_after_a_subscription(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    subscriber = await client_factory(nats_server.url)
    sub = await w(subscriber.subscribe("ordered"))
    await w(subscriber.flush())
    publisher = await client_factory(nats_server.url)
    await publisher.publish("ordered", b"x")
    await w(publisher.flush())
    assert (await next_msg(sub)).payload == b"x"


async def test_flush_works_without_echo_and_with_a_tap_elsewhere(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    """Without echo the probe is a request answered "no responders"; a tap on another
    subject does not stop it."""
    tap = await client_factory(nats_server.url)
    await w(tap.subscribe("elsewhere.>"))
    await w(tap.flush())
    quiet = await w(natsrs.ConnectOptions().no_echo().connect(nats_server.url))
    try:
        await w(quiet.flush(timeout=2), 5)
        assert await w(quiet.rtt(), 5) >= 0
        assert quiet.stats["out_msgs"] == 0
    finally:
        await w(quiet.close())


async def test_stats_bytes_are_payload_bytes_as_nats_py_counts(client: natsrs.Client) -> None:
    sub = await w(client.subscribe("bytes.x"))
    for _ in range(10):
        await client.publish("bytes.x", b"AA", headers={"X-Not": "counted"})
        await w(client.flush())
    for _ in range(10):
        await next_msg(sub)
    assert client.stats["out_bytes"] == 20
    assert client.stats["in_bytes"] == 20
    # The engine's own counters stay bytes on the wire.
    assert client.statistics().out_bytes > 20
