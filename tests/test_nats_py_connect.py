"""nats-py's ``connect`` keywords, URL forms and defaults, on both entry points
(``nats.connect()`` and ``nats.NATS().connect()``).

Everything goes through ``import natsrs as nats`` against real ``nats-server``
processes from the fixtures, one per test on free ports. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

import pytest

import natsrs
import natsrs as nats
from helpers import w, wait_until
from nats_py_helpers import (
    Closeable,
    Recorder,
    assert_works,
    connect,
    connz_names,
    nats_client,
)
from natsrs._server import NatsServer, free_port
from natsrs.aio.msg import Msg

if TYPE_CHECKING:
    from conftest import ServerFactory

pytestmark = pytest.mark.timeout(60)


# -- connect: every keyword ---------------------------------------------------------------


async def test_connect_takes_every_nats_py_keyword_and_returns_the_native_client(
    nats_server: NatsServer, opened: list[Closeable], caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    caplog.set_level(logging.WARNING, logger="natsrs")
    nc = await connect(
        opened,
        servers=[nats_server.url],
        **rec.callbacks(),
        name="every-keyword",
        pedantic=False,
        verbose=False,
        allow_reconnect=True,
        connect_timeout=2,
        reconnect_time_wait=2,
        max_reconnect_attempts=60,
        ping_interval=120,
        max_outstanding_pings=2,
        dont_randomize=False,
        flusher_queue_size=1024,
        no_echo=False,
        tls=None,
        tls_hostname=None,
        tls_handshake_first=False,
        user=None,
        password=None,
        token=None,
        drain_timeout=30,
        signature_cb=None,
        user_jwt_cb=None,
        user_credentials=None,
        nkeys_seed=None,
        nkeys_seed_str=None,
        inbox_prefix=b"_INBOX",
        pending_size=2 * 1024 * 1024,
        flush_timeout=None,
        reconnect_to_server_handler=None,
        skip_subject_validation=False,
    )
    assert isinstance(nc, natsrs.Client)
    await assert_works(nc)
    assert "every-keyword" in connz_names(nats_server)
    # At nats-py's defaults, only drain_timeout is reported: it is NATS.drain()'s option.
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "drain_timeout" in warned[0], warned


async def test_natsrs_option_names_still_work_and_mix_with_nats_py_keywords(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await connect(
        opened, nats_server.url, name="mixed", request_timeout=0.2, error_cb=rec.error_cb
    )
    assert nc.timeout == pytest.approx(0.2)
    _kept = await w(nc.subscribe("compat.silent"))  # a dropped Subscriber unsubscribes
    started = time.monotonic()
    with pytest.raises(nats.errors.TimeoutError):
        await w(nc.request("compat.silent", b""))
    assert time.monotonic() - started < 2.0
    plain = await connect(opened, nats_server.url, name="plain", no_echo=True)
    await assert_works(await connect(opened, nats_server.url))
    assert {"mixed", "plain"} <= set(connz_names(nats_server))
    assert isinstance(plain, natsrs.Client)


async def test_unknown_and_conflicting_keywords_are_type_errors(nats_server: NatsServer) -> None:
    with pytest.raises(TypeError, match="unexpected keyword"):
        await w(nats.connect(nats_server.url, error_cb=None, no_such_option=1))
    with pytest.raises(TypeError, match="connect_timeout"):
        await w(nats.connect(nats_server.url, connect_timeout=1, connection_timeout=1))
    with pytest.raises(TypeError, match="max_reconnect_attempts"):
        await w(nats.connect(nats_server.url, max_reconnect_attempts=3, max_reconnects=3))
    with pytest.raises(TypeError, match="unexpected keyword"):
        await w(nats.NATS().connect(nats_server.url, no_such_option=1))


@pytest.mark.parametrize(
    "name",
    [
        "error_cb",
        "disconnected_cb",
        "closed_cb",
        "discovered_server_cb",
        "reconnected_cb",
        "lame_duck_mode_cb",
    ],
)
async def test_the_six_callbacks_must_be_coroutine_functions(
    nats_server: NatsServer, name: str
) -> None:
    def plain(*args: object) -> None:
        return None

    with pytest.raises(nats.errors.InvalidCallbackTypeError):
        await w(nats.connect(nats_server.url, **{name: plain}))
    nc = nats.NATS()
    with pytest.raises(nats.errors.InvalidCallbackTypeError):
        await w(nc.connect(nats_server.url, **{name: plain}))
    assert not nc.is_connected
    assert nats_server.connz()["num_connections"] == 0


async def test_name_and_no_echo(nats_server: NatsServer, opened: list[Closeable]) -> None:
    nc = await connect(opened, nats_server.url, name="quiet", no_echo=True, error_cb=None)
    other = await connect(opened, nats_server.url)
    sub = await w(nc.subscribe("compat.echo"))
    await w(nc.flush())
    await w(nc.publish("compat.echo", b"mine"))
    await w(other.publish("compat.echo", b"theirs"))
    msg = await w(sub.next_msg())
    assert msg.data == b"theirs"
    with pytest.raises(nats.errors.TimeoutError):
        await sub.next_msg(timeout=0.3)
    assert "quiet" in connz_names(nats_server)


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("pedantic", True),
        ("verbose", True),
        ("max_outstanding_pings", 5),
        ("flusher_queue_size", 16),
        ("pending_size", 1024),
        ("flush_timeout", 1.0),
    ],
)
async def test_keywords_without_engine_counterpart_are_accepted_and_reported(
    nats_server: NatsServer,
    opened: list[Closeable],
    caplog: pytest.LogCaptureFixture,
    keyword: str,
    value: object,
) -> None:
    caplog.set_level(logging.WARNING, logger="natsrs")
    nc = await connect(opened, nats_server.url, **{keyword: value})
    await assert_works(nc)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"{keyword}={value!r} has no effect" in text for text in warned), warned


async def test_allow_reconnect_false_closes_on_the_first_disconnect(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await connect(opened, nats_server.url, allow_reconnect=False, **rec.callbacks())
    await assert_works(nc)
    nats_server.stop()
    await rec.wait_for("closed")
    assert rec.calls == ["error", "disconnected", "closed"]
    assert type(rec.errors[0]) is nats.errors.UnexpectedEOF
    assert nc.is_closed
    nats_server.start()
    await asyncio.sleep(0.5)
    assert nats_server.connz()["num_connections"] == 0
    with pytest.raises(nats.errors.ConnectionClosedError):
        await nc.publish("compat.after", b"")


async def test_connect_timeout_bounds_a_silent_server() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never sends INFO
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        started = time.monotonic()
        with pytest.raises(nats.errors.NoServersError):
            await w(nats.connect(f"nats://127.0.0.1:{port}", connect_timeout=0.3), 10)
        assert time.monotonic() - started < 2.5  # the engine's default would be 5 s
    finally:
        server.close()


async def test_reconnect_time_wait_and_max_reconnect_attempts(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await nats_client(
        opened,
        nats_server.url,
        max_reconnect_attempts=2,
        reconnect_time_wait=0.4,
        **rec.callbacks(),
    )
    nats_server.stop()
    started = time.monotonic()
    await rec.wait_for("closed", timeout=10)
    # Two attempts: the first at once, the second reconnect_time_wait later; then it stops.
    assert 0.35 <= time.monotonic() - started < 5.0
    # error_cb hears of the lost connection first (UnexpectedEOF), as with nats-py.
    assert rec.calls[:2] == ["error", "disconnected"] and rec.calls[-1] == "closed"
    assert type(rec.errors[0]) is nats.errors.UnexpectedEOF
    assert isinstance(nc.last_error, nats.errors.NoServersError)
    assert any(isinstance(e, nats.errors.ConnectError) for e in rec.errors), rec.errors
    assert nc.is_closed


async def test_unlimited_reconnect_attempts_keep_trying_until_the_server_is_back(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await connect(
        opened,
        nats_server.url,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.1,
        **rec.callbacks(),
    )
    sub = await w(nc.subscribe("compat.back"))
    nats_server.stop()
    await rec.wait_for("disconnected")
    await asyncio.sleep(1.0)  # ~10 failed attempts
    nats_server.start()
    await rec.wait_for("reconnected")
    await w(nc.publish("compat.back", b"again"))
    assert (await w(sub.next_msg())).data == b"again"
    assert not nc.is_closed


class PingCounter:
    """A loopback TCP proxy counting the ``PING`` lines the client sends."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.pings = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return f"nats://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        for source, sink, count in ((reader, up_writer, True), (up_reader, writer, False)):
            task = asyncio.ensure_future(self._pump(source, sink, count))
            self._tasks.add(task)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, count: bool
    ) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await source.read(65536):
                if count:
                    self.pings += data.count(b"PING\r\n")
                sink.write(data)
                await sink.drain()
            sink.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        for writer in self._writers:
            writer.close()


