"""How nats-py connects, reconnects and reports, as code written for it sees it: the
credentials of each server URL, which server comes next, how a failed first connect is
told apart (a server that answered wrongly, none listening, a handshake that timed out),
the callbacks a ``close()`` after it still owes, and the errors ``error_cb`` receives.

Real ``nats-server`` processes on free ports; a fake socket server only where a real one
cannot misbehave (no INFO, a malformed INFO, a handshake that never ends). Every wait is
bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import pytest

import natsrs
import natsrs as nats
from helpers import w, wait_until
from nats_py_helpers import Closeable, Recorder, assert_works, connect, nats_client
from natsrs._server import NatsServer, free_port

if TYPE_CHECKING:
    from conftest import ServerFactory

pytestmark = pytest.mark.timeout(60)

# Long enough that waiting it out would fail the test's bound: the next server must be
# tried at once.
LONG_WAIT = 30.0


def _user_server(factory: ServerFactory, user: str, password: str) -> NatsServer:
    return factory(f'authorization {{ user: "{user}", password: "{password}" }}')


def _with_userinfo(server: NatsServer, userinfo: str) -> str:
    return f"nats://{userinfo}@127.0.0.1:{server.port}"


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def fake_server(handler: Handler) -> AsyncIterator[str]:
    """A loopback socket server that runs ``handler`` for each connection; its URL."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield f"nats://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def _no_info(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(0.1)
    writer.close()


async def _truncated_info(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"INF")
    await asyncio.sleep(0.1)
    writer.close()


async def _malformed_info_json(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"INFO {\r\n")
    await asyncio.sleep(0.1)
    writer.close()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(1.5)
    writer.close()


# -- credentials: each server's own --------------------------------------------------------


@pytest.mark.parametrize("entry", ["connect", "NATS"])
async def test_each_server_is_sent_the_credentials_of_its_own_url(
    nats_server_factory: ServerFactory,
    opened: list[Closeable],
    entry: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="natsrs")
    first = _user_server(nats_server_factory, "alice", "a-secret")
    second = _user_server(nats_server_factory, "bob", "b-secret")
    rec = Recorder()
    servers = [_with_userinfo(first, "alice:a-secret"), _with_userinfo(second, "bob:b-secret")]
    make = connect if entry == "connect" else nats_client
    nc = await make(
        opened,
        servers,
        dont_randomize=True,
        reconnect_time_wait=0.2,
        max_reconnect_attempts=-1,
        **rec.callbacks(),
    )
    await assert_works(nc)
    first.stop()
    await rec.wait_for("reconnected", timeout=10)
    await assert_works(nc)
    assert not [e for e in rec.errors if isinstance(e, nats.errors.AuthorizationError)]
    # Neither URL's secret reaches the log, nor any error.
    seen = caplog.text + "".join(repr(e) + str(e) for e in rec.errors) + repr(nc)
    assert "a-secret" not in seen and "b-secret" not in seen


