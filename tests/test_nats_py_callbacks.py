"""nats-py's six connection callbacks, driven by natsrs's connection events, and the
typed errors ``error_cb`` and ``last_error`` get.

Everything goes through ``import natsrs as nats`` against real ``nats-server``
processes from the fixtures, one per test on free ports. Every wait is bounded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import natsrs
import natsrs as nats
from cluster import wait_cluster_formed
from helpers import w
from nats_py_helpers import (
    Closeable,
    Recorder,
    connect,
    nats_client,
    third_node,
    two_of_three_nodes,
)
from natsrs._server import NatsServer

if TYPE_CHECKING:
    from conftest import ServerFactory

pytestmark = pytest.mark.timeout(60)


# -- connection callbacks -------------------------------------------------------------------


async def test_callbacks_on_outage_reconnect_and_close(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await connect(opened, nats_server.url, reconnect_time_wait=0.1, **rec.callbacks())
    nats_server.stop()
    await rec.wait_for("disconnected")
    nats_server.start()
    await rec.wait_for("reconnected")
    await w(nc.force_reconnect())
    await rec.wait_for("reconnected", 2)
    await w(nc.close())
    await rec.wait_for("closed")
    # The lost connection reaches error_cb as nats-py's UnexpectedEOF, before
    # disconnected_cb; the asked-for reconnect and the close do not.
    eofs = [e for e in rec.errors if isinstance(e, nats.errors.UnexpectedEOF)]
    assert len(eofs) == 1 and rec.errors[0] is eofs[0], rec.errors
    assert rec.calls.index("error") < rec.calls.index("disconnected"), rec.calls
    # error_cb also had the failed reconnect attempts (nats-py reports them too).
    assert [call for call in rec.calls if call != "error"] == [
        "disconnected",
        "reconnected",
        "disconnected",
        "reconnected",
        "disconnected",
        "closed",
    ], rec.calls


async def test_lame_duck_mode_cb(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    server = nats_server_factory('lame_duck_duration: "30s"\nlame_duck_grace_period: "1s"\n')
    rec = Recorder()
    await connect(opened, server.url, **rec.callbacks())
    server.lame_duck()
    await rec.wait_for("lame_duck")


async def test_server_errors_reach_error_cb_and_count_in_stats(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    server = nats_server_factory(
        "authorization { users = [{ user: u, password: p, "
        'permissions: { publish: { deny: ["compat.forbidden"] } } }] }'
    )
    rec = Recorder()
    nc = await nats_client(opened, server.url, user="u", password="p", **rec.callbacks())
    await w(nc.publish("compat.forbidden", b"x"))
    error = await rec.wait_error(nats.errors.Error)
    assert "permissions violation" in str(error).lower()
    assert nc.stats["errors_received"] >= 1
    assert nc.is_connected


async def test_discovered_server_cb_reports_servers_learned_on_reconnect(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    ports, node_a, node_b = await two_of_three_nodes(nats_server_factory)
    rec = Recorder()
    nc = await nats_client(opened, node_a.url, **rec.callbacks())
    assert [u.port for u in nc.discovered_servers] == [node_b.port]
    assert {u.port for u in nc.servers} == {node_a.port, node_b.port}

    node_c = third_node(nats_server_factory, ports)
    await wait_cluster_formed([node_a, node_b, node_c], timeout=10.0)
    # async-nats 0.51 learns servers from the INFO of a new connection only.
    await w(nc.force_reconnect())
    await rec.wait_for("reconnected")
    await rec.wait_for("discovered")
    assert node_c.port in {u.port for u in nc.discovered_servers}
    assert rec.calls.count("discovered") == 1


# -- errors are typed by kind ----------------------------------------------------------------


@pytest.mark.parametrize("entry", ["connect", "NATS"])
async def test_an_auth_failure_on_reconnect_reaches_error_cb_as_authorization_error(
    entry: str, nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    server = nats_server_factory('authorization { token: "s3cret" }')
    tokens = iter(["s3cret"])

    def token() -> str:
        # The first connect gets the right token, every reconnect a wrong one.
        return next(tokens, "wrong")

    rec = Recorder()
    events: list[natsrs.Event] = []
    options = {"token": token, "reconnect_time_wait": 0.1, **rec.callbacks()}
    nc: Any
    if entry == "connect":
        nc = await connect(opened, server.url, event_callback=events.append, **options)
    else:
        nc = await nats_client(opened, server.url, event_callback=events.append, **options)
    await w(nc.force_reconnect())
    error = await rec.wait_error(nats.errors.AuthorizationError)
    # The class comes from the kind of the event, which carries the same exception.
    assert type(error) is nats.errors.AuthorizationError
    carried = [event.error for event in events if event.error is not None]
    assert any(type(e) is nats.errors.AuthorizationError for e in carried), carried
    assert all(
        event.error is None
        for event in events
        if event.kind in (natsrs.EventKind.CONNECTED, natsrs.EventKind.DISCONNECTED)
    )
    last = nc.last_exception if entry == "connect" else nc.last_error
    assert isinstance(last, nats.errors.AuthorizationError)


async def test_failed_reconnects_are_connect_errors_and_the_limit_no_servers_error(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await nats_client(
        opened,
        nats_server.url,
        max_reconnect_attempts=1,
        reconnect_time_wait=0.1,
        **rec.callbacks(),
    )
    nats_server.stop()
    await rec.wait_for("closed", timeout=10)
    # The failed attempt is a connection error; giving up is NoServersError, which nats-py
    # only records (last_error) and never gives to error_cb.
    assert type(rec.errors[0]) is nats.errors.UnexpectedEOF, rec.errors
    assert rec.errors[1:], rec.calls
    for error in rec.errors[1:]:
        assert isinstance(error, nats.errors.ConnectError), rec.errors
        assert not isinstance(error, nats.errors.NoServersError), rec.errors
    assert type(nc.last_error) is nats.errors.NoServersError


async def test_losing_the_first_server_reaches_the_next_one_first(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    """nats-py's rotation: the server the client connected to goes behind the others,
    so after losing it the next one is tried first (no failed attempt on the dead one),
    and error_cb hears only of the lost connection."""
    first, second = nats_server_factory(), nats_server_factory()
    rec = Recorder()
    nc = await connect(opened, [first.url, second.url], dont_randomize=True, **rec.callbacks())
    first.stop()
    await rec.wait_for("reconnected")
    assert nc.connected_url is not None and nc.connected_url.port == second.port
    assert [type(e) for e in rec.errors] == [nats.errors.UnexpectedEOF], rec.errors


async def test_connect_after_close_on_the_native_client_owes_the_callbacks_again(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    """``nats.connect()``'s client, closed and connected again: the second connection
    is a first connection to the callbacks (no ``reconnected_cb``), and its close
    reports ``disconnected_cb`` and ``closed_cb`` once more."""
    rec = Recorder()
    nc = await connect(opened, nats_server.url, **rec.callbacks())
    await w(nc.close())
    assert rec.calls == ["disconnected", "closed"]

    await w(nc.connect())
    assert nc.is_connected
    with pytest.raises(nats.errors.NoRespondersError):
        await w(nc.request("missing", b"", timeout=1.0))
    await w(nc.close())
    assert rec.calls == ["disconnected", "closed", "disconnected", "closed"]
