"""Fault tests: cluster failover, a silent network partition, lame duck mode, slow
consumers, and the reconnect callbacks during a real outage.

Every server is a real ``nats-server`` on free loopback ports, started through the
``nats_server_factory`` fixture (so teardown stops each one by the pid it started).
Every wait is bounded by ``asyncio.wait_for``; each test takes a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

import pytest

import natsrs
from cluster import (
    cluster_configs,
    distinct_free_ports,
    port_of,
    start_cluster,
    wait_cluster_formed,
)
from helpers import WAIT, w
from natsrs import ConnectOptions, Event, EventKind, ReconnectToServer, Subscriber
from natsrs._server import NatsServer, free_port

if TYPE_CHECKING:
    from conftest import ClientFactory, ServerFactory

pytestmark = pytest.mark.timeout(45)

T = TypeVar("T")
"""Bound of one ordinary wait (a message, a flush, a reconnect)."""


def pool_ports(pool: Sequence[natsrs.Server]) -> dict[int, natsrs.Server]:
    return {port_of(server.addr): server for server in pool}


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = WAIT, interval: float = 0.05
) -> T:
    """Run ``check`` until it returns without raising; on timeout re-raise its last error.

    For things that settle asynchronously (cluster interest propagation, gossip).
    """
    last: BaseException | None = None

    async def attempts() -> T:
        nonlocal last
        while True:
            try:
                return await check()
            except (AssertionError, natsrs.errors.Error) as exc:
                last = exc
            await asyncio.sleep(interval)

    try:
        return await asyncio.wait_for(attempts(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"not true within {timeout}s; last failure: {last!r}") from last


class EventLog:
    """Every event of ``client.events()``, with the monotonic time it reached the loop."""

    def __init__(self, client: natsrs.Client) -> None:
        self.entries: list[tuple[float, Event]] = []
        self._changed = asyncio.Event()
        self._stream = client.events()
        self._task = asyncio.ensure_future(self._follow())

    async def _follow(self) -> None:
        async for event in self._stream:
            self.entries.append((time.monotonic(), event))
            self._changed.set()

    @property
    def kinds(self) -> list[EventKind]:
        return [event.kind for _, event in self.entries]

    async def wait_for(
        self, kind: EventKind, *, start: int = 0, timeout: float = WAIT
    ) -> tuple[int, float, Event]:
        """The first event of ``kind`` at index ``start`` or later: (index, time, event)."""

        async def scan() -> tuple[int, float, Event]:
            while True:
                for index in range(start, len(self.entries)):
                    at, event = self.entries[index]
                    if event.kind == kind:
                        return index, at, event
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(
                f"no {kind} within {timeout}s (from index {start}); events: {self.describe()}"
            ) from None

    def describe(self) -> str:
        if not self.entries:
            return "[]"
        t0 = self.entries[0][0]
        return "[" + ", ".join(f"+{at - t0:.3f}s {event!r}" for at, event in self.entries) + "]"

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


@pytest.fixture
async def event_logs(
    client_factory: ClientFactory,
) -> AsyncIterator[Callable[[natsrs.Client], EventLog]]:
    """``event_logs(client)`` follows a client's events; the followers stop in teardown
    (before ``client_factory`` closes the clients)."""
    logs: list[EventLog] = []

    def follow(client: natsrs.Client) -> EventLog:
        log = EventLog(client)
        logs.append(log)
        return log

    yield follow
    for log in logs:
        await log.aclose()


@pytest.fixture
async def background(client_factory: ClientFactory) -> AsyncIterator[list[asyncio.Future[None]]]:
    """Tasks a test starts; cancelled in teardown, before the clients are closed."""
    tasks: list[asyncio.Future[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


# -- cluster ----------------------------------------------------------------------------


def kill(server: NatsServer) -> None:
    """Crash the server (SIGKILL to the pid it started), then reap it."""
    os.kill(server.pid, signal.SIGKILL)
    server.stop()


async def start_echo_responder(
    nc: natsrs.Client, subject: str, background: list[asyncio.Future[None]]
) -> Subscriber:
    sub = await w(nc.subscribe(subject))

    async def serve() -> None:
        async for msg in sub:
            await msg.respond(b"echo:" + msg.payload)

    background.append(asyncio.ensure_future(serve()))
    await w(nc.flush())
    return sub


async def assert_request_works(nc: natsrs.Client, subject: str, payload: bytes) -> None:
    """A request gets its echo (retried while the cluster propagates interest)."""

    async def attempt() -> None:
        reply = await w(nc.request(subject, payload, timeout=0.5))
        assert reply.payload == b"echo:" + payload

    await eventually(attempt)


async def assert_delivered(
    publisher: natsrs.Client, sub: Subscriber, subject: str, payload: bytes
) -> None:
    """``publisher`` reaches ``sub`` (retried while the cluster propagates interest)."""

    async def attempt() -> None:
        await w(publisher.publish(subject, payload))
        await w(publisher.flush())
        msg = await w(sub.next(timeout=0.3))
        assert msg is not None, "subscription ended"
        assert msg.payload == payload

    await eventually(attempt)


# -- 1. cluster failover ----------------------------------------------------------------


async def test_cluster_failover_after_the_connected_node_is_killed(
    nats_server_factory: ServerFactory,
    client_factory: ClientFactory,
    event_logs: Callable[[natsrs.Client], EventLog],
    background: list[asyncio.Future[None]],
) -> None:
    servers = start_cluster(nats_server_factory, 3)
    await wait_cluster_formed(servers)
    node_a = servers[0]

    nc = await client_factory(node_a.url)
    log = event_logs(nc)
    info = nc.server_info
    assert info is not None and info.port == node_a.port

    # The cluster announced the other nodes: the pool discovered them.
    async def discovered() -> dict[int, natsrs.Server]:
        pool = pool_ports(await w(nc.server_pool()))
        assert set(pool) == {server.port for server in servers}, pool
        return pool

    pool = await eventually(discovered)
    assert not pool[node_a.port].is_discovered
    assert pool[node_a.port].did_connect
    for server in servers[1:]:
        assert pool[server.port].is_discovered, pool[server.port]

    # Find the node the client is on, from the client and from the servers' side.
    connected = next(server for server in servers if server.port == info.port)
    assert [server.connz()["num_connections"] for server in servers] == [1, 0, 0]
    survivor = next(server for server in servers if server is not connected)

    # A responder and a publisher on a node that survives.
    other = await client_factory(survivor.url, ignore_discovered_servers=True)
    await start_echo_responder(other, "faults.cluster.echo", background)
    sub = await w(nc.subscribe("faults.cluster.sub"))
    await w(nc.flush())
    await assert_delivered(other, sub, "faults.cluster.sub", b"before")
    await assert_request_works(nc, "faults.cluster.echo", b"before")

    start = len(log.entries)
    killed_at = time.monotonic()
    kill(connected)
    index, disconnected_at, _ = await log.wait_for(EventKind.DISCONNECTED, start=start)
    _, connected_at, _ = await log.wait_for(EventKind.CONNECTED, start=index + 1)
    assert disconnected_at - killed_at < 3.0, log.describe()
    assert connected_at - killed_at < 5.0, log.describe()

    info = nc.server_info
    assert info is not None
    assert info.port in {server.port for server in servers if server is not connected}
    assert nc.connection_state == natsrs.ConnectionState.CONNECTED

    # The subscription made before the crash and request/reply both keep working.
    await assert_delivered(other, sub, "faults.cluster.sub", b"after")
    await assert_request_works(nc, "faults.cluster.echo", b"after")


async def test_cluster_nodes_announced_after_connecting_join_the_pool(
    nats_server_factory: ServerFactory, client_factory: ClientFactory
) -> None:
    """The client is on node A before the other nodes exist; the INFO update that the
    cluster sends when they join must add them to the pool as discovered servers, make
    `server_info` current, and say so with a DISCOVERED_SERVERS event. (async-nats 0.51
    ignores such an INFO; natsrs patches it, vendor/async-nats/PATCHES.md.)"""
    configs = cluster_configs(distinct_free_ports(3))
    node_a = nats_server_factory(configs[0])
    kinds: list[natsrs.EventKind] = []

    async def on_event(event: natsrs.Event) -> None:
        kinds.append(event.kind)

    nc = await client_factory(node_a.url, natsrs.ConnectOptions().event_callback(on_event))
    assert set(pool_ports(await w(nc.server_pool()))) == {node_a.port}

    servers = [node_a] + [nats_server_factory(config) for config in configs[1:]]
    await wait_cluster_formed(servers)

    async def discovered() -> None:
        pool = pool_ports(await w(nc.server_pool()))
        assert set(pool) == {server.port for server in servers}, pool
        assert all(pool[server.port].is_discovered for server in servers[1:]), pool
        info = nc.server_info
        assert info is not None
        announced = {int(url.rsplit(":", 1)[1]) for url in info.connect_urls}
        assert announced == {server.port for server in servers}, announced
        assert {u.port for u in nc.discovered_servers} == {s.port for s in servers[1:]}

    await eventually(discovered, timeout=3.0)
    assert natsrs.EventKind.DISCOVERED_SERVERS in kinds


# -- 2. silent partition ----------------------------------------------------------------


class FreezableProxy:
    """A loopback TCP proxy to ``127.0.0.1:target_port`` that can go silent.

    :meth:`freeze` models a network partition: nothing more is forwarded in either
    direction and new connections are accepted but never answered, yet no socket is
    closed, so neither side sees an error or an end of stream.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections = 0
        self.frozen = False
        self._thaw = asyncio.Event()  # never set: a frozen pump waits on it forever
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Future[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def freeze(self) -> None:
        self.frozen = True

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        if self.frozen:
            await self._thaw.wait()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.append(up_writer)
        self.connections += 1
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pump(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while True:
                data = await source.read(65536)
                if self.frozen:
                    await self._thaw.wait()
                    return
                if not data:
                    sink.close()
                    return
                sink.write(data)
                await sink.drain()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await w(self._server.wait_closed(), 2.0)


@pytest.fixture
async def proxies() -> AsyncIterator[Callable[[int], Awaitable[FreezableProxy]]]:
    made: list[FreezableProxy] = []

    async def make(target_port: int) -> FreezableProxy:
        proxy = FreezableProxy(target_port)
        await proxy.start()
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        await proxy.close()


async def test_silent_partition_is_detected_by_pings_and_the_client_moves_on(
    nats_server_factory: ServerFactory,
    client_factory: ClientFactory,
    event_logs: Callable[[natsrs.Client], EventLog],
    proxies: Callable[[int], Awaitable[FreezableProxy]],
) -> None:
    ping_interval = 0.5
    first, second = start_cluster(nats_server_factory, 2)
    await wait_cluster_formed([first, second])
    proxy = await proxies(first.port)

    options = (
        ConnectOptions()
        .retain_servers_order()
        .ignore_discovered_servers()
        .ping_interval(ping_interval)
        # A partitioned proxy never answers a new connection either.
        .connection_timeout(1.0)
    )
    nc = await client_factory([proxy.url, second.url], options)  # type: ignore[arg-type]
    log = event_logs(nc)
    info = nc.server_info
    assert info is not None and info.port == first.port  # through the proxy
    assert proxy.connections == 1
    sub = await w(nc.subscribe("faults.partition"))
    await w(nc.publish("faults.partition", b"before"))
    msg = await w(sub.next())
    assert msg is not None and msg.payload == b"before"

    start = len(log.entries)
    frozen_at = time.monotonic()
    proxy.freeze()
    # Two unanswered pings: about 3 x ping_interval after the last traffic.
    index, disconnected_at, _ = await log.wait_for(EventKind.DISCONNECTED, start=start)
    assert disconnected_at - frozen_at <= 4.0, log.describe()
    _, connected_at, _ = await log.wait_for(EventKind.CONNECTED, start=index + 1)
    info = nc.server_info
    assert info is not None and info.port == second.port, log.describe()
    assert proxy.connections == 1  # it never got through the frozen proxy again

    await w(nc.publish("faults.partition", b"after"))
    msg = await w(sub.next())
    assert msg is not None and msg.payload == b"after"
    fresh = await w(nc.subscribe("faults.partition.fresh"))
    await w(nc.publish("faults.partition.fresh", b"fresh"))
    msg = await w(fresh.next())
    assert msg is not None and msg.payload == b"fresh"
    assert connected_at > disconnected_at


# -- 3. lame duck mode ------------------------------------------------------------------


async def test_lame_duck_mode_moves_the_client_to_another_node(
    nats_server_factory: ServerFactory,
    client_factory: ClientFactory,
    event_logs: Callable[[natsrs.Client], EventLog],
    background: list[asyncio.Future[None]],
) -> None:
    lame_duck = 'lame_duck_duration: "30s"\nlame_duck_grace_period: "1s"\n'
    node_a, node_b = start_cluster(nats_server_factory, 2, extra=[lame_duck])
    await wait_cluster_formed([node_a, node_b])

    nc = await client_factory(node_a.url)
    log = event_logs(nc)
    info = nc.server_info
    assert info is not None and info.port == node_a.port
    assert node_b.port in pool_ports(await w(nc.server_pool()))  # discovered

    other = await client_factory(node_b.url, ignore_discovered_servers=True)
    await start_echo_responder(other, "faults.ldm.echo", background)
    sub = await w(nc.subscribe("faults.ldm.sub"))
    await w(nc.flush())
    await assert_request_works(nc, "faults.ldm.echo", b"before")

    start = len(log.entries)
    node_a.lame_duck()
    ldm_index, _, _ = await log.wait_for(EventKind.LAME_DUCK_MODE, start=start)
    index, _, _ = await log.wait_for(EventKind.DISCONNECTED, start=ldm_index + 1, timeout=8.0)
    await log.wait_for(EventKind.CONNECTED, start=index + 1)
    info = nc.server_info
    assert info is not None and info.port == node_b.port, log.describe()
    # The move was clean: no error on the way. (From the LAME_DUCK_MODE event on: the
    # CONNECTED of the first connection may reach a stream made just after connecting.)
    assert log.kinds[ldm_index:] == [
        EventKind.LAME_DUCK_MODE,
        EventKind.DISCONNECTED,
        EventKind.CONNECTED,
    ], log.describe()

    await assert_request_works(nc, "faults.ldm.echo", b"after")
    await assert_delivered(other, sub, "faults.ldm.sub", b"after")


# -- 4. slow consumer -------------------------------------------------------------------


async def test_slow_consumer_is_reported_with_the_sid_and_the_client_keeps_working(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    nc = await client_factory(nats_server.url, ConnectOptions().subscription_capacity(16))
    events = nc.events()
    slow = await w(nc.subscribe("faults.slow"))
    await w(nc.flush())

    total = 2000
    for i in range(total):
        await nc.publish("faults.slow", str(i).encode())
    await w(nc.flush())

    async def first_slow_consumer() -> natsrs.Event:
        async for event in events:
            if event.kind == EventKind.SLOW_CONSUMER:
                return event
        raise AssertionError("the event stream ended")

    event = await w(first_slow_consumer())
    assert event.sid == slow.sid
    assert not nc.is_closed
    assert nc.connection_state == natsrs.ConnectionState.CONNECTED

    # Read what the subscription kept: at most its capacity, in order, from the start.
    kept: list[int] = []
    with contextlib.suppress(natsrs.errors.TimeoutError):
        while True:
            msg = await w(slow.next(timeout=0.3))
            assert msg is not None
            kept.append(int(msg.payload))
    assert 1 <= len(kept) < total
    assert kept == sorted(kept)
    assert kept[0] == 0

    # The same subscription receives again, and the client still publishes and receives.
    await w(nc.publish("faults.slow", b"again"))
    msg = await w(slow.next())
    assert msg is not None and msg.payload == b"again"
    fresh = await w(nc.subscribe("faults.slow.fresh"))
    await w(nc.publish("faults.slow.fresh", b"fresh"))
    msg = await w(fresh.next())
    assert msg is not None and msg.payload == b"fresh"


# -- 5. reconnect-to-server callback on a real outage -----------------------------------


class Chooser:
    """A reconnect-to-server callback that records each call.

    Until :attr:`armed`, it answers ``None`` (default selection), so the initial connect
    goes where the pool says; then ``choose(servers, info)`` decides.
    """

    def __init__(
        self, choose: Callable[[list[natsrs.Server], natsrs.ServerInfo], ReconnectToServer | None]
    ) -> None:
        self.choose = choose
        self.armed = False
        self.calls: list[tuple[float, list[natsrs.Server], natsrs.ServerInfo]] = []

    def __call__(
        self, servers: list[natsrs.Server], info: natsrs.ServerInfo
    ) -> ReconnectToServer | None:
        if not self.armed:
            return None
        self.calls.append((time.monotonic(), servers, info))
        return self.choose(servers, info)


async def test_reconnect_callback_picks_the_server_and_its_delay_is_honoured(
    nats_server_factory: ServerFactory,
    client_factory: ClientFactory,
    event_logs: Callable[[natsrs.Client], EventLog],
) -> None:
    s1, s2 = nats_server_factory(), nats_server_factory()
    delay = 0.2
    chooser = Chooser(lambda servers, info: ReconnectToServer(s2.url, delay=delay))
    options = ConnectOptions().retain_servers_order().reconnect_to_server_callback(chooser)
    nc = await client_factory([s1.url, s2.url], options)  # type: ignore[arg-type]
    log = event_logs(nc)
    info = nc.server_info
    assert info is not None and info.port == s1.port
    sub = await w(nc.subscribe("faults.choose"))
    chooser.armed = True

    start = len(log.entries)
    s1.stop()
    index, disconnected_at, _ = await log.wait_for(EventKind.DISCONNECTED, start=start)
    _, connected_at, _ = await log.wait_for(EventKind.CONNECTED, start=index + 1)

    info = nc.server_info
    assert info is not None and info.port == s2.port, log.describe()
    gap = connected_at - disconnected_at
    assert gap >= delay * 0.9, f"gap {gap:.3f}s < delay {delay}s; {log.describe()}"

    # The callback saw the pool's metadata and the last server's INFO.
    assert chooser.calls, "the callback was not called"
    called_at, servers, last_info = chooser.calls[0]
    assert connected_at - called_at >= delay * 0.9
    pool = pool_ports(servers)
    assert set(pool) == {s1.port, s2.port}, servers
    assert pool[s1.port].did_connect
    assert pool[s1.port].failed_attempts == 0  # lost, but no attempt against it failed yet
    assert not pool[s1.port].is_discovered
    assert not pool[s2.port].did_connect
    assert pool[s2.port].failed_attempts == 0
    assert last_info.port == s1.port
    assert len(chooser.calls) == 1, chooser.calls  # S2 answered the first attempt

    after = pool_ports(await w(nc.server_pool()))
    assert after[s2.port].did_connect

    await w(nc.publish("faults.choose", b"after"))
    msg = await w(sub.next())
    assert msg is not None and msg.payload == b"after"


async def test_reconnect_callback_choosing_a_server_outside_the_pool_falls_back(
    nats_server_factory: ServerFactory,
    client_factory: ClientFactory,
    event_logs: Callable[[natsrs.Client], EventLog],
) -> None:
    s1, s2 = nats_server_factory(), nats_server_factory()
    stranger = f"nats://127.0.0.1:{free_port()}"
    chooser = Chooser(lambda servers, info: ReconnectToServer(stranger, delay=0.05))
    options = ConnectOptions().retain_servers_order().reconnect_to_server_callback(chooser)
    nc = await client_factory([s1.url, s2.url], options)  # type: ignore[arg-type]
    log = event_logs(nc)
    info = nc.server_info
    assert info is not None and info.port == s1.port
    chooser.armed = True

    start = len(log.entries)
    s1.stop()
    index, _, _ = await log.wait_for(EventKind.DISCONNECTED, start=start)
    _, _, error = await log.wait_for(EventKind.CLIENT_ERROR, start=index + 1)
    assert error.message is not None and "not in pool" in error.message, log.describe()
    await log.wait_for(EventKind.CONNECTED, start=index + 1)
    info = nc.server_info
    assert info is not None and info.port == s2.port, log.describe()
    assert chooser.calls
    assert stranger not in {server.addr for server in await w(nc.server_pool())}

    sub = await w(nc.subscribe("faults.stranger"))
    await w(nc.publish("faults.stranger", b"ok"))
    msg = await w(sub.next())
    assert msg is not None and msg.payload == b"ok"


async def test_reconnect_callback_with_zero_delay_to_a_dead_server_does_not_spin(
    nats_server_factory: ServerFactory,
    client_factory: ClientFactory,
    event_logs: Callable[[natsrs.Client], EventLog],
) -> None:
    s1, s2 = nats_server_factory(), nats_server_factory()
    hammer = 1.5
    target = {"url": s1.url}
    chooser = Chooser(lambda servers, info: ReconnectToServer(target["url"], delay=0))
    options = ConnectOptions().retain_servers_order().reconnect_to_server_callback(chooser)
    nc = await client_factory([s1.url, s2.url], options)  # type: ignore[arg-type]
    log = event_logs(nc)
    info = nc.server_info
    assert info is not None and info.port == s1.port
    chooser.armed = True

    start = len(log.entries)
    s1.stop()
    index, _, _ = await log.wait_for(EventKind.DISCONNECTED, start=start)
    wall_start, cpu_start = time.monotonic(), time.process_time()
    await asyncio.sleep(hammer)
    wall, cpu = time.monotonic() - wall_start, time.process_time() - cpu_start
    calls = len(chooser.calls)
    assert not any(e.kind == EventKind.CONNECTED for _, e in log.entries[index:])

    target["url"] = s2.url
    await log.wait_for(EventKind.CONNECTED, start=index + 1)
    info = nc.server_info
    assert info is not None and info.port == s2.port

    assert calls >= 2, "the callback was not retried"
    # A zero delay against a server that just failed waits >= 50 ms: about 30 calls.
    assert calls <= 2 * hammer / 0.05 + 5, f"{calls} calls in {wall:.2f}s"
    assert cpu < 0.6 * wall, f"{cpu:.2f}s of CPU in {wall:.2f}s ({calls} callback calls)"
    pool = pool_ports(await w(nc.server_pool()))
    assert pool[s2.port].did_connect
