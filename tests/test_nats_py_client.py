"""``natsrs.NATS`` (``natsrs.aio.client.Client``): its life cycle, properties and state,
and the client methods in nats-py's call shapes on both entry points.

Everything goes through ``import natsrs as nats`` against real ``nats-server``
processes from the fixtures, one per test on free ports. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import TYPE_CHECKING, Any

import pytest

import natsrs
import natsrs as nats
from cluster import wait_cluster_formed
from helpers import w, wait_until
from nats_py_helpers import (
    WAIT,
    Closeable,
    Recorder,
    assert_works,
    connect,
    nats_client,
    third_node,
    two_of_three_nodes,
)
from natsrs._server import NatsServer
from natsrs.aio.client import Client as AioClient
from natsrs.aio.client import ServerVersion
from natsrs.aio.msg import Msg

if TYPE_CHECKING:
    from conftest import ServerFactory

pytestmark = pytest.mark.timeout(60)


# -- NATS / natsrs.aio.client.Client --------------------------------------------------------


def test_nats_is_constructible_outside_a_running_loop() -> None:
    nc = nats.NATS()
    assert nats.NATS is AioClient
    assert not nc.is_connected and not nc.is_closed and not nc.is_reconnecting
    assert not nc.is_connecting and not nc.is_draining
    assert nc.connected_url is None and nc.servers == [] and nc.discovered_servers == []
    assert nc.client_id is None and nc.client_ip is None and nc.last_error is None
    assert nc.max_payload == 1048576 and nc.pending_data_size == 0
    assert nc.new_inbox().startswith("_INBOX.")
    assert repr(nc.connected_server_version) == "<nats server v0.0.0-unknown>"
    assert nc.stats == {
        "in_msgs": 0,
        "out_msgs": 0,
        "in_bytes": 0,
        "out_bytes": 0,
        "reconnects": 0,
        "errors_received": 0,
    }


async def test_nats_before_connect_and_after_close(nats_server: NatsServer) -> None:
    nc = nats.NATS()
    with pytest.raises(nats.errors.ConnectionClosedError):
        await nc.publish("compat.x", b"")
    with pytest.raises(nats.errors.ConnectionClosedError):
        await nc.flush()
    await w(nc.connect(nats_server.url))
    with pytest.raises(nats.errors.Error, match="already connected"):
        await w(nc.connect(nats_server.url))
    await w(nc.close())
    assert nc.is_closed and not nc.is_connected
    for call in (nc.publish("compat.x", b""), nc.flush(), nc.subscribe("compat.x")):
        with pytest.raises(nats.errors.ConnectionClosedError):
            await w(call)
    with pytest.raises(nats.errors.ConnectionClosedError):
        await w(nc.drain())
    await w(nc.close())  # idempotent
    await w(nc.force_reconnect())  # nothing to do, as in nats-py


async def test_nats_is_reusable_after_close_and_keeps_its_stats(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await nats_client(opened, nats_server.url, closed_cb=rec.closed_cb)
    await assert_works(nc)
    first = nc.stats
    assert first["in_msgs"] >= 1 and first["out_msgs"] >= 1
    await w(nc.close())
    assert rec.calls == ["closed"]  # close() returns after closed_cb ran
    await w(nc.connect(servers=[nats_server.url], closed_cb=rec.closed_cb))
    assert nc.is_connected and not nc.is_closed
    await assert_works(nc)
    assert nc.stats["out_msgs"] > first["out_msgs"]
    async with nc:
        await assert_works(nc)
    assert nc.is_closed and rec.calls == ["closed", "closed"]


async def test_nats_properties(nats_server_factory: ServerFactory, opened: list[Closeable]) -> None:
    server = nats_server_factory(
        "max_payload: 65536\nauthorization { user: alice, password: hunter2 }"
    )
    nc = await nats_client(opened, f"nats://alice:hunter2@127.0.0.1:{server.port}")
    assert nc.is_connected and not nc.is_closed and not nc.is_reconnecting
    url = nc.connected_url
    assert isinstance(url, urllib.parse.ParseResult)
    assert url.scheme == "nats" and url.hostname == "127.0.0.1" and url.port == server.port
    assert "hunter2" not in url.geturl()
    assert [u.port for u in nc.servers] == [server.port] and nc.discovered_servers == []
    assert "hunter2" not in repr(nc.servers) and "hunter2" not in repr(nc.server_pool)
    assert nc.max_payload == 65536
    (conn,) = server.connz()["connections"]
    assert nc.client_id == conn["cid"]
    assert nc.client_ip == "127.0.0.1"
    version = nc.connected_server_version
    assert isinstance(version, ServerVersion)
    assert f"{version.major}.{version.minor}.{version.patch}" == server.varz()["version"]
    assert nc.pending_data_size == 0 and nc.last_error is None
    assert set(nc.stats) == {
        "in_msgs",
        "out_msgs",
        "in_bytes",
        "out_bytes",
        "reconnects",
        "errors_received",
    }
    assert nc.options["connect_timeout"] == 2
    await w(nc.force_reconnect())
    await wait_until(lambda: nc.stats["reconnects"] == 1)


async def test_nats_connection_states(nats_server: NatsServer, opened: list[Closeable]) -> None:
    rec = Recorder()
    nc = nats.NATS()
    opened.append(nc)
    connecting = asyncio.ensure_future(nc.connect(nats_server.url, reconnect_time_wait=0.1))
    await asyncio.sleep(0)
    assert nc.is_connecting
    await w(connecting)
    assert not nc.is_connecting and nc.is_connected
    await w(nc.close())
    await w(nc.connect(nats_server.url, reconnect_time_wait=0.1, **rec.callbacks()))
    nats_server.stop()
    await rec.wait_for("disconnected")
    assert nc.is_reconnecting and not nc.is_connected and not nc.is_closed
    assert nc.connected_url is None
    with pytest.raises(nats.errors.ConnectionReconnectingError):
        await w(nc.drain())
    nats_server.start()
    await rec.wait_for("reconnected")
    assert nc.is_connected and not nc.is_reconnecting
    draining = asyncio.ensure_future(nc.drain())
    await asyncio.sleep(0)
    assert nc.is_draining and nc.is_connected
    await w(draining)
    assert nc.is_closed and not nc.is_draining and not nc.is_connected


async def test_connect_client_has_nats_py_server_properties(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    server = nats_server_factory("authorization { user: alice, password: hunter2 }")
    other = nats_server_factory("authorization { user: alice, password: hunter2 }")
    nc = await connect(opened, f"nats://alice:hunter2@127.0.0.1:{server.port}")
    assert isinstance(nc, natsrs.Client)
    url = nc.connected_url
    assert isinstance(url, urllib.parse.ParseResult)
    assert (url.scheme, url.hostname, url.port, url.username) == (
        "nats",
        "127.0.0.1",
        server.port,
        "***",
    )
    assert "hunter2" not in repr(url) and "hunter2" not in repr(nc.servers)
    assert [u.port for u in nc.servers] == [server.port] and nc.discovered_servers == []
    version = nc.connected_server_version
    assert isinstance(version, ServerVersion)
    assert f"{version.major}.{version.minor}.{version.patch}" == server.varz()["version"]

    # The pool is read again when set_server_pool's awaitable ends, and on a reconnect.
    await w(nc.set_server_pool([f"nats://alice:hunter2@127.0.0.1:{other.port}"]))
    assert [u.port for u in nc.servers] == [other.port]
    await w(nc.force_reconnect())
    await wait_until(lambda: getattr(nc.connected_url, "port", None) == other.port)
    await w(nc.close())
    assert nc.connected_url is None and [u.port for u in nc.servers] == [other.port]


async def test_connect_client_learns_discovered_servers_on_each_connection(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    ports, node_a, node_b = await two_of_three_nodes(nats_server_factory)
    nc = await connect(opened, node_a.url)
    assert [u.port for u in nc.discovered_servers] == [node_b.port]
    assert {u.port for u in nc.servers} == {node_a.port, node_b.port}
    node_c = third_node(nats_server_factory, ports)
    await wait_cluster_formed([node_a, node_b, node_c], timeout=10.0)
    await w(nc.force_reconnect())
    await wait_until(lambda: node_c.port in {u.port for u in nc.discovered_servers})
    await wait_until(lambda: nc.connected_url is not None)
    assert nc.connected_url.port in {node_a.port, node_b.port, node_c.port}


async def test_nats_set_server_pool_is_a_plain_call(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    first, second = nats_server_factory(), nats_server_factory()
    nc = await nats_client(opened, first.url)
    assert nc.set_server_pool([first.url, second.url]) is None  # type: ignore[func-returns-value]
    assert {u.port for u in nc.servers} == {first.port, second.port}
    with pytest.raises(nats.errors.ServerPoolError):
        nc.set_server_pool([])
    with pytest.raises(nats.errors.InvalidServerAddressError):
        nc.set_server_pool(["nats://bad host:-1"])
    nc.set_server_pool([second.url])
    rec = Recorder()
    await w(nc.close())
    await w(nc.connect(first.url, reconnected_cb=rec.reconnected_cb))
    nc.set_server_pool([second.url])
    await w(nc.force_reconnect())
    await rec.wait_for("reconnected")
    assert nc.connected_url is not None and nc.connected_url.port == second.port
    # The native client's set_server_pool is awaitable.
    native = await connect(opened, first.url)
    await w(native.set_server_pool([first.url, second.url]))


async def test_rtt_and_flush_timeouts(nats_server: NatsServer, opened: list[Closeable]) -> None:
    nc = await nats_client(opened, nats_server.url)
    rtt = await w(nc.rtt())
    assert isinstance(rtt, float) and 0 < rtt < WAIT
    await w(nc.flush(timeout=2))
    with pytest.raises(nats.errors.BadTimeoutError):
        await nc.flush(timeout=0)
    with pytest.raises(nats.errors.BadTimeoutError):
        await nc.rtt(timeout=-1)


# -- Client methods in nats-py's call shapes ------------------------------------------------


async def test_publish_in_nats_py_call_shapes(nc: Any) -> None:
    sub = await w(nc.subscribe("compat.pub"))
    await w(nc.publish("compat.pub"))
    await w(nc.publish("compat.pub", b"data"))
    await w(nc.publish("compat.pub", b"data", "compat.reply"))
    await w(nc.publish("compat.pub", b"data", "compat.reply", {"X-Key": "v"}))
    await w(nc.publish("compat.pub", payload=b"kw", reply="", headers={"A": "1"}))
    msgs = [await w(sub.next_msg()) for _ in range(5)]
    assert [m.data for m in msgs] == [b"", b"data", b"data", b"data", b"kw"]
    assert [m.reply for m in msgs][2:4] == ["compat.reply", "compat.reply"]
    assert msgs[0].reply == "" and msgs[4].reply == ""
    assert msgs[3].headers["X-Key"] == "v" and msgs[4].header["A"] == "1"


async def test_subscribe_with_queue_cb_future_and_max_msgs(nc: Any) -> None:
    queued = await w(nc.subscribe("compat.sub", "workers"))
    assert queued.subject == "compat.sub" and queued.queue == "workers"
    assert (await w(nc.subscribe("compat.sub", queue=""))).queue == ""

    got: list[bytes] = []
    done = asyncio.Event()

    async def cb(msg: Msg) -> None:
        got.append(msg.data)
        if len(got) == 3:
            done.set()

    await w(nc.subscribe("compat.cb", cb=cb))
    future: asyncio.Future[Msg] = asyncio.get_running_loop().create_future()
    await w(nc.subscribe("compat.future", future=future))
    limited = await w(nc.subscribe("compat.max", max_msgs=2))
    await w(nc.flush())
    for i in range(3):
        await w(nc.publish("compat.cb", str(i).encode()))
        await w(nc.publish("compat.max", str(i).encode()))
    await w(nc.publish("compat.future", b"first"))
    await w(done.wait())
    assert got == [b"0", b"1", b"2"]
    assert (await w(future)).data == b"first"
    assert [m.data async for m in limited.messages] == [b"0", b"1"]
    assert limited.delivered == 2


async def test_request_in_nats_py_call_shapes(nc: Any) -> None:
    async def echo(msg: Msg) -> None:
        value = (msg.headers.get("X-Key") or "") if msg.headers else ""
        await msg.respond(msg.data + value.encode())

    await w(nc.subscribe("compat.req", cb=echo))
    await w(nc.flush())
    assert (await w(nc.request("compat.req", b"a"))).data == b"a"
    assert (await w(nc.request("compat.req", b"b", 1.0))).data == b"b"
    assert (await w(nc.request("compat.req", b"c", 1.0, True))).data == b"c"
    assert (await w(nc.request("compat.req", b"d", 1.0, False, {"X-Key": "!"}))).data == b"d!"
    reply = await w(nc.request("compat.req", payload=b"e", timeout=1, old_style=True))
    assert reply.data == b"e"
    with pytest.raises(nats.errors.NoRespondersError):
        await w(nc.request("compat.nobody", b"", timeout=1))
    _kept = await w(nc.subscribe("compat.silent"))  # a dropped Subscriber unsubscribes
    with pytest.raises(nats.errors.TimeoutError):
        await w(nc.request("compat.silent", b"", timeout=0.2))


async def test_drain_new_inbox_and_flush(nc: Any) -> None:
    inbox = nc.new_inbox()
    assert inbox.startswith("_INBOX.") and inbox != nc.new_inbox()
    sub = await w(nc.subscribe(inbox))
    await w(nc.publish(inbox, b"x"))
    await w(nc.flush(5))
    assert (await w(sub.next_msg())).data == b"x"
    await w(nc.drain())
    assert nc.is_closed
    with pytest.raises(nats.errors.ConnectionClosedError):
        await nc.publish("compat.after", b"")