async def test_ping_interval_is_honoured(nats_server: NatsServer, opened: list[Closeable]) -> None:
    proxy = PingCounter(nats_server.port)
    url = await proxy.start()
    try:
        await connect(opened, url, ping_interval=0.2, error_cb=None)
        before = proxy.pings
        await asyncio.sleep(1.3)
        assert proxy.pings - before >= 4, proxy.pings
    finally:
        await proxy.close()


async def test_dont_randomize_keeps_the_servers_order(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    first, second = nats_server_factory(), nats_server_factory()
    for _ in range(6):
        nc = await connect(opened, [first.url, second.url], dont_randomize=True)
        assert nc.server_info is not None and nc.server_info.port == first.port
        await w(nc.close())


async def test_inbox_prefix(nats_server: NatsServer, opened: list[Closeable]) -> None:
    nc = await connect(opened, nats_server.url, inbox_prefix="_MY_INBOX")
    assert nc.new_inbox().startswith("_MY_INBOX.")
    nc2 = await nats_client(opened, nats_server.url, inbox_prefix=b"_BYTES")
    assert nc2.new_inbox().startswith("_BYTES.")

    async def echo(msg: Msg) -> None:
        assert msg.reply is not None and msg.reply.startswith("_MY_INBOX.")
        await msg.respond(msg.data)

    await w(nc.subscribe("compat.inbox", cb=echo))
    assert (await w(nc.request("compat.inbox", b"hi", timeout=2))).data == b"hi"


async def test_skip_subject_validation(nats_server: NatsServer, opened: list[Closeable]) -> None:
    strict = await connect(opened, nats_server.url, skip_subject_validation=False)
    with pytest.raises(nats.errors.BadSubjectError):
        await strict.publish("compat..empty.token", b"")
    lax = await connect(opened, nats_server.url, skip_subject_validation=True, error_cb=None)
    await w(lax.publish("compat..empty.token", b""))
    await w(lax.flush())


async def test_drain_timeout_reports_drain_timeout_error_and_closes(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await nats_client(opened, nats_server.url, drain_timeout=0, **rec.callbacks())
    await w(nc.subscribe("compat.drain"))
    await w(nc.drain())
    assert isinstance(await rec.wait_error(nats.errors.DrainTimeoutError), asyncio.TimeoutError)
    assert nc.is_closed
    await rec.wait_for("closed")


async def test_reconnect_to_server_handler_chooses_the_next_server(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    first, second = nats_server_factory(), nats_server_factory()
    calls: list[tuple[list[Any], dict[str, Any]]] = []

    def handler(servers: list[Any], info: dict[str, Any]) -> tuple[Any, float]:
        calls.append((servers, info))
        chosen = next(s for s in servers if s.uri.port == second.port)
        return chosen, 0.05

    rec = Recorder()
    nc = await nats_client(
        opened,
        [first.url, second.url],
        dont_randomize=True,
        reconnect_to_server_handler=handler,
        **rec.callbacks(),
    )
    assert nc.connected_url is not None and nc.connected_url.port == first.port
    await w(nc.force_reconnect())
    await rec.wait_for("reconnected")
    assert nc.connected_url is not None and nc.connected_url.port == second.port
    servers, info = calls[0]
    assert {s.uri.port for s in servers} == {first.port, second.port}
    assert all(isinstance(s.uri, urllib.parse.ParseResult) for s in servers)
    assert info["port"] == first.port and info["server_id"]


async def test_reconnect_handler_choosing_an_unknown_server_reports_it(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    server = nats_server_factory()
    rec = Recorder()

    def handler(servers: list[Any], info: dict[str, Any]) -> tuple[Any, float]:
        return nats.aio.client.Server(uri=urllib.parse.urlparse("nats://127.0.0.1:1")), 0

    nc = await connect(opened, server.url, reconnect_to_server_handler=handler, **rec.callbacks())
    await w(nc.force_reconnect())
    await rec.wait_error(nats.errors.ServerNotInPoolError)
    await rec.wait_for("reconnected")  # the default choice was used instead


# -- URL forms and dead servers -------------------------------------------------------------


async def test_url_forms_host_port_and_bare_host(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    await assert_works(await connect(opened, f"127.0.0.1:{nats_server.port}", error_cb=None))
    nc = await nats_client(opened, f"127.0.0.1:{nats_server.port}")
    # A bare host means port 4222, as in nats-py.
    nc.set_server_pool(["127.0.0.1", f"127.0.0.1:{nats_server.port}"])
    await wait_until(lambda: {u.port for u in nc.servers} == {4222, nats_server.port})


async def test_dead_servers_end_in_no_servers_error(nats_server: NatsServer) -> None:
    dead = [f"nats://127.0.0.1:{free_port()}", f"nats://127.0.0.1:{free_port()}"]
    with pytest.raises(nats.errors.NoServersError):
        await w(nats.connect(dead))  # natsrs's defaults: one pass over the servers
    rec = Recorder()
    started = time.monotonic()
    with pytest.raises(nats.errors.NoServersError, match="after 6 attempts"):
        await w(
            nats.connect(dead, max_reconnect_attempts=2, reconnect_time_wait=0.2, **rec.callbacks())
        )
    # As nats-py: each server tried max_reconnect_attempts more times, one at a time in
    # turn, at most every reconnect_time_wait; every failed attempt reported.
    assert time.monotonic() - started >= 0.4
    assert len(rec.errors) == 6 and rec.calls == ["error"] * 6
    nc = nats.NATS()
    with pytest.raises(nats.errors.NoServersError):
        await w(nc.connect(servers=dead, max_reconnect_attempts=1, reconnect_time_wait=0.05))
    assert isinstance(nc.last_error, nats.errors.NoServersError)
    assert not nc.is_connected
    await w(nc.connect(servers=[nats_server.url]))  # the same object connects afterwards
    assert nc.is_connected
    await w(nc.close())


async def test_allow_reconnect_false_stops_the_first_connect_only_at_a_reached_server(
    nats_server_factory: ServerFactory,
) -> None:
    dead = [f"nats://127.0.0.1:{free_port()}"]
    rec = Recorder()
    # Unreachable servers are retried even so, as nats-py does.
    with pytest.raises(nats.errors.NoServersError, match="after 2 attempts"):
        await w(
            nats.connect(
                dead,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.05,
                error_cb=rec.error_cb,
            )
        )
    assert len(rec.errors) == 2
    # A server that was reached and refused: the first failure ends it, after error_cb.
    server = nats_server_factory("authorization { user: u, password: p }")
    rec = Recorder()
    with pytest.raises(nats.errors.AuthorizationError):
        await w(
            nats.connect(
                server.url,
                user="u",
                password="wrong",
                allow_reconnect=False,
                max_reconnect_attempts=5,
                reconnect_time_wait=1,
                error_cb=rec.error_cb,
            )
        )
    # One report: a second pass would have made a second.
    assert [type(e) for e in rec.errors] == [nats.errors.AuthorizationError]


# -- defaults ----------------------------------------------------------------------------------


async def test_defaults_follow_the_entry_point(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    native = await connect(opened, nats_server.url)
    assert native.timeout == pytest.approx(10.0)  # the engine's request timeout
    compat = await nats_client(opened, nats_server.url)
    assert compat.options["connect_timeout"] == 2
    assert compat.options["reconnect_time_wait"] == 2
    assert compat.options["max_reconnect_attempts"] == 60
    assert compat.options["ping_interval"] == 120
    assert compat.options["drain_timeout"] == 30
    _kept = await w(compat.subscribe("compat.default.silent"))
    started = time.monotonic()
    with pytest.raises(nats.errors.TimeoutError):
        await w(compat.request("compat.default.silent", b""))
    assert 0.4 <= time.monotonic() - started < 2.0  # nats-py's 0.5 s
    # The caller's values win, under either API's name.
    custom = await nats_client(opened, nats_server.url, request_timeout=0.1, connect_timeout=1)
    assert custom.options["request_timeout"] == 0.1 and custom.options["connect_timeout"] == 1
    named = await nats_client(opened, nats_server.url, connection_timeout=3)
    assert "connect_timeout" not in named.options