async def test_native_client_sends_each_server_its_own_url_credentials(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    first = _user_server(nats_server_factory, "alice", "a-secret")
    second = _user_server(nats_server_factory, "bob", "b-secret")
    opts = natsrs.ConnectOptions().retain_servers_order().max_reconnects(None)
    nc = await w(
        opts.connect(
            [_with_userinfo(first, "alice:a-secret"), _with_userinfo(second, "bob:b-secret")]
        )
    )
    opened.append(nc)
    first.stop()
    await wait_until(
        lambda: (
            nc.is_connected and nc.server_info is not None and nc.server_info.port == second.port
        ),
        timeout=10,
    )
    await assert_works_native(nc)


async def assert_works_native(nc: natsrs.Client) -> None:
    sub = await w(nc.subscribe("conformance.native"))
    await w(nc.publish("conformance.native", b"ok"))
    assert (await w(sub.next())).payload == b"ok"


async def test_a_token_url_and_a_user_url_each_get_their_own(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    first = nats_server_factory('authorization { token: "tok-one" }')
    second = _user_server(nats_server_factory, "carol", "c-secret")
    rec = Recorder()
    nc = await nats_client(
        opened,
        [_with_userinfo(first, "tok-one"), _with_userinfo(second, "carol:c-secret")],
        dont_randomize=True,
        reconnect_time_wait=0.2,
        **rec.callbacks(),
    )
    first.stop()
    await rec.wait_for("reconnected", timeout=10)
    await assert_works(nc)


# -- which server next -------------------------------------------------------------------


async def test_after_a_disconnect_the_next_server_is_tried_first(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    first, second = nats_server_factory(), nats_server_factory()
    rec = Recorder()
    nc = await nats_client(
        opened,
        [first.url, second.url],
        dont_randomize=True,
        reconnect_time_wait=LONG_WAIT,
        **rec.callbacks(),
    )
    assert nc.connected_url is not None and nc.connected_url.port == first.port
    first.stop()
    # Not the server that just went away, and not after reconnect_time_wait.
    await rec.wait_for("reconnected", timeout=10)
    assert nc.connected_url is not None and nc.connected_url.port == second.port


async def test_every_failed_first_connect_attempt_reaches_error_cb(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    dead = f"nats://127.0.0.1:{free_port()}"
    nc = await nats_client(
        opened,
        [dead, nats_server.url],
        dont_randomize=True,
        reconnect_time_wait=LONG_WAIT,
        **rec.callbacks(),
    )
    assert nc.is_connected
    assert len(rec.errors) == 1
    assert isinstance(rec.errors[0], nats.errors.NoServersError)


async def test_a_handshake_timeout_reaches_error_cb_as_a_plain_timeout(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    async with fake_server(_silent) as slow:
        nc = await nats_client(
            opened,
            [slow, nats_server.url],
            dont_randomize=True,
            connect_timeout=0.3,
            **rec.callbacks(),
        )
        assert nc.is_connected
    assert len(rec.errors) == 1
    assert type(rec.errors[0]) is asyncio.TimeoutError
    # natsrs's typed error stays reachable.
    assert isinstance(rec.errors[0].__cause__, nats.errors.ConnectTimeoutError)


async def test_max_reconnect_attempts_bounds_each_server_of_the_first_connect(
    opened: list[Closeable],
) -> None:
    rec = Recorder()
    dead = [f"nats://127.0.0.1:{free_port()}" for _ in range(2)]
    nc = nats.NATS()
    opened.append(nc)
    with pytest.raises(nats.errors.NoServersError):
        await w(
            nc.connect(dead, max_reconnect_attempts=1, reconnect_time_wait=0.05, **rec.callbacks()),
            10,
        )
    # Each server: the first attempt and one more.
    assert len(rec.errors) == 4
    assert isinstance(nc.last_error, nats.errors.NoServersError)


# -- a failed first connect: reached, or not ----------------------------------------------


@pytest.mark.parametrize("handler", [_no_info, _truncated_info, _malformed_info_json])
async def test_a_server_that_answers_wrongly_ends_connect_without_reconnecting(
    handler: Handler,
) -> None:
    rec = Recorder()
    nc = nats.NATS()
    async with fake_server(handler) as url:
        with pytest.raises(nats.errors.ConnectError) as raised:
            await w(nc.connect(url, allow_reconnect=False, **rec.callbacks()), 10)
    # The server was reached: not "no servers".
    assert not isinstance(raised.value, nats.errors.NoServersError)
    assert rec.errors == [raised.value]
    assert nc.last_error is raised.value


@pytest.mark.parametrize("handler", [_no_info, _malformed_info_json])
async def test_native_connect_types_a_server_that_answers_wrongly(handler: Handler) -> None:
    async with fake_server(handler) as url:
        with pytest.raises(nats.errors.ConnectError) as raised:
            await w(natsrs.connect(url), 10)
    assert not isinstance(raised.value, nats.errors.NoServersError)


async def test_nothing_listening_is_no_servers() -> None:
    with pytest.raises(nats.errors.NoServersError) as raised:
        await w(natsrs.connect(f"nats://127.0.0.1:{free_port()}"), 10)
    assert not isinstance(raised.value, nats.errors.ConnectTimeoutError)


async def test_unreachable_servers_are_retried_even_without_reconnecting(
    opened: list[Closeable],
) -> None:
    rec = Recorder()
    nc = nats.NATS()
    opened.append(nc)
    with pytest.raises(nats.errors.NoServersError):
        await w(
            nc.connect(
                f"nats://127.0.0.1:{free_port()}",
                allow_reconnect=False,
                max_reconnect_attempts=2,
                reconnect_time_wait=0.05,
                **rec.callbacks(),
            ),
            10,
        )
    assert len(rec.errors) == 3


async def test_a_handshake_timeout_ends_connect_and_close_still_runs_the_callbacks() -> None:
    rec = Recorder()
    nc = nats.NATS()
    async with fake_server(_silent) as url:
        with pytest.raises(asyncio.TimeoutError):
            await w(
                nc.connect(url, connect_timeout=0.3, allow_reconnect=False, **rec.callbacks()),
                10,
            )
    await w(nc.close())
    await w(nc.close())
    assert rec.calls.count("disconnected") == 1
    assert rec.calls[-2:] == ["disconnected", "closed"]
    assert nc.is_closed


# -- the pool ------------------------------------------------------------------------------


async def test_server_pool_shows_the_pool_just_set(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    first, second = nats_server_factory(), nats_server_factory()
    nc = await nats_client(opened, [first.url, second.url], dont_randomize=True)
    nc.set_server_pool([second.url])
    assert [s.uri.port for s in nc.server_pool] == [second.port]
    await asyncio.sleep(0.3)
    assert [s.uri.port for s in nc.server_pool] == [second.port]


@pytest.mark.parametrize("entry", ["connect", "NATS"])
async def test_a_server_list_mixing_websocket_and_plain_urls_is_refused(
    nats_server: NatsServer, entry: str
) -> None:
    servers = [nats_server.url, f"ws://127.0.0.1:{free_port()}"]
    with pytest.raises(nats.errors.ServerPoolError):
        if entry == "connect":
            await w(natsrs.connect(servers))
        else:
            await w(nats.NATS().connect(servers))


# -- a server's -ERR, as nats-py shows it -------------------------------------------------


async def test_a_permissions_violation_reads_as_in_nats_py(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    server = nats_server_factory(
        'authorization { users = [ { user: "u", password: "p", '
        'permissions: { subscribe: { deny: "conformance.denied" } } } ] }'
    )
    rec = Recorder()
    events: list[natsrs.Event] = []

    async def on_event(event: natsrs.Event) -> None:
        events.append(event)

    nc = await nats_client(
        opened,
        _with_userinfo(server, "u:p"),
        event_callback=on_event,
        **rec.callbacks(),
    )
    await w(nc.subscribe("conformance.denied"))
    error = await rec.wait_error(nats.errors.Error)
    assert str(error) == 'nats: permissions violation for subscription to "conformance.denied"'
    # natsrs's own event keeps the server's wording.
    await wait_until(lambda: any(e.kind == natsrs.EventKind.SERVER_ERROR for e in events))
    own = next(e for e in events if e.kind == natsrs.EventKind.SERVER_ERROR)
    assert "Permissions Violation" in str(own.error)


async def test_server_info_is_nats_py_info_dictionary(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    nc = nats.NATS()
    assert nc._server_info == {}
    opened.append(nc)
    await w(nc.connect(nats_server.url))
    info = nc._server_info
    assert info["port"] == nats_server.port
    assert info["max_payload"] == nc.max_payload
    assert {"server_id", "version", "headers", "proto"} <= set(info)
