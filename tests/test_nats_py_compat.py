"""natsrs as a drop-in for nats-py: code written the way nats-py users write it.

Everything here goes through ``import natsrs as nats`` (``nats.connect(...)``,
``nats.NATS()``, ``nats.errors``, ``natsrs.aio.*``) against real ``nats-server``
processes from the fixtures, one per test on free ports. Every wait is bounded.
The sections follow issue 5: connect keywords, ``NATS``, ``Client`` methods and
properties, ``Subscription``, ``Msg``, errors, semantics, defaults.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import ssl
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trustme

import natsrs
import natsrs as nats
from cluster import cluster_configs, distinct_free_ports, wait_cluster_formed
from helpers import w, wait_until
from nats_jwt import OperatorSetup, operator_setup
from natsrs import nkeys
from natsrs._server import NatsServer, free_port
from natsrs.aio.client import Client as AioClient
from natsrs.aio.client import RawCredentials, ServerVersion
from natsrs.aio.msg import Msg
from natsrs.aio.subscription import Subscription

if TYPE_CHECKING:
    from conftest import ServerFactory

pytestmark = pytest.mark.timeout(60)

WAIT = 5.0


Closeable = Any  # natsrs.Client or natsrs.NATS


@pytest.fixture
async def opened() -> AsyncIterator[list[Closeable]]:
    """Clients a test made; each one is closed in teardown."""
    clients: list[Closeable] = []
    yield clients
    for nc in clients:
        with contextlib.suppress(Exception):
            await w(nc.close())
    # Let the last connection events reach their callbacks before the loop closes.
    await asyncio.sleep(0.1)


async def connect(opened: list[Closeable], *args: Any, **kwargs: Any) -> natsrs.Client:
    nc: natsrs.Client = await w(nats.connect(*args, **kwargs))
    opened.append(nc)
    return nc


async def nats_client(opened: list[Closeable], *args: Any, **kwargs: Any) -> nats.NATS:
    nc = nats.NATS()
    opened.append(nc)
    await w(nc.connect(*args, **kwargs))
    return nc


async def assert_works(nc: Any, subject: str = "compat.works") -> None:
    sub = await w(nc.subscribe(subject))
    await w(nc.publish(subject, b"ok"))
    msg = await w(sub.next_msg(timeout=WAIT))
    assert msg.data == b"ok"
    await w(sub.unsubscribe())


class Recorder:
    """Records the six nats-py connection callbacks (all coroutine functions)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.errors: list[Exception] = []
        self.changed = asyncio.Event()

    def _note(self, what: str) -> None:
        self.calls.append(what)
        self.changed.set()

    async def error_cb(self, e: Exception) -> None:
        self.errors.append(e)
        self._note("error")

    async def disconnected_cb(self) -> None:
        self._note("disconnected")

    async def reconnected_cb(self) -> None:
        self._note("reconnected")

    async def closed_cb(self) -> None:
        self._note("closed")

    async def discovered_server_cb(self) -> None:
        self._note("discovered")

    async def lame_duck_mode_cb(self) -> None:
        self._note("lame_duck")

    def callbacks(self) -> dict[str, Any]:
        return {
            "error_cb": self.error_cb,
            "disconnected_cb": self.disconnected_cb,
            "reconnected_cb": self.reconnected_cb,
            "closed_cb": self.closed_cb,
            "discovered_server_cb": self.discovered_server_cb,
            "lame_duck_mode_cb": self.lame_duck_mode_cb,
        }

    async def wait_for(self, what: str, count: int = 1, timeout: float = WAIT) -> None:
        async def until() -> None:
            while self.calls.count(what) < count:
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {what!r} within {timeout}s: {self.calls}") from None

    async def wait_error(self, kind: type[Exception], timeout: float = WAIT) -> Exception:
        async def until() -> Exception:
            while True:
                for error in self.errors:
                    if isinstance(error, kind):
                        return error
                self.changed.clear()
                await self.changed.wait()

        try:
            return await asyncio.wait_for(until(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no {kind.__name__} within {timeout}s: {self.errors}") from None


def connz_names(server: NatsServer) -> list[str]:
    return [c.get("name", "") for c in server.connz()["connections"]]


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
    assert rec.calls == ["disconnected", "closed"]
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
    assert rec.calls[:1] == ["disconnected"] and rec.calls[-1] == "closed"
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


# -- connect: authentication and TLS ------------------------------------------------------


async def test_token_and_url_token(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    server = nats_server_factory('authorization { token: "s3cret" }')
    await assert_works(await connect(opened, server.url, token="s3cret", error_cb=None))
    await assert_works(await nats_client(opened, server.url, token="s3cret"))
    await assert_works(await connect(opened, f"nats://s3cret@127.0.0.1:{server.port}"))
    # nats-py's token callback.
    await assert_works(await connect(opened, server.url, token=lambda: "s3cret"))
    with pytest.raises(nats.errors.AuthorizationError):
        await w(nats.connect(server.url, token="wrong", error_cb=None))


async def test_user_password_and_url_credentials(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    server = nats_server_factory("authorization { user: alice, password: pw }")
    await assert_works(await connect(opened, server.url, user="alice", password="pw"))
    await assert_works(await connect(opened, f"nats://alice:pw@127.0.0.1:{server.port}"))
    await assert_works(
        await nats_client(opened, server.url, user=lambda: "alice", password=lambda: "pw")
    )
    with pytest.raises(nats.errors.AuthorizationError):
        await w(nats.connect(server.url, user="alice", password="nope"))
    with pytest.raises(ValueError, match="together"):
        await w(nats.connect(server.url, user="alice"))


async def test_nkeys_seed_file_and_seed_string(
    nats_server_factory: ServerFactory, opened: list[Closeable], tmp_path: Path
) -> None:
    seed, public = nkeys.create("user")
    server = nats_server_factory(f"authorization {{ users = [{{ nkey: {public} }}] }}")
    seed_file = tmp_path / "user.nk"
    seed_file.write_text(seed + "\n")
    await assert_works(await connect(opened, server.url, nkeys_seed=str(seed_file)))
    await assert_works(await nats_client(opened, server.url, nkeys_seed_str=seed))
    with pytest.raises(nats.errors.AuthorizationError):
        await w(nats.connect(server.url, nkeys_seed_str=nkeys.create("user")[0]))
    with pytest.raises(nats.errors.InvalidUserCredentialsError):
        await w(nats.connect(server.url, nkeys_seed=str(tmp_path / "missing.nk")))


@pytest.fixture(scope="module")
def operator() -> OperatorSetup:
    return operator_setup()


async def test_user_credentials_in_each_nats_py_form(
    nats_server_factory: ServerFactory,
    opened: list[Closeable],
    operator: OperatorSetup,
    tmp_path: Path,
) -> None:
    server = nats_server_factory(operator.server_config)
    user = operator.user()
    creds = tmp_path / "user.creds"
    creds.write_text(user.creds())
    jwt_file, seed_file = tmp_path / "user.jwt", tmp_path / "user.nk"
    jwt_file.write_text(user.jwt + "\n")
    seed_file.write_text(user.seed + "\n")
    await assert_works(await connect(opened, server.url, user_credentials=str(creds)))
    await assert_works(await connect(opened, server.url, user_credentials=creds))
    await assert_works(
        await connect(opened, server.url, user_credentials=(str(jwt_file), str(seed_file)))
    )
    await assert_works(
        await nats_client(opened, server.url, user_credentials=RawCredentials(user.creds()))
    )
    stranger = tmp_path / "stranger.creds"
    stranger.write_text(operator_setup().user().creds())
    with pytest.raises(nats.errors.AuthorizationError):
        await w(nats.connect(server.url, user_credentials=str(stranger)))


async def test_signature_cb_and_user_jwt_cb(
    nats_server_factory: ServerFactory, opened: list[Closeable], operator: OperatorSetup
) -> None:
    server = nats_server_factory(operator.server_config)
    user = operator.user()
    nonces: list[str] = []

    def user_jwt_cb() -> bytes:
        return user.jwt.encode()

    def signature_cb(nonce: str) -> bytes:
        # nats-py's contract: the nonce as text in, the base64 signature out.
        nonces.append(nonce)
        return base64.b64encode(nkeys.sign(user.seed, nonce.encode()))

    nc = await connect(opened, server.url, user_jwt_cb=user_jwt_cb, signature_cb=signature_cb)
    await assert_works(nc)
    assert nonces and all(isinstance(n, str) and n for n in nonces)
    # nats-py signs with a seed and takes the JWT from user_jwt_cb when both are given.
    await assert_works(
        await nats_client(opened, server.url, nkeys_seed_str=user.seed, user_jwt_cb=user_jwt_cb)
    )
    with pytest.raises(ValueError, match="signature_cb"):
        await w(nats.connect(server.url, user_jwt_cb=user_jwt_cb))
    with pytest.raises(nats.errors.InvalidUserCredentialsError):
        await w(nats.connect(server.url, nkeys_seed_str="SUnot-a-seed", user_jwt_cb=user_jwt_cb))


class Pki:
    """A CA and server certificates made now (trustme)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca = trustme.CA()
        self.ca_path = directory / "ca.pem"
        self.ca_path.write_bytes(self.ca.cert_pem.bytes())

    def server_config(self, *names: str, handshake_first: bool = False) -> str:
        leaf = self.ca.issue_cert(*names)
        cert = self.dir / f"{names[0]}-cert.pem"
        key = self.dir / f"{names[0]}-key.pem"
        cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        key.write_bytes(leaf.private_key_pem.bytes())
        first = "\n  handshake_first: true" if handshake_first else ""
        return f'tls {{\n  cert_file: "{cert}"\n  key_file: "{key}"\n  timeout: 2{first}\n}}\n'

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    directory = tmp_path / "pki"
    directory.mkdir()
    return Pki(directory)


async def test_tls_context_and_tls_url(
    nats_server_factory: ServerFactory, opened: list[Closeable], pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config("127.0.0.1", "localhost"))
    url = f"tls://127.0.0.1:{server.port}"
    await assert_works(await connect(opened, url, tls=pki.context(), error_cb=None))
    await assert_works(await nats_client(opened, url, tls=pki.context()))
    with pytest.raises(nats.errors.SecureConnFailedError):
        await w(nats.connect(url, tls=ssl.create_default_context(), connect_timeout=2))


async def test_tls_hostname_verifies_the_certificate_against_that_name(
    nats_server_factory: ServerFactory, opened: list[Closeable], pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config("nats.internal.example"))
    url = f"tls://127.0.0.1:{server.port}"
    with pytest.raises(nats.errors.TlsError):
        await w(nats.connect(url, tls=pki.context(), connect_timeout=2))
    await assert_works(
        await connect(opened, url, tls=pki.context(), tls_hostname="nats.internal.example")
    )
    with pytest.raises(nats.errors.TlsError):
        await w(nats.connect(url, tls=pki.context(), tls_hostname="other.example"))
    with pytest.raises(ValueError, match="server_name"):
        await w(nats.connect(url, tls=natsrs.TlsConfig(), tls_hostname="x.example"))


async def test_tls_handshake_first(
    nats_server_factory: ServerFactory, opened: list[Closeable], pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config("127.0.0.1", handshake_first=True))
    url = f"tls://127.0.0.1:{server.port}"
    await assert_works(
        await connect(opened, url, tls=pki.context(), tls_handshake_first=True, error_cb=None)
    )


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
    with pytest.raises(nats.errors.NoServersError, match="after 3 attempts"):
        await w(
            nats.connect(dead, max_reconnect_attempts=2, reconnect_time_wait=0.2, **rec.callbacks())
        )
    # As nats-py: each server tried max_reconnect_attempts more times, reconnect_time_wait
    # apart, every failure reported.
    assert time.monotonic() - started >= 0.4
    assert len(rec.errors) == 3 and rec.calls == ["error"] * 3
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


async def two_of_three_nodes(
    factory: ServerFactory,
) -> tuple[list[int], NatsServer, NatsServer]:
    """Route ports for a three-node cluster, and its first two nodes started and joined."""
    ports = distinct_free_ports(3)
    node_a, node_b = (factory(config) for config in cluster_configs(ports[:2]))
    await wait_cluster_formed([node_a, node_b], timeout=10.0)
    return ports, node_a, node_b


def third_node(factory: ServerFactory, ports: list[int]) -> NatsServer:
    """The third node of :func:`two_of_three_nodes`' cluster, routed to both others."""
    return factory(cluster_configs(ports)[2])


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
    assert nc.connected_url is not None
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


@pytest.fixture(params=["connect", "NATS"], name="nc")
async def nc_fixture(
    request: pytest.FixtureRequest, nats_server: NatsServer, opened: list[Closeable]
) -> Any:
    """The client both ways nats-py users get one: ``nats.connect()`` and ``NATS()``."""
    if request.param == "connect":
        return await connect(opened, nats_server.url, error_cb=None)
    return await nats_client(opened, nats_server.url)


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


# -- Subscription ---------------------------------------------------------------------------


async def test_subscription_api(nc: Any) -> None:
    sub = await w(nc.subscribe("compat.subscription"))
    assert isinstance(sub, Subscription) and isinstance(sub, natsrs.Subscriber)
    assert sub.subject == "compat.subscription" and sub.delivered == 0
    with pytest.raises(nats.errors.TimeoutError):
        await sub.next_msg(timeout=0.1)
    for i in range(4):
        await w(nc.publish("compat.subscription", str(i).encode()))
    # All four are queued here before unsubscribe(limit=2) below: the engine ends a
    # subscription whose delivered count has reached the limit, dropping later arrivals.
    await w(nc.flush())
    assert (await w(sub.next_msg())).data == b"0"
    seen = []
    async for msg in sub.messages:
        seen.append(msg.data)
        if len(seen) == 2:
            break
    assert seen == [b"1", b"2"] and sub.delivered == 3
    await w(sub.unsubscribe(limit=2))  # one more, then the iteration ends
    await w(nc.publish("compat.subscription", b"4"))
    assert [m.data async for m in sub.messages] == [b"3"]

    drained = await w(nc.subscribe("compat.drained"))
    await w(nc.publish("compat.drained", b"in-flight"))
    await w(nc.flush())
    await w(drained.drain())
    assert [m.data async for m in drained.messages] == [b"in-flight"]
    with pytest.raises(nats.errors.BadSubscriptionError):
        await w(drained.next_msg(timeout=0.1))


async def test_subscription_pending_counters(nc: Any) -> None:
    sub = await w(nc.subscribe("compat.pending"))
    for _ in range(3):
        await w(nc.publish("compat.pending", b"12345"))
    await w(nc.flush())
    assert (sub.pending_msgs, sub.pending_bytes) == (3, 15)
    assert (await w(sub.next_msg())).data == b"12345"
    assert (sub.pending_msgs, sub.pending_bytes) == (2, 10)
    assert [m.data async for m in _take(sub, 2)] == [b"12345", b"12345"]
    assert (sub.pending_msgs, sub.pending_bytes) == (0, 0)

    # Counting while a reader waits must not leave that reader deaf to new messages.
    waiting = asyncio.ensure_future(sub.next_msg(timeout=5))
    await asyncio.sleep(0.05)
    assert sub.pending_msgs == 0
    await w(nc.publish("compat.pending", b"later"))
    assert (await w(waiting)).data == b"later"


async def _take(sub: Any, count: int) -> AsyncIterator[Msg]:
    async for msg in sub.messages:
        yield msg
        count -= 1
        if count == 0:
            return


async def test_callback_subscription_pending_counts_what_the_callback_has_not_had(
    nc: Any,
) -> None:
    release = asyncio.Event()
    seen: list[bytes] = []

    async def slow(msg: Msg) -> None:
        seen.append(msg.data)
        await release.wait()

    sub = await w(nc.subscribe("compat.pending.cb", cb=slow))
    for payload in (b"a", b"bb", b"ccc"):
        await w(nc.publish("compat.pending.cb", payload))
    await w(nc.flush())
    await wait_until(lambda: seen == [b"a"] and sub.pending_msgs == 2)
    assert sub.pending_bytes == 5
    release.set()
    await wait_until(lambda: len(seen) == 3)
    assert (sub.pending_msgs, sub.pending_bytes) == (0, 0)


# -- Msg -------------------------------------------------------------------------------------


async def test_msg_api(nc: Any) -> None:
    async def respond(msg: Msg) -> None:
        await msg.respond(b"re:" + msg.data)

    await w(nc.subscribe("compat.msg", cb=respond))
    sub = await w(nc.subscribe("compat.msg.copy"))
    await w(nc.flush())
    await w(nc.publish("compat.msg.copy", b"body", "compat.msg.reply", {"K": "v", "Z": "z"}))
    msg = await w(sub.next_msg())
    assert isinstance(msg, Msg) and Msg is natsrs.Message
    assert msg.subject == "compat.msg.copy" and msg.reply == "compat.msg.reply"
    assert msg.data == b"body"
    assert msg.headers is not None and msg.header is not None
    assert msg.headers["K"] == "v" and msg.headers.get("Z") == "z" and "K" in msg.headers
    assert dict(msg.headers) == {"K": "v", "Z": "z"}
    assert dict(msg.headers.items()) == {"K": "v", "Z": "z"}
    reply = await w(nc.request("compat.msg", b"q", timeout=2))
    assert reply.data == b"re:q"
    plain = await w(nc.subscribe("compat.msg.plain"))
    await w(nc.publish("compat.msg.plain", b""))
    assert (await w(plain.next_msg())).headers is None


async def test_msg_headers_are_a_dict_that_keeps_repeated_values(nc: Any) -> None:
    sub = await w(nc.subscribe("compat.hdr"))
    await w(nc.publish("compat.hdr", b"", headers={"K": "v", "M": ["1", "2"]}))
    msg = await w(sub.next_msg())
    headers = msg.headers
    assert isinstance(headers, dict) and isinstance(headers, nats.Headers)
    assert headers == {"K": "v", "M": "1"} and json.loads(json.dumps(headers)) == headers
    assert headers.get_all("M") == ["1", "2"] and headers.get_all("absent") == []
    assert headers.to_dict() == {"K": ["v"], "M": ["1", "2"]}
    assert headers.copy().get_all("M") == ["1", "2"]
    # One dict per message, as nats-py's: a change stays.
    headers["X"] = "y"
    assert msg.headers is headers and msg.header is headers and msg.headers["X"] == "y"

    # Passed on as they are, every value goes out again.
    copy_sub = await w(nc.subscribe("compat.hdr.copy"))
    await w(nc.publish("compat.hdr.copy", b"", headers=headers))
    forwarded = (await w(copy_sub.next_msg())).headers
    assert forwarded.to_dict() == {"K": ["v"], "M": ["1", "2"], "X": ["y"]}


# -- errors ----------------------------------------------------------------------------------


def test_errors_have_nats_py_names_and_inheritance() -> None:
    e = nats.errors
    assert issubclass(e.TimeoutError, asyncio.TimeoutError)
    assert issubclass(e.TimeoutError, TimeoutError)
    for cls in (e.FlushTimeoutError, e.DrainTimeoutError):
        assert issubclass(cls, e.TimeoutError)
    assert issubclass(e.UnexpectedEOF, e.StaleConnectionError)
    for name in (
        "NoServersError",
        "ConnectionClosedError",
        "BadSubjectError",
        "SlowConsumerError",
        "NoRespondersError",
        "MaxPayloadError",
        "FlushTimeoutError",
        "AuthorizationError",
        "BadSubscriptionError",
        "BadHeaderError",
        "BadTimeoutError",
        "ConnectionDrainingError",
        "ConnectionReconnectingError",
        "InvalidCallbackTypeError",
        "InvalidUserCredentialsError",
        "SecureConnRequiredError",
        "SecureConnWantedError",
        "SecureConnFailedError",
        "ServerNotInPoolError",
        "StaleConnectionError",
        "OutboundBufferLimitError",
        "JsonParseError",
        "ProtocolError",
    ):
        assert issubclass(getattr(e, name), e.Error), name
    from natsrs.aio import errors as aio_errors

    assert aio_errors.ErrTimeout is e.TimeoutError and aio_errors.NatsError is e.Error
    assert aio_errors.ErrNoServers is e.NoServersError


def test_errors_match_nats_py_where_it_is_installed() -> None:
    nats_py_errors = pytest.importorskip("nats.errors")
    jetstream_only = {"NotJSMessageError", "MsgAlreadyAckdError"}
    theirs = {
        name: cls
        for name, cls in vars(nats_py_errors).items()
        if isinstance(cls, type) and issubclass(cls, Exception) and name not in jetstream_only
    }
    for name, cls in theirs.items():
        ours = getattr(nats.errors, name, None)
        assert ours is not None, f"natsrs.errors lacks {name}"
        for base_name, base in theirs.items():
            if issubclass(cls, base):
                assert issubclass(ours, getattr(nats.errors, base_name)), (name, base_name)


# -- semantics ---------------------------------------------------------------------------------


async def test_callbacks_run_one_message_at_a_time_per_subscription(nc: Any) -> None:
    running = {"a": 0, "b": 0}
    most = {"a": 0, "b": 0}
    order: dict[str, list[int]] = {"a": [], "b": []}
    overlapped = asyncio.Event()
    done = asyncio.Event()

    def handler(key: str) -> Callable[[Msg], Awaitable[None]]:
        async def cb(msg: Msg) -> None:
            running[key] += 1
            most[key] = max(most[key], running[key])
            if running["a"] and running["b"]:
                overlapped.set()
            await asyncio.sleep(0.01)
            order[key].append(int(msg.data))
            running[key] -= 1
            if len(order["a"]) == len(order["b"]) == 10:
                done.set()

        return cb

    await w(nc.subscribe("compat.serial.a", cb=handler("a")))
    await w(nc.subscribe("compat.serial.b", cb=handler("b")))
    for i in range(10):
        await w(nc.publish("compat.serial.a", str(i).encode()))
        await w(nc.publish("compat.serial.b", str(i).encode()))
    await w(done.wait())
    assert most == {"a": 1, "b": 1}
    assert order["a"] == order["b"] == list(range(10))
    assert overlapped.is_set()  # the two subscriptions do run concurrently


async def test_callback_exceptions_and_pending_limit_overflow_go_to_error_cb(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await connect(opened, nats_server.url, error_cb=rec.error_cb)

    async def broken(msg: Msg) -> None:
        raise RuntimeError(f"bad message {msg.data!r}")

    await w(nc.subscribe("compat.broken", cb=broken))
    await w(nc.publish("compat.broken", b"x"))
    error = await rec.wait_error(RuntimeError)
    assert "bad message" in str(error)

    release = asyncio.Event()
    handled: list[bytes] = []

    async def stuck(msg: Msg) -> None:
        await release.wait()
        handled.append(msg.data)

    slow = await w(nc.subscribe("compat.slow", cb=stuck, pending_msgs_limit=2))
    for i in range(10):
        await w(nc.publish("compat.slow", str(i).encode()))
    await w(nc.flush())
    slow_error = await rec.wait_error(nats.errors.SlowConsumerError)
    assert getattr(slow_error, "sid", None) == slow.sid
    release.set()
    await wait_until(lambda: len(handled) >= 2)
    await asyncio.sleep(0.1)
    # Two pending (plus the one in the callback, if it got there first); the rest dropped.
    assert handled[:2] == [b"0", b"1"] and len(handled) <= 3, handled
    assert sum(isinstance(e, nats.errors.SlowConsumerError) for e in rec.errors) >= 7


async def test_pending_bytes_limit_drops_what_would_exceed_it(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await connect(opened, nats_server.url, error_cb=rec.error_cb)
    release = asyncio.Event()
    entered: list[bytes] = []
    handled: list[bytes] = []

    async def stuck(msg: Msg) -> None:
        entered.append(msg.data)
        await release.wait()
        handled.append(msg.data)

    # 10 bytes may wait: the first message reaches the callback, the next two (4 + 6
    # bytes) wait, and the 1-byte fourth would make 11; the 0-byte fifth still fits.
    sub = await w(nc.subscribe("compat.bytes", cb=stuck, pending_bytes_limit=10))
    await w(nc.publish("compat.bytes", b"first"))
    await wait_until(lambda: entered == [b"first"])
    for payload in (b"4444", b"666666", b"1", b""):
        await w(nc.publish("compat.bytes", payload))
    await w(nc.flush())
    await rec.wait_error(nats.errors.SlowConsumerError)
    assert (sub.pending_msgs, sub.pending_bytes) == (3, 10)
    release.set()
    await wait_until(lambda: len(handled) == 4)
    assert handled == [b"first", b"4444", b"666666", b""]
    assert sum(isinstance(e, nats.errors.SlowConsumerError) for e in rec.errors) == 1


async def test_engine_slow_consumer_goes_to_error_cb(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    rec = Recorder()
    nc = await connect(opened, nats_server.url, error_cb=rec.error_cb, subscription_capacity=16)
    sub = await w(nc.subscribe("compat.engine.slow"))
    for i in range(500):
        await w(nc.publish("compat.engine.slow", str(i).encode()))
    await w(nc.flush())
    error = await rec.wait_error(nats.errors.SlowConsumerError)
    assert getattr(error, "sid", None) == sub.sid


async def test_flush_after_subscribe_means_the_server_has_the_subscription(
    nats_server: NatsServer, opened: list[Closeable]
) -> None:
    subscriber = await nats_client(opened, nats_server.url)
    publisher = await connect(opened, nats_server.url)
    for i in range(20):
        subject = f"compat.flushed.{i}"
        sub = await w(subscriber.subscribe(subject))
        await w(subscriber.flush())
        # Another connection publishes at once: the interest must already be there.
        await w(publisher.publish(subject, b"seen"))
        assert (await w(sub.next_msg(timeout=2))).data == b"seen"


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


# -- nats-py's own examples (from its docstrings), unchanged but for the import and URL -------


async def test_nats_py_docstring_example_connecting_setting_all_callbacks(
    nats_server: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    servers = nats_server.url

    async def main() -> None:
        async def disconnected_cb() -> None:
            print("Got disconnected!")

        async def reconnected_cb() -> None:
            print(f"Got reconnected to {nc.connected_url.netloc}")  # type: ignore[union-attr]

        async def error_cb(e: Exception) -> None:
            print(f"There was an error: {e}")

        async def closed_cb() -> None:
            print("Connection is closed")

        nc = await nats.connect(
            servers,
            error_cb=error_cb,
            reconnected_cb=reconnected_cb,
            disconnected_cb=disconnected_cb,
            closed_cb=closed_cb,
        )

        async def handler(msg: Any) -> None:
            print(f"Received a message on {msg.subject} {msg.reply}: {msg.data}")
            await msg.respond(b"OK")

        await nc.subscribe("help.please", cb=handler)

        resp = await nc.request("help.please", b"help")
        print("Response:", resp)

        await nc.close()

    await w(main())
    await asyncio.sleep(0.2)
    out = capsys.readouterr().out
    assert "Received a message on help.please _INBOX." in out
    assert "Response:" in out and "Connection is closed" in out


async def test_nats_py_docstring_example_context_manager(
    nats_server: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    servers = nats_server.url

    async def main() -> None:
        is_done: asyncio.Future[bool] = asyncio.Future()

        async def closed_cb() -> None:
            print("Connection to NATS is closed.")
            is_done.set_result(True)

        nc_ = nats.NATS()
        await nc_.connect(servers, closed_cb=closed_cb)
        async with nc_ as nc:
            print(f"Connected to NATS at {nc.connected_url.netloc}...")  # type: ignore[union-attr]

            async def subscribe_handler(msg: Any) -> None:
                subject = msg.subject
                reply = msg.reply
                data = msg.data.decode()
                print(f"Received a message on '{subject} {reply}': {data}")

            await nc.subscribe("discover", cb=subscribe_handler)
            await nc.flush()

            for _ in range(0, 10):
                await nc.publish("discover", b"hello world")
                await asyncio.sleep(0.01)

        await asyncio.wait_for(is_done, 60.0)

    await w(main(), 10)
    out = capsys.readouterr().out
    assert out.count("Received a message on 'discover") >= 1
    assert "Connection to NATS is closed." in out


async def test_nats_py_docstring_example_publish(
    nats_server: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    servers = nats_server.url

    async def main() -> None:
        nc = await nats.connect(servers, error_cb=None)

        # Publish as message with an inbox.
        inbox = nc.new_inbox()
        sub = await nc.subscribe("hello")

        # Simple publishing
        await nc.publish("hello", b"Hello World!")

        # Publish with a reply
        await nc.publish("hello", b"Hello World!", reply=inbox)

        # Publish with headers
        await nc.publish("hello", b"With Headers", headers={"Foo": "Bar"})

        while True:
            try:
                msg = await sub.next_msg()
            except nats.errors.TimeoutError:
                break
            print("----------------------")
            print("Subject:", msg.subject)
            print("Reply  :", msg.reply)
            print("Data   :", msg.data)
            print("Headers:", msg.header)
        await nc.close()

    await w(main(), 10)
    await asyncio.sleep(0.1)  # the CLOSED event reaches the dispatcher before the loop ends
    out = capsys.readouterr().out
    assert out.count("Subject: hello") == 3
    assert "With Headers" in out and "Foo" in out


async def test_migrating_md_before_and_after_example(
    nats_server: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example of MIGRATING.md, with only the import changed (and the URL)."""
    from natsrs.errors import NoRespondersError, TimeoutError

    url = nats_server.url

    async def main() -> None:
        async def error_cb(e: Exception) -> None:
            print("error:", e)

        async def reconnected_cb() -> None:
            print("reconnected")

        nc = await nats.connect(
            url,
            name="svc",
            error_cb=error_cb,
            reconnected_cb=reconnected_cb,
            max_reconnect_attempts=-1,
        )

        async def handler(msg: Any) -> None:
            await msg.respond(b"pong:" + msg.data)

        await nc.subscribe("ping", queue="workers", cb=handler)
        await nc.flush()
        try:
            reply = await nc.request("ping", b"1", timeout=0.5)
            print(reply.data)
        except (NoRespondersError, TimeoutError) as exc:
            print("no answer:", exc)
        await nc.drain()

    await w(main())
    await asyncio.sleep(0.1)
    assert capsys.readouterr().out == "b'pong:1'\n"
