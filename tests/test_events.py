"""Connection events and reconnection control against a real server that goes away."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
import warnings
from typing import TYPE_CHECKING

import pytest

import natsrs
from helpers import SLOW_WAIT, assert_works, w
from natsrs import EventKind
from natsrs.errors import ConnectionClosedError, InvalidServerAddressError, ServerPoolError

if TYPE_CHECKING:
    from conftest import ClientFactory, ServerFactory
    from natsrs._server import NatsServer


async def next_kind(events: natsrs.EventStream, kind: EventKind) -> list[natsrs.Event]:
    """Events up to and including the first of ``kind``."""
    seen: list[natsrs.Event] = []
    while True:
        event = await w(events.__anext__(), SLOW_WAIT)
        seen.append(event)
        if event.kind == kind:
            return seen


async def test_event_callback_sees_disconnect_and_reconnect_on_the_loop_thread(
    nats_server: NatsServer,
) -> None:
    loop_thread = threading.get_ident()
    seen: list[tuple[EventKind, bool]] = []

    async def on_event(event: natsrs.Event) -> None:
        seen.append((event.kind, threading.get_ident() == loop_thread))

    nc = await natsrs.connect(nats_server.url, event_callback=on_event)
    events = nc.events()
    nats_server.stop()
    await next_kind(events, EventKind.DISCONNECTED)
    nats_server.start()
    await next_kind(events, EventKind.CONNECTED)
    await nc.close()
    await next_kind(events, EventKind.CLOSED)
    await asyncio.sleep(0.1)
    kinds = [kind for kind, _ in seen]
    assert kinds[0] == EventKind.CONNECTED
    assert kinds.index(EventKind.DISCONNECTED) < kinds.index(EventKind.CONNECTED, 1)
    assert kinds[-1] == EventKind.CLOSED
    assert all(on_loop for _, on_loop in seen)


async def test_subscriptions_and_outage_publishes_survive_a_server_restart(
    nats_server: NatsServer, client: natsrs.Client
) -> None:
    events = client.events()
    sub = await client.subscribe("events.restart")
    counted = await client.subscribe("events.counted")
    await counted.unsubscribe_after(5)
    for i in range(2):
        await client.publish("events.counted", str(i).encode())
    await client.flush()
    for _ in range(2):
        assert await w(counted.next(), SLOW_WAIT) is not None

    nats_server.stop()
    await next_kind(events, EventKind.DISCONNECTED)
    for i in range(3):
        await client.publish("events.restart", f"during-{i}".encode())
    nats_server.start()
    await next_kind(events, EventKind.CONNECTED)

    got = [(await w(sub.next(), SLOW_WAIT)) for _ in range(3)]
    assert [m.payload for m in got if m] == [b"during-0", b"during-1", b"during-2"]
    await client.publish("events.restart", b"after")
    msg = await w(sub.next(), SLOW_WAIT)
    assert msg is not None and msg.payload == b"after"

    # unsubscribe_after(5) had 3 messages left across the reconnect.
    for i in range(6):
        await client.publish("events.counted", str(i).encode())
    remaining = []
    while (m := await w(counted.next(), SLOW_WAIT)) is not None:
        remaining.append(m.payload)
    assert remaining == [b"0", b"1", b"2"]


async def test_events_iterator_loses_nothing_when_read_slowly(
    nats_server: NatsServer, client: natsrs.Client
) -> None:
    events = client.events()
    for _ in range(3):
        await client.force_reconnect()
        await asyncio.sleep(0.3)
    await client.close()
    kinds = []
    async for event in events:
        kinds.append(event.kind)
        await asyncio.sleep(0.01)
    assert kinds.count(EventKind.CONNECTED) == 3
    assert kinds.count(EventKind.DISCONNECTED) == 3
    assert kinds[-1] == EventKind.CLOSED


async def test_a_raising_callback_is_logged_reported_and_harmless(
    nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: natsrs.Event) -> None:
        raise RuntimeError(f"callback bug on {event.kind}")

    caplog.set_level(logging.ERROR, logger="natsrs")
    nc = await natsrs.connect(nats_server.url, event_callback=broken)
    events = nc.events()
    await nc.force_reconnect()
    seen = await next_kind(events, EventKind.CLIENT_ERROR)
    assert any("callback bug" in (e.message or "") for e in seen)
    await assert_works(nc)
    assert "callback bug" in caplog.text and "RuntimeError" in caplog.text
    await nc.close()


async def test_max_reconnects_closes_the_client_for_real(nats_server: NatsServer) -> None:
    nc = await natsrs.connect(
        nats_server.url, max_reconnects=2, reconnect_delay_callback=lambda attempts: 0.05
    )
    events = nc.events()
    sub = await nc.subscribe("events.max")
    nats_server.stop()
    seen = await next_kind(events, EventKind.CLOSED)
    assert EventKind.DISCONNECTED in [e.kind for e in seen]
    assert nc.connection_state == natsrs.ConnectionState.CLOSED
    assert await w(sub.next(), SLOW_WAIT) is None
    with pytest.raises(ConnectionClosedError):
        await nc.publish("events.max", b"x")
    with pytest.raises(ConnectionClosedError):
        await nc.request("events.max", b"x")


async def test_reconnect_delay_callback_is_called_with_attempts_and_honoured(
    nats_server: NatsServer,
) -> None:
    attempts: list[int] = []

    def delay(n: int) -> float:
        attempts.append(n)
        return 0.3

    nc = await natsrs.connect(nats_server.url, reconnect_delay_callback=delay)
    events = nc.events()
    attempts.clear()
    nats_server.stop()
    await next_kind(events, EventKind.DISCONNECTED)
    started = time.monotonic()
    await asyncio.sleep(1.0)
    nats_server.start()
    await next_kind(events, EventKind.CONNECTED)
    elapsed = time.monotonic() - started
    assert attempts[:3] == [1, 2, 3]
    # At 0.3 s per attempt, ~1 s of outage cannot take more than a handful of attempts.
    assert len(attempts) <= int(elapsed / 0.3) + 2
    await nc.close()


async def test_reconnect_to_server_callback_chooses_the_server(
    nats_server_factory: ServerFactory,
) -> None:
    first = nats_server_factory()
    second = nats_server_factory()
    calls: list[list[natsrs.Server]] = []

    async def choose(
        servers: list[natsrs.Server], info: natsrs.ServerInfo
    ) -> natsrs.ReconnectToServer:
        calls.append(servers)
        return natsrs.ReconnectToServer(second.url, delay=0)

    nc = await natsrs.connect(
        [first.url, second.url],
        retain_servers_order=True,
        reconnect_to_server_callback=choose,
    )
    assert nc.server_info is not None
    events = nc.events()
    await nc.force_reconnect()
    await next_kind(events, EventKind.CONNECTED)
    assert nc.server_info is not None and nc.server_info.port == second.port
    assert calls and {s.addr for s in calls[-1]} == {first.url, second.url}
    await nc.close()


async def test_server_pool_is_listed_and_replaced_with_checks(
    nats_server_factory: ServerFactory, client_factory: ClientFactory
) -> None:
    first = nats_server_factory()
    second = nats_server_factory()
    nc = await client_factory(first.url)
    pool = await nc.server_pool()
    assert [s.addr for s in pool] == [first.url]
    assert pool[0].did_connect and not pool[0].is_discovered
    await nc.set_server_pool([first.url, second.url])
    assert {s.addr for s in await nc.server_pool()} == {first.url, second.url}
    with pytest.raises(ServerPoolError):
        await nc.set_server_pool([])
    with pytest.raises(ServerPoolError):
        await nc.set_server_pool([first.url, f"ws://127.0.0.1:{second.port}"])
    with pytest.raises(InvalidServerAddressError):
        await nc.set_server_pool(["nats://bad host:-1"])
    # Still working, pool unchanged by the rejected calls.
    assert {s.addr for s in await nc.server_pool()} == {first.url, second.url}
    sub = await nc.subscribe("events.pool")
    await nc.publish("events.pool", b"ok")
    assert await w(sub.next(), SLOW_WAIT) is not None


async def test_credentials_in_pool_urls_are_redacted(nats_server: NatsServer) -> None:
    nc = await natsrs.connect(f"nats://someone:hunter2@127.0.0.1:{nats_server.port}")
    pool = await nc.server_pool()
    assert "hunter2" not in repr(pool) and "hunter2" not in pool[0].addr
    await nc.close()


async def test_callbacks_reach_the_loop_as_awaitables_that_make_their_coroutine_late() -> None:
    """The engine's threads hand each callback to the loop as a ``Later``: awaited, it
    runs the callback; dropped unawaited (its loop closed first), nothing warns."""
    from natsrs._callbacks import Later

    async def double(x: int) -> int:
        return 2 * x

    assert await Later(double, 21) == 42
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Later(double, 1)
        gc.collect()


async def test_close_returns_after_the_event_callback_has_seen_closed(
    nats_server: NatsServer,
) -> None:
    seen: list[EventKind] = []

    async def slow_callback(event: natsrs.Event) -> None:
        await asyncio.sleep(0.05)
        seen.append(event.kind)

    nc = await w(natsrs.ConnectOptions().event_callback(slow_callback).connect(nats_server.url))
    await w(nc.close())
    assert seen[-1] == EventKind.CLOSED


async def test_close_from_inside_the_event_callback_does_not_wait_for_itself(
    nats_server: NatsServer,
) -> None:
    closed = asyncio.Event()

    async def closing_callback(event: natsrs.Event) -> None:
        if event.kind == EventKind.DISCONNECTED:
            started = time.monotonic()
            await nc.close()
            assert time.monotonic() - started < 2.0
            closed.set()

    nc = await w(natsrs.ConnectOptions().event_callback(closing_callback).connect(nats_server.url))
    await w(nc.force_reconnect())
    await w(closed.wait())
    assert nc.is_closed


async def test_a_lost_connection_is_an_unexpected_eof_an_asked_reconnect_is_not(
    nats_server: NatsServer, client: natsrs.Client
) -> None:
    events = client.events()
    await w(client.force_reconnect())
    asked = await w(events.__anext__())
    assert asked.kind == EventKind.DISCONNECTED and asked.error is None
    while (await w(events.__anext__())).kind != EventKind.CONNECTED:
        pass
    nats_server.stop()
    lost = await w(events.__anext__())
    assert lost.kind == EventKind.DISCONNECTED
    assert type(lost.error) is natsrs.errors.UnexpectedEOF
