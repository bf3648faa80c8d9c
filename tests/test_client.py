"""Client behaviour against a real nats-server: pub/sub, request/reply, lifecycle."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

import natsrs
from helpers import (
    WAIT,
    assert_no_message,
    next_msg,
    responder,
    until_end,
    until_idle,
    w,
    wait_until,
)
from natsrs import ConnectionState, ConnectOptions, HeaderMap, Message, Subscriber
from natsrs._server import NatsServer
from natsrs.errors import ConnectionClosedError, NoRespondersError

if TYPE_CHECKING:
    from conftest import ClientFactory, ServerFactory


async def collect(sub: Subscriber, count: int) -> list[Message]:
    return [await next_msg(sub) for _ in range(count)]


def connection_ids(server: NatsServer) -> set[int]:
    return {conn["cid"] for conn in server.connz()["connections"]}


def cid(client: natsrs.Client) -> int:
    info = client.server_info
    assert info is not None
    return info.client_id


# -- publish / subscribe -----------------------------------------------------------------


async def test_published_message_reaches_subscriber(client: natsrs.Client) -> None:
    sub = await w(client.subscribe("greet.joe"))
    await w(client.publish("greet.joe", b"hello"))

    msg = await next_msg(sub)

    assert msg.subject == "greet.joe"
    assert msg.payload == b"hello"
    assert msg.reply == ""
    assert msg.headers is None
    assert msg.status is None
    assert msg.length >= len(b"hello")
    assert sub.subject == "greet.joe"
    assert sub.queue == ""
    assert isinstance(sub.sid, int)


async def test_wildcard_subscriptions_receive_matching_subjects(client: natsrs.Client) -> None:
    one_token = await w(client.subscribe("greet.*"))
    any_tokens = await w(client.subscribe("greet.>"))
    await w(client.publish("greet.a", b"1"))
    await w(client.publish("greet.b.c", b"2"))

    assert [m.subject for m in await collect(any_tokens, 2)] == ["greet.a", "greet.b.c"]
    assert (await next_msg(one_token)).subject == "greet.a"
    await assert_no_message(one_token)


async def test_publish_with_reply_sets_the_reply_subject(client: natsrs.Client) -> None:
    sub = await w(client.subscribe("svc"))
    await w(client.publish("svc", b"q1", reply="answers.one"))
    await w(client.publish_with_reply("svc", "answers.two", b"q2"))

    first, second = await collect(sub, 2)

    assert (first.reply, first.payload) == ("answers.one", b"q1")
    assert (second.reply, second.payload) == ("answers.two", b"q2")


async def test_headers_round_trip_from_header_map(client: natsrs.Client) -> None:
    headers = HeaderMap()
    headers.append("X-Trace", "abc")
    headers.append("X-Multi", "one")
    headers.append("X-Multi", "two")
    sub = await w(client.subscribe("with.headers"))

    await w(client.publish("with.headers", b"body", headers=headers))
    msg = await next_msg(sub)

    assert msg.payload == b"body"
    assert msg.headers is not None
    assert msg.headers["X-Trace"] == "abc"
    assert msg.headers.get_all("X-Multi") == ["one", "two"]
    assert msg.headers.to_dict() == {"X-Trace": ["abc"], "X-Multi": ["one", "two"]}
    assert msg.length > len(b"body")


async def test_headers_round_trip_from_plain_dict(client: natsrs.Client) -> None:
    sub = await w(client.subscribe("with.headers"))

    await w(client.publish("with.headers", b"", headers={"X-One": "1", "X-Many": ["a", "b", "c"]}))
    msg = await next_msg(sub)

    assert msg.headers is not None
    assert msg.headers.to_dict() == {"X-One": ["1"], "X-Many": ["a", "b", "c"]}


async def test_header_names_keep_their_case(client: natsrs.Client) -> None:
    sub = await w(client.subscribe("with.headers"))

    await w(client.publish("with.headers", b"", headers={"X-MiXeD-Case": "v"}))
    msg = await next_msg(sub)

    assert msg.headers is not None
    assert list(msg.headers.keys()) == ["X-MiXeD-Case"]
    assert "x-mixed-case" not in msg.headers


async def test_publish_with_headers_methods_send_headers(client: natsrs.Client) -> None:
    sub = await w(client.subscribe("with.headers"))

    await w(client.publish_with_headers("with.headers", {"K": "v1"}, b"p1"))
    await w(
        client.publish_with_reply_and_headers("with.headers", "r.1", HeaderMap({"K": "v2"}), b"p2")
    )
    first, second = await collect(sub, 2)

    assert first.headers is not None and first.headers.get("K") == "v1"
    assert (first.payload, first.reply) == (b"p1", "")
    assert second.headers is not None and second.headers.get("K") == "v2"
    assert (second.payload, second.reply) == (b"p2", "r.1")


def test_header_map_is_multi_valued_ordered_and_case_sensitive() -> None:
    headers = HeaderMap({"A": "1", "B": ["2", "3"]})

    assert len(headers) == 2
    assert headers.get("B") == "2"
    assert headers.get_all("B") == ["2", "3"]
    assert headers.get("missing") is None
    assert headers.get("missing", "fallback") == "fallback"
    assert headers.get_all("missing") == []
    assert "a" not in headers

    headers.append("A", "4")
    headers.insert("B", "5")
    headers["C"] = "6"
    assert headers.get_all("A") == ["1", "4"]
    assert headers.get_all("B") == ["5"]
    assert headers["C"] == "6"
    del headers["C"]
    assert "C" not in headers

    assert headers.keys() == ["A", "B"]
    assert list(headers) == ["A", "B"]
    assert headers.values() == ["1", "5"]
    assert headers.items() == [("A", "1"), ("A", "4"), ("B", "5")]
    assert headers.to_dict() == {"A": ["1", "4"], "B": ["5"]}
    assert headers == HeaderMap({"A": ["1", "4"], "B": "5"})
    with pytest.raises(KeyError):
        headers["missing"]


# -- request / reply ---------------------------------------------------------------------


async def test_request_returns_the_responders_reply(client: natsrs.Client) -> None:
    async with responder(client, "svc.echo"):
        reply = await w(client.request("svc.echo", b"ping"))

    assert reply.payload == b"re:ping"
    assert reply.subject.startswith("_INBOX.")


async def test_request_carries_headers_to_the_responder(client: natsrs.Client) -> None:
    def handler(msg: Message) -> bytes:
        assert msg.headers is not None
        return msg.headers["X-Question"].encode()

    async with responder(client, "svc.headers", handler):
        reply = await w(client.request("svc.headers", b"", headers={"X-Question": "42?"}))

    assert reply.payload == b"42?"


async def test_request_without_responders_raises_no_responders(client: natsrs.Client) -> None:
    started = time.monotonic()
    with pytest.raises(NoRespondersError):
        await w(client.request("nobody.listens", b"?", timeout=3.0))
    # The server answers at once with status 503; no waiting for the timeout.
    assert time.monotonic() - started < 2.0


async def test_request_timeout_raises_timeout_error_that_is_builtin(
    client: natsrs.Client,
) -> None:
    # A subscriber that never answers (kept referenced: dropping it unsubscribes).
    silent = await w(client.subscribe("silent"))
    await w(client.flush())

    started = time.monotonic()
    with pytest.raises(natsrs.errors.TimeoutError) as caught:
        await w(client.request("silent", b"?", timeout=0.3))
    elapsed = time.monotonic() - started

    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, asyncio.TimeoutError)
    assert 0.25 <= elapsed < 3.0
    assert silent.subject == "silent"


async def test_request_timeout_accepts_timedelta(client: natsrs.Client) -> None:
    silent = await w(client.subscribe("silent"))  # kept: dropping it unsubscribes
    await w(client.flush())

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await w(client.request("silent", b"?", timeout=timedelta(milliseconds=200)))
    assert time.monotonic() - started < 3.0
    assert silent.subject == "silent"


async def test_request_with_custom_inbox_receives_reply_on_that_inbox(
    client: natsrs.Client,
) -> None:
    reply_subjects: list[str | None] = []

    def handler(msg: Message) -> bytes:
        reply_subjects.append(msg.reply)
        return b"ok"

    async with responder(client, "svc.inbox", handler):
        reply = await w(client.request("svc.inbox", b"", inbox="my.private.inbox"))

    assert reply.payload == b"ok"
    assert reply.subject == "my.private.inbox"
    assert reply_subjects == ["my.private.inbox"]


async def test_concurrent_requests_each_get_their_own_reply(client: natsrs.Client) -> None:
    async with responder(client, "svc.many"):
        replies = await w(
            asyncio.gather(*(client.request("svc.many", str(i).encode()) for i in range(50)))
        )

    assert [r.payload for r in replies] == [f"re:{i}".encode() for i in range(50)]


# -- queue groups and ending subscriptions -------------------------------------------------


async def test_queue_group_spreads_messages_across_its_members(client: natsrs.Client) -> None:
    first = await w(client.subscribe("jobs", queue="workers"))
    second = await w(client.queue_subscribe("jobs", "workers"))
    watcher = await w(client.subscribe("jobs"))  # outside the group: sees every message
    await w(client.flush())
    assert first.queue == second.queue == "workers"

    for i in range(200):
        await w(client.publish("jobs", str(i).encode()))
    await w(client.flush())
    await collect(watcher, 200)
    got_first, got_second = await w(asyncio.gather(until_idle(first), until_idle(second)), 2 * WAIT)

    assert got_first, "the first member received nothing"
    assert got_second, "the second member received nothing"
    payloads = sorted(int(m.payload) for m in got_first + got_second)
    assert payloads == list(range(200)), "each message goes to exactly one member"


async def test_client_drain_delivers_in_flight_messages_then_closes(
    client: natsrs.Client,
) -> None:
    sub = await w(client.subscribe("drained"))
    for i in range(5):
        await w(client.publish("drained", str(i).encode()))
    await w(client.flush())

    await w(client.drain())
    # Messages that had reached the client before the drain are still delivered.
    received = await w(until_end(sub))

    assert [m.payload for m in received] == [str(i).encode() for i in range(5)]
    assert client.is_closed
    assert client.connection_state == ConnectionState.CLOSED
    with pytest.raises(ConnectionClosedError):
        await w(client.publish("drained", b"late"))


async def test_flush_returns_after_the_server_has_every_message(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    before = nats_server.varz()["in_msgs"]
    for _ in range(100):
        await w(client.publish("flushed", b"x"))

    await w(client.flush())

    assert nats_server.varz()["in_msgs"] - before >= 100


async def test_flush_and_rtt_are_a_ping_and_publish_nothing(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    for _ in range(10):
        await w(client.publish("flushed", b"x"))
        await w(client.flush())
    assert await w(client.rtt()) >= 0

    # The server saw the 10 publishes and nothing else from this client.
    (conn,) = [c for c in nats_server.connz()["connections"] if c["cid"] == cid(client)]
    assert conn["in_msgs"] == 10
    assert conn["out_msgs"] == 0
    assert client.statistics().out_messages == 10
    assert client.stats["out_msgs"] == 10


async def test_flush_needs_no_permission(
    nats_server_factory: ServerFactory, client_factory: ClientFactory
) -> None:
    # A user who may publish to "bar" only, and subscribe to nothing.
    server = nats_server_factory(
        'authorization { users = [ { user: "bar", password: "pw", '
        'permissions: { publish: "bar", subscribe: "nothing.at.all" } } ] }'
    )
    errors: list[natsrs.Event] = []

    async def on_event(event: natsrs.Event) -> None:
        if event.kind == natsrs.EventKind.SERVER_ERROR:
            errors.append(event)

    url = f"nats://bar:pw@127.0.0.1:{server.port}"
    nc = await client_factory(url, natsrs.ConnectOptions().event_callback(on_event))
    await w(nc.publish("bar", b"allowed"))
    await w(nc.flush(timeout=2), 5)
    assert await w(nc.rtt(), 5) >= 0
    await w(nc.flush(timeout=2), 5)
    assert errors == [], [e.message for e in errors]


# -- close -------------------------------------------------------------------------------

CLOSED_CALLS: dict[str, Callable[[natsrs.Client], Awaitable[object]]] = {
    "publish": lambda c: c.publish("x", b"payload"),
    "publish_with_reply": lambda c: c.publish_with_reply("x", "r", b""),
    "publish_with_headers": lambda c: c.publish_with_headers("x", {"K": "v"}, b""),
    "subscribe": lambda c: c.subscribe("x"),
    "queue_subscribe": lambda c: c.queue_subscribe("x", "q"),
    "request": lambda c: c.request("x", b"", timeout=1.0),
    "flush": lambda c: c.flush(),
}


@pytest.mark.parametrize("operation", sorted(CLOSED_CALLS))
async def test_every_call_after_close_raises_connection_closed(
    client: natsrs.Client, operation: str
) -> None:
    await w(client.close())

    with pytest.raises(ConnectionClosedError):
        await w(CLOSED_CALLS[operation](client))


async def test_close_sets_state_closed_and_is_idempotent(client: natsrs.Client) -> None:
    assert client.connection_state == ConnectionState.CONNECTED
    assert not client.is_closed

    await w(client.close())
    await w(client.close())

    assert client.connection_state == ConnectionState.CLOSED
    assert client.is_closed


async def test_closed_connection_disappears_from_connz(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    client_id = cid(client)
    assert client_id in connection_ids(nats_server)

    await w(client.close())

    await wait_until(lambda: client_id not in connection_ids(nats_server))


async def test_connect_after_close_connects_the_same_client_again(
    nats_server: NatsServer,
) -> None:
    kinds: list[natsrs.EventKind] = []

    async def on_event(event: natsrs.Event) -> None:
        kinds.append(event.kind)

    nc = await w(natsrs.ConnectOptions().event_callback(on_event).connect(nats_server.url))
    try:
        old_sub = await w(nc.subscribe("again"))
        await w(nc.close())
        first_id = cid(nc)

        assert await w(nc.connect()) is None

        assert nc.connection_state == ConnectionState.CONNECTED
        assert not nc.is_closed
        assert cid(nc) != first_id, "a new connection"
        with pytest.raises(natsrs.errors.NoRespondersError):
            await w(nc.request("missing", b"", timeout=1.0))
        # What belonged to the closed connection stays closed; new ones work.
        assert await w(old_sub.next()) is None
        sub = await w(nc.subscribe("again"))
        await w(nc.publish("again", b"new"))
        assert (await next_msg(sub)).payload == b"new"
        await wait_until(lambda: kinds.count(natsrs.EventKind.CONNECTED) == 2)
        assert kinds.count(natsrs.EventKind.CLOSED) == 1
    finally:
        await w(nc.close())
    assert nc.is_closed


async def test_connect_on_a_client_that_is_not_closed_does_nothing(
    client: natsrs.Client,
) -> None:
    before = cid(client)
    assert await w(client.connect()) is None
    assert cid(client) == before
    assert client.statistics().connects == 1


async def test_async_with_closes_the_client(nats_server: NatsServer) -> None:
    async with await w(natsrs.connect(nats_server.url)) as nc:
        assert nc.connection_state == ConnectionState.CONNECTED
        sub = await w(nc.subscribe("ctx"))
        await w(nc.publish("ctx", b"inside"))
        assert (await next_msg(sub)).payload == b"inside"

    assert nc.is_closed
    assert nc.connection_state == ConnectionState.CLOSED


async def test_async_with_closes_the_client_on_error(nats_server: NatsServer) -> None:
    nc = await w(natsrs.connect(nats_server.url))
    with pytest.raises(RuntimeError, match="boom"):
        async with nc:
            raise RuntimeError("boom")

    assert nc.is_closed


# -- properties --------------------------------------------------------------------------


async def test_new_inbox_is_unique_and_starts_with_the_inbox_prefix(
    client: natsrs.Client,
) -> None:
    first, second = client.new_inbox(), client.new_inbox()

    assert first.startswith("_INBOX.")
    assert len(first) > len("_INBOX.")
    assert first != second


async def test_statistics_count_messages_and_bytes(client: natsrs.Client) -> None:
    sub = await w(client.subscribe("counted"))
    await w(client.flush())
    before = client.statistics()

    for _ in range(3):
        await w(client.publish("counted", b"12345"))
    # Receiving them proves they were written; a flush would add its own probe message.
    await collect(sub, 3)
    after = client.statistics()

    assert after.out_messages - before.out_messages == 3
    assert after.in_messages - before.in_messages == 3
    assert after.out_bytes - before.out_bytes >= 15
    assert after.in_bytes - before.in_bytes >= 15
    assert after.connects == 1


async def test_server_info_describes_the_server(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    varz = nats_server.varz()
    info = client.server_info

    assert info is not None
    assert info.server_id == varz["server_id"]
    assert info.server_name == varz["server_name"]
    assert info.version == varz["version"]
    assert info.go == varz["go"]
    assert info.host == "127.0.0.1"
    assert info.port == nats_server.port
    assert info.max_payload == 1024 * 1024
    assert info.proto == 1
    assert info.headers is True
    assert info.auth_required is False
    assert info.tls_required is False
    assert info.jetstream is False
    assert info.lame_duck_mode is False
    assert info.client_id in connection_ids(nats_server)
    assert info.client_ip == "127.0.0.1"
    assert isinstance(info.connect_urls, list)
    assert info.cluster is None


async def test_max_payload_is_the_servers_limit(client: natsrs.Client) -> None:
    info = client.server_info
    assert info is not None
    assert client.max_payload == info.max_payload == 1024 * 1024


async def test_is_server_compatible_compares_with_the_server_version(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    version = nats_server.varz()["version"].split("-")[0]
    major, minor, patch = (int(part) for part in version.split("."))

    assert client.is_server_compatible(major, minor, patch)
    assert client.is_server_compatible(major, 0, 0)
    assert client.is_server_compatible(1, 99, 99)
    assert not client.is_server_compatible(major, minor, patch + 1)
    assert not client.is_server_compatible(major, minor + 1, 0)
    assert not client.is_server_compatible(major + 1, 0, 0)


async def test_timeout_property_reflects_request_timeout(nats_server: NatsServer) -> None:
    default = await w(natsrs.connect(nats_server.url))
    custom = await w(ConnectOptions().request_timeout(0.5).connect(nats_server.url))
    unbounded = await w(ConnectOptions().request_timeout(None).connect(nats_server.url))
    try:
        assert default.timeout == pytest.approx(10.0)
        assert custom.timeout == pytest.approx(0.5)
        assert unbounded.timeout is None
    finally:
        for nc in (default, custom, unbounded):
            await w(nc.close())


async def test_nats_py_state_flags_stats_and_rtt_on_the_native_client(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    assert client.is_connected and not client.is_reconnecting and not client.is_connecting
    assert not client.is_draining and client.last_error is None
    assert client.client_id is not None and client.client_ip
    sub = await w(client.subscribe("flags"))
    await w(client.publish("flags", b"abc"))
    await w(sub.next())
    stats = client.stats
    assert stats["in_msgs"] >= 1 and stats["out_msgs"] >= 1 and stats["reconnects"] == 0
    assert set(stats) == {
        "in_msgs",
        "out_msgs",
        "in_bytes",
        "out_bytes",
        "reconnects",
        "errors_received",
    }
    rtt = await w(client.rtt())
    assert 0 < rtt < 5
    events = client.events()
    await w(client.force_reconnect())
    while (await w(events.__anext__())).kind != natsrs.EventKind.CONNECTED:
        pass
    assert client.stats["reconnects"] == 1
    await w(client.drain())
    assert client.is_closed and not client.is_connected and not client.is_draining
