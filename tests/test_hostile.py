"""Hostile input: no dead clients.

Each test is one case of the issue of that name, written as the behaviour required; a case
a build gets wrong would be marked ``xfail(strict=True)`` with the issue's item letter.
SECURITY.md describes the threat model, each engine weakness and how it is fixed (most in
natsrs's patches to the vendored engine, vendor/async-nats/PATCHES.md).

Peers are untrusted: anything another client can publish reaches the subscriber through a
real ``nats-server`` (a raw socket peer here). The server is trusted but must not be able
to kill the client or its memory: bytes no real server sends come from ``fake_server``.
The caller is trusted, but bad arguments must raise typed Python errors.

Every wait is bounded; memory cases stream a fixed budget and measure the growth of this
process's resident set against a bound far above what a healthy client uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import logging
import os
import signal
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

import natsrs
from fake_server import FakeServer, Peer, info_line
from helpers import next_msg, until_idle, w, wait_until
from natsrs import EventKind, _natsrs

if TYPE_CHECKING:
    from conftest import ClientFactory, ServerFactory
    from natsrs._server import NatsServer

pytestmark = pytest.mark.timeout(60)

RECOVERY = 15.0
"""Bound for a client to get back to delivering messages after a hostile message."""

MiB = 1024 * 1024


def assert_no_panic_output(capfd: pytest.CaptureFixture[str]) -> None:
    """Nothing from Rust on stderr: no panic message, no backtrace."""
    err = capfd.readouterr().err
    for marker in ("panicked", "RUST_BACKTRACE", "stack backtrace"):
        assert marker not in err, f"stderr shows a Rust panic:\n{err[-2000:]}"


# ---------------------------------------------------------------------------------------
# A raw peer: bytes from an untrusted client, routed by a real nats-server


class RawPeer:
    """A socket speaking the client protocol by hand, to publish what no library would."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, server: NatsServer) -> RawPeer:
        reader, writer = await w(asyncio.open_connection("127.0.0.1", server.port))
        info = await w(reader.readline())
        assert info.startswith(b"INFO ")
        writer.write(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\n')
        peer = cls(reader, writer)
        await peer.sync()
        return peer

    async def sync(self) -> None:
        """PING and wait for its PONG: the server has processed everything sent before."""
        self.writer.write(b"PING\r\n")
        await w(self.writer.drain())
        while True:
            line = await w(self.reader.readline())
            if not line:
                raise ConnectionError("nats-server closed the raw peer")
            if line.startswith(b"-ERR"):
                raise AssertionError(f"nats-server refused the raw peer's bytes: {line!r}")
            if line.startswith(b"PONG"):
                return

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.sync()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await w(self.writer.wait_closed())


@contextlib.asynccontextmanager
async def raw_peer(server: NatsServer) -> AsyncIterator[RawPeer]:
    peer = await RawPeer.connect(server)
    try:
        yield peer
    finally:
        await peer.close()


def pub(subject: bytes, payload: bytes) -> bytes:
    return b"PUB %s %d\r\n%s\r\n" % (subject, len(payload), payload)


def hpub(subject: bytes, header: bytes, payload: bytes) -> bytes:
    total = len(header) + len(payload)
    return b"HPUB %s %d %d\r\n%s%s\r\n" % (subject, len(header), total, header, payload)


async def recovery_time(
    sub: natsrs.Subscriber, publish: Callable[[int], Awaitable[None]], *, since: float
) -> float:
    """Publish ``after-<n>`` every 50 ms until the subscriber receives one; the seconds
    from ``since`` until it did."""

    async def keep_publishing() -> None:
        for n in itertools.count():
            await publish(n)
            await asyncio.sleep(0.05)

    publisher = asyncio.ensure_future(keep_publishing())
    try:
        while True:
            msg = await next_msg(sub, RECOVERY)
            if msg.payload.startswith(b"after-"):
                return time.monotonic() - since
    finally:
        publisher.cancel()
        with contextlib.suppress(BaseException):
            await publisher


# ---------------------------------------------------------------------------------------
# A.1 and C: one malformed message from a peer


MALFORMED_FROM_PEERS = {
    "header-line-without-colon": hpub(b"peer.x", b"NATS/1.0\r\nNoColon\r\n\r\n", b"bad"),
    "header-name-with-space": hpub(b"peer.x", b"NATS/1.0\r\nBad Name: v\r\n\r\n", b"bad"),
    "header-name-with-control-char": hpub(b"peer.x", b"NATS/1.0\r\nBad\x01: v\r\n\r\n", b"bad"),
    "version-line-not-nats-1.0": hpub(b"peer.x", b"NATS/2.0\r\nX: v\r\n\r\n", b"bad"),
    "non-utf8-header-bytes": hpub(b"peer.x", b"NATS/1.0\r\nX: \xff\xfe\r\n\r\n", b"bad"),
    "bad-status-code": hpub(b"peer.x", b"NATS/1.0 abc\r\n\r\n", b"bad"),
    "non-utf8-subject": pub(b"peer.\xff", b"bad"),
}

BARE_CR_FROM_PEERS = {
    "in-a-value": hpub(b"peer.x", b"NATS/1.0\r\nX: a\rb\r\n\r\n", b"hi"),
    # A value continued on a folded line: the pieces are joined before the check.
    "in-a-folded-value": hpub(b"peer.x", b"NATS/1.0\r\nX: a\r\n b\rc\r\n\r\n", b"hi"),
}


async def assert_dropped_and_reported(
    bad: bytes,
    nats_server: NatsServer,
    client_factory: ClientFactory,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A peer publishes ``bad`` between 21 good messages: the subscriber receives every
    good one, reports the bad one once (a ``CLIENT_ERROR`` event whose error is a
    ``ProtocolError`` naming the subscription), never disconnects, prints nothing."""
    nc = await client_factory(nats_server.url)
    events = nc.events()
    sub = await w(nc.subscribe("peer.>"))
    await w(nc.flush())
    capfd.readouterr()

    burst = pub(b"peer.x", b"good-0") + bad
    burst += b"".join(pub(b"peer.x", b"good-%d" % n) for n in range(1, 21))
    async with raw_peer(nats_server) as peer:
        await peer.send(burst)
    received = [m.payload for m in await until_idle(sub, idle=1.0)]

    good = [p for p in received if p.startswith(b"good-")]
    assert good == [b"good-%d" % n for n in range(21)], received
    assert len(received) == 21, "the malformed message was delivered"
    assert nc.connection_state == natsrs.ConnectionState.CONNECTED
    assert nc.statistics().connects == 1, "the client reconnected"
    await w(nc.close())
    seen = [event async for event in events]
    kinds = [event.kind for event in seen]
    assert EventKind.DISCONNECTED not in kinds
    reports = [event for event in seen if event.kind == EventKind.CLIENT_ERROR]
    assert len(reports) == 1, kinds
    assert isinstance(reports[0].error, natsrs.errors.ProtocolError)
    assert reports[0].sid == sub.sid
    assert reports[0].error.sid == sub.sid
    assert "peer." in str(reports[0].error)
    assert_no_panic_output(capfd)


@pytest.mark.parametrize("case", sorted(BARE_CR_FROM_PEERS))
async def test_a1_bare_cr_in_a_header_value_from_a_peer(
    case: str,
    nats_server: NatsServer,
    client_factory: ClientFactory,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A bare CR in a header value (it panicked the engine's connection task) is a
    malformed message like those of C: dropped and reported, the connection stays up."""
    await assert_dropped_and_reported(BARE_CR_FROM_PEERS[case], nats_server, client_factory, capfd)


@pytest.mark.parametrize("case", sorted(MALFORMED_FROM_PEERS))
async def test_c_malformed_message_from_a_peer_keeps_the_connection(
    case: str,
    nats_server: NatsServer,
    client_factory: ClientFactory,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The malformed message is dropped and reported; the connection stays up and none of
    the good messages around it is lost."""
    await assert_dropped_and_reported(
        MALFORMED_FROM_PEERS[case], nats_server, client_factory, capfd
    )


# ---------------------------------------------------------------------------------------
# A.2: bytes from the server that panicked the engine


HOSTILE_SERVER_LINES = {
    "err-without-text": b"-ERR\r\n",
    # The size wrapped the bounds check, and the split of the next bytes panicked.
    "msg-size-overflows": b"MSG f.x 1 18446744073709551615\r\nhi\r\n",
}


@pytest.mark.parametrize("case", sorted(HOSTILE_SERVER_LINES))
async def test_a2_server_line_that_panicked_the_parser(
    case: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """The client drops the connection, reconnects, and its subscription works again."""

    async def script(peer: Peer) -> None:
        await peer.handshake()
        serving = asyncio.ensure_future(peer.serve())
        try:
            sid = await peer.wait_subscribed("f.x")
            if peer.index == 0:
                peer.send(HOSTILE_SERVER_LINES[case])
                await peer.writer.drain()
                # A real server closes after an -ERR; either way the client reconnects.
                await asyncio.sleep(0.3)
                return
            peer.send(b"MSG f.x %s 2\r\nok\r\n" % sid.encode())
            await peer.writer.drain()
            await serving
        finally:
            serving.cancel()

    capfd.readouterr()
    async with FakeServer(script) as server:
        nc = await w(natsrs.connect(server.url))
        try:
            events = nc.events()
            sub = await w(nc.subscribe("f.x"))
            started = time.monotonic()
            msg = await next_msg(sub, RECOVERY)
            print(f"A.2 {case}: delivering again after {time.monotonic() - started:.3f}s")
            assert msg.payload == b"ok"
            assert nc.connection_state == natsrs.ConnectionState.CONNECTED
            assert nc.statistics().connects >= 2
        finally:
            await w(nc.close())
        kinds = [event.kind async for event in events]
        assert EventKind.DISCONNECTED in kinds
        assert kinds[-1] == EventKind.CLOSED
        if case == "err-without-text":
            # An -ERR like any other, whose description is empty.
            assert EventKind.SERVER_ERROR in kinds, kinds
        assert not server.errors, server.errors
    assert_no_panic_output(capfd)


SERVER_VERSIONS = {
    "major-only": ("2", True),
    "major-and-minor": ("2.10", True),
    "too-old": ("1.4", False),
    "number-too-large": ("99999999999999999999.0.0", False),
    "not-a-version": ("beta", False),
}


@pytest.mark.parametrize("case", sorted(SERVER_VERSIONS))
async def test_a2_server_version_is_read_without_a_panic(case: str) -> None:
    """``is_server_compatible`` reads the version of the server's INFO: a missing minor
    or patch is 0 (they panicked the call), one that does not parse is not compatible."""
    version, compatible = SERVER_VERSIONS[case]

    async def script(peer: Peer) -> None:
        await peer.handshake(info_line(version=version))
        await peer.serve()

    async with FakeServer(script) as server:
        nc = await w(natsrs.connect(server.url))
        try:
            assert nc.is_server_compatible(2, 0, 0) is compatible
            assert nc.connection_state == natsrs.ConnectionState.CONNECTED
        finally:
            await w(nc.close())
        assert not server.errors, server.errors


# ---------------------------------------------------------------------------------------
# A.3: arguments from the caller that panic


def test_a3_tiny_ping_interval_is_refused() -> None:
    with pytest.raises(ValueError):
        natsrs.ConnectOptions().ping_interval(1e-12)


@pytest.mark.parametrize("setter", ["subscription_capacity", "client_capacity"])
def test_a3_huge_capacity_is_refused(setter: str) -> None:
    with pytest.raises(ValueError):
        getattr(natsrs.ConnectOptions(), setter)(2**62)


async def test_a3_huge_capacity_never_panics_at_use(nats_server: NatsServer) -> None:
    """Whichever step refuses it, it is a typed error, never PanicException."""
    for setter in ("subscription_capacity", "client_capacity"):
        try:
            options = getattr(natsrs.ConnectOptions(), setter)(2**62)
        except ValueError:
            continue
        nc: natsrs.Client | None = None
        try:
            nc = await w(options.connect(nats_server.url))
            await w(nc.subscribe("cap.x"))
        except ValueError:
            pass
        except BaseException as exc:
            assert type(exc).__name__ != "PanicException", f"{setter}: {exc!r}"
            assert "internal error" not in str(exc), f"{setter}: {exc!r}"
            raise
        finally:
            if nc is not None:
                await w(nc.close())


# ---------------------------------------------------------------------------------------
# D: inputs longer than the server's control line


LONG = 8192


async def test_d_long_subscribe_subject_is_refused(client: natsrs.Client) -> None:
    with pytest.raises(natsrs.errors.BadSubjectError):
        await w(client.subscribe("S." + "y" * LONG))
    await assert_still_healthy(client)


async def test_d_long_queue_group_is_refused(client: natsrs.Client) -> None:
    with pytest.raises(natsrs.errors.BadQueueError):
        await w(client.subscribe("S.q", queue="q" * LONG))
    await assert_still_healthy(client)


def test_d_long_inbox_prefix_is_refused() -> None:
    with pytest.raises(ValueError):
        natsrs.ConnectOptions().custom_inbox_prefix("I" * LONG)


@pytest.mark.parametrize(
    "subject,reply",
    [
        ("P." + "s" * LONG, None),
        ("P." + "s" * MiB, None),
        ("P.x", "R." + "r" * LONG),
        ("P.x", "R." + "r" * MiB),
    ],
    ids=["subject-8k", "subject-1m", "reply-8k", "reply-1m"],
)
async def test_d_long_publish_subject_or_reply_is_refused(
    client: natsrs.Client, subject: str, reply: str | None
) -> None:
    with pytest.raises(natsrs.errors.BadSubjectError):
        await w(client.publish(subject, b"x", reply=reply))
    await assert_still_healthy(client)


MAX_SUBJECT = 2000
"""natsrs's documented bound for a subject, reply subject or queue group, in bytes."""


async def test_d_fields_at_the_bound_pass_through_a_real_server(client: natsrs.Client) -> None:
    """The bound keeps the longest lines (SUB with a queue, HPUB with a reply) within the
    server's default max_control_line."""
    subject = "L." + "s" * (MAX_SUBJECT - 2)
    reply = "R." + "r" * (MAX_SUBJECT - 2)
    sub = await w(client.subscribe(subject, queue="q" * MAX_SUBJECT))
    await w(client.flush())
    await w(client.publish(subject, b"x", reply=reply, headers={"k": "v"}))
    msg = await next_msg(sub)
    assert (msg.subject, msg.reply, msg.payload) == (subject, reply, b"x")
    await assert_still_healthy(client)


async def test_d_error_says_the_limit(client: natsrs.Client) -> None:
    with pytest.raises(natsrs.errors.BadSubjectError, match=str(MAX_SUBJECT)) as info:
        await w(client.publish("P." + "s" * MiB, b"x"))
    assert len(str(info.value)) < 500, "the message shows the limit, not the subject"


async def test_d_length_is_bounded_with_skip_subject_validation(
    nats_server: NatsServer,
) -> None:
    """The skip is about a subject's syntax, not its length."""
    nc = await w(natsrs.ConnectOptions().skip_subject_validation().connect(nats_server.url))
    try:
        await w(nc.publish("a..b", b"syntax is skipped"))
        for subject, reply in (("P." + "s" * LONG, None), ("P.x", "R." + "r" * LONG)):
            with pytest.raises(natsrs.errors.BadSubjectError):
                await w(nc.publish(subject, b"x", reply=reply))
        await assert_still_healthy(nc)
    finally:
        await w(nc.close())


async def assert_still_healthy(client: natsrs.Client) -> None:
    """A round trip works and the connection was never dropped."""
    sub = await w(client.subscribe("healthy.x"))
    await w(client.publish("healthy.x", b"ok"))
    assert (await next_msg(sub)).payload == b"ok"
    await w(client.flush())
    assert client.statistics().connects == 1, "the client reconnected"


# ---------------------------------------------------------------------------------------
# E: flush is a PING: a subscriber to `>` can neither stop it nor see it


async def test_e_flush_and_rtt_work_with_a_full_wildcard_subscriber(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    tap = await client_factory(nats_server.url)
    everything = await w(tap.subscribe(">"))
    # The tap's echo shows its SUB is live on the server.
    await w(tap.publish("tap.ready", b""))
    assert (await next_msg(everything)).subject == "tap.ready"
    nc = await client_factory(nats_server.url)
    await w(nc.flush(timeout=2), 5)
    assert await w(nc.rtt(), 5) >= 0
    await w(tap.flush(timeout=2), 5)
    assert everything.pending_msgs == 0, "flush and rtt published something"


# ---------------------------------------------------------------------------------------
# F: a cancelled next() must not take a message with it


COUNT = 40


async def queued_subscriber(nc: natsrs.Client, subject: str) -> natsrs.Subscriber:
    """A subscription with ``COUNT`` messages already queued in the client."""
    sub = await w(nc.subscribe(subject))
    for n in range(COUNT):
        await nc.publish(subject, b"%d" % n)
    await w(nc.flush())
    await wait_until(lambda: sub.pending_msgs == COUNT)
    return sub


def expected() -> list[bytes]:
    return [b"%d" % n for n in range(COUNT)]


def outcome(task: asyncio.Future[Any]) -> list[bytes]:
    """What a cancelled call handed over after all (a cancel that came too late)."""
    if task.cancelled() or task.exception() is not None:
        return []
    result = task.result()
    if result is None:
        return []
    if isinstance(result, list):
        return [m.payload for m in result]
    return [result.payload]


async def test_f_next_cancelled_before_it_runs_loses_nothing(client: natsrs.Client) -> None:
    sub = await queued_subscriber(client, "cancel.next")
    got: list[bytes] = []
    for _ in range(COUNT // 2):
        task = asyncio.ensure_future(sub.next())
        task.cancel()
        await asyncio.sleep(0)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        got += outcome(task)
    got += [m.payload for m in await until_idle(sub)]
    assert got == expected()


async def test_f_wait_for_zero_loses_nothing(client: natsrs.Client) -> None:
    sub = await queued_subscriber(client, "cancel.wait_for")
    got: list[bytes] = []
    for _ in range(COUNT // 2):
        try:
            msg = await asyncio.wait_for(sub.next(), 0)
        except asyncio.TimeoutError:
            continue
        if msg is not None:
            got.append(msg.payload)
    got += [m.payload for m in await until_idle(sub)]
    assert got == expected()


async def test_f_next_batch_cancelled_before_it_runs_loses_nothing(
    client: natsrs.Client,
) -> None:
    sub = await queued_subscriber(client, "cancel.batch")
    got: list[bytes] = []
    for _ in range(4):
        task = asyncio.ensure_future(sub.next_batch(5))
        task.cancel()
        await asyncio.sleep(0)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        got += outcome(task)
    got += [m.payload for m in await until_idle(sub)]
    assert got == expected()


# ---------------------------------------------------------------------------------------
# G: fork, outages, loops never closed


def run_in_fork_child(body: Callable[[], int], timeout: float = 10.0) -> int:
    """Fork; the child runs ``body`` and exits with its status (99 on an exception). The
    parent waits, bounded, and kills the child by its pid if it hangs."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 99
        try:
            status = body()
        finally:
            os._exit(status)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("the fork child hung")


def raises_in_child(make: Callable[[], Awaitable[None]]) -> int:
    """0: the call (or awaiting it) raised RuntimeError; 1: it succeeded; 2: other."""
    try:
        steps = make().__await__()
        try:
            next(steps)  # natsrs's awaitables are iterators, not always generators
        except StopIteration:
            return 1
        return 2  # still pending: neither an answer nor an error
    except RuntimeError:
        return 0
    except BaseException:
        return 2


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("call", ["publish", "publish_many"])
async def test_g_publish_in_a_fork_child_raises(client: natsrs.Client, call: str) -> None:
    await w(client.flush())

    def child() -> int:
        if call == "publish":
            return raises_in_child(lambda: client.publish("fork.x", b"lost?"))
        return raises_in_child(lambda: client.publish_many([("fork.x", b"lost?")]))

    assert run_in_fork_child(child) == 0


async def test_g_server_pool_answers_during_an_outage(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    nc = await client_factory(nats_server.url)
    events = nc.events()
    nats_server.stop()
    while (await w(events.__anext__())).kind != EventKind.DISCONNECTED:
        pass
    await asyncio.sleep(0.5)  # into the reconnect loop
    pool = await w(nc.server_pool(), 2)
    assert [server.addr for server in pool] == [nats_server.url]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_g_unclosed_event_loops_are_released(nats_server: NatsServer) -> None:
    """A loop dropped without close() is collected with its file descriptors, as it would
    be without natsrs."""

    async def use_natsrs() -> None:
        nc = await w(natsrs.connect(nats_server.url))
        sub = await w(nc.subscribe("loops.x"))
        await w(nc.publish("loops.x", b"x"))
        await next_msg(sub)
        await w(nc.close())

    def round_trip_on_a_loop_left_open() -> None:
        # asyncio's own loop: a uvloop loop left open is never collected, with or
        # without natsrs (uvloop keeps it alive itself), so it cannot show this.
        loop = asyncio.new_event_loop()
        loop.run_until_complete(use_natsrs())

    round_trip_on_a_loop_left_open()  # first use: one-time state (runtime, hub type)
    gc.collect()
    before = open_fds()
    loops = 20
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # the unclosed loops, on purpose
        for _ in range(loops):
            round_trip_on_a_loop_left_open()
            gc.collect()
    gc.collect()
    grown = open_fds() - before
    assert grown < loops, f"{grown} file descriptors kept by {loops} dropped loops"


# ---------------------------------------------------------------------------------------
# H: secrets


async def test_h_short_password_never_logged(
    nats_server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = nats_server_factory('authorization { users = [{ user: "bob", password: "x9Q" }] }')
    caplog.set_level(logging.DEBUG, logger="natsrs")
    natsrs.refresh_log_level()
    try:
        nc = await w(natsrs.connect(f"nats://bob:x9Q@127.0.0.1:{server.port}"))
        await w(nc.flush())
        await w(nc.close())
    finally:
        caplog.set_level(logging.WARNING, logger="natsrs")
        natsrs.refresh_log_level()
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("natsrs"))
    assert text, "the engine's DEBUG records reach the natsrs logger"
    assert "x9Q" not in text


async def test_h_comma_in_a_url_password_never_shown(
    nats_server_factory: ServerFactory,
) -> None:
    server = nats_server_factory(
        'authorization { users = [{ user: "dave", password: "hunter2,x" }] }'
    )
    url = f"nats://dave:hunter2,x@127.0.0.1:{server.port}"
    try:
        nc = await w(natsrs.connect(url))
    except natsrs.errors.Error as exc:
        chain: list[BaseException] = []
        cause: BaseException | None = exc
        while cause is not None and len(chain) < 10:
            chain.append(cause)
            cause = cause.__cause__ or cause.__context__
        for error in chain:
            assert "hunter2" not in str(error), repr(error)
            assert "hunter2" not in repr(error)
    else:
        try:
            await w(nc.flush())
            assert "hunter2" not in repr(nc.servers)
        finally:
            await w(nc.close())


async def test_h_nats_py_options_repr_hides_the_password(
    nats_server_factory: ServerFactory,
) -> None:
    server = nats_server_factory(
        'authorization { users = [{ user: "erin", password: "opt-secret-5d1" }] }'
    )
    nc = natsrs.NATS()
    await w(nc.connect(servers=[server.url], user="erin", password="opt-secret-5d1"))
    try:
        assert "opt-secret-5d1" not in repr(nc.options)
        assert "opt-secret-5d1" not in str(nc.options)
    finally:
        await w(nc.close())


# ---------------------------------------------------------------------------------------
# I: argument errors are ValueError/TypeError at the call


@pytest.mark.parametrize("setter", ["max_reconnects", "subscription_capacity"])
def test_i_negative_option_is_a_value_error(setter: str) -> None:
    with pytest.raises(ValueError):
        getattr(natsrs.ConnectOptions(), setter)(-1)


def test_i_local_address_port_out_of_range_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        natsrs.ConnectOptions().local_address(("127.0.0.1", 70000))


@pytest.mark.parametrize("call", ["unsubscribe_after", "unsubscribe", "next_batch"])
async def test_i_negative_subscriber_count_is_a_value_error(
    client: natsrs.Client, call: str
) -> None:
    sub = await w(client.subscribe("neg.x"))
    with pytest.raises(ValueError):
        await w(getattr(sub, call)(-1))


async def test_i_negative_max_msgs_is_a_value_error(client: natsrs.Client) -> None:
    with pytest.raises(ValueError):
        await w(client.subscribe("neg.y", max_msgs=-1))


async def test_i_subscribe_future_must_be_a_future(client: natsrs.Client) -> None:
    with pytest.raises(TypeError):
        await w(client.subscribe("fut.x", future="nope"))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# B: memory under a hostile server


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class RssWatch:
    """The largest growth of this process's resident set while sampled."""

    def __init__(self) -> None:
        gc.collect()
        self.base = rss()
        self.peak = self.base

    def sample(self) -> None:
        self.peak = max(self.peak, rss())

    @property
    def growth(self) -> int:
        return self.peak - self.base


BUDGET = 160 * MiB
"""What a hostile server streams (or less, if the client hangs up)."""
BOUND = 32 * MiB
"""Growth allowed: far above a healthy client (the engine's largest bounded buffer, an INFO
line, is 4 MiB; measured growth is under 8 MiB), far below buffering the budget. The
resident set is a noisy measure inside a test run (memory freed by earlier tests is reused
without growing it), so a pass alone is no proof of a bound; a failure is a regression."""
STREAM_FOR = 4.0
"""Seconds a hostile server keeps streaming at most."""


async def stream(peer: Peer, head: bytes, chunk: bytes, watch: RssWatch) -> int:
    """``head`` then ``chunk`` repeatedly, up to ``BUDGET`` bytes or ``STREAM_FOR``
    seconds, or until the client hangs up; returns the bytes sent."""
    peer.send(head)
    sent = len(head)
    deadline = time.monotonic() + STREAM_FOR
    try:
        while sent < BUDGET and time.monotonic() < deadline:
            peer.send(chunk)
            sent += len(chunk)
            await asyncio.wait_for(peer.writer.drain(), max(0.01, deadline - time.monotonic()))
            watch.sample()
    except (ConnectionError, asyncio.TimeoutError):
        pass
    return sent


async def sample_while(task: asyncio.Future[Any], watch: RssWatch) -> None:
    """Sample until ``task`` is done, for ``STREAM_FOR`` plus a margin at most."""
    deadline = time.monotonic() + STREAM_FOR + 5
    while not task.done() and time.monotonic() < deadline:
        watch.sample()
        await asyncio.sleep(0.02)
    if not task.done():
        task.cancel()


def mib(n: int) -> str:
    return f"{n / MiB:.1f} MiB"


@pytest.fixture
def rss_report(request: pytest.FixtureRequest) -> Callable[[RssWatch, int], None]:
    def report(watch: RssWatch, sent: int) -> None:
        print(f"{request.node.name}: streamed {mib(sent)}, RSS grew {mib(watch.growth)}")

    return report


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmRSS")
async def test_b_info_without_newline(rss_report: Callable[[RssWatch, int], None]) -> None:
    watch = RssWatch()
    sent = 0

    async def script(peer: Peer) -> None:
        nonlocal sent
        sent = await stream(peer, b'INFO {"server_id":"', b"x" * 65536, watch)

    async with FakeServer(script) as server:
        connecting = asyncio.ensure_future(
            natsrs.connect(server.url, connection_timeout=STREAM_FOR + 2, max_reconnects=0)
        )
        await sample_while(connecting, watch)
        with pytest.raises(natsrs.errors.Error):
            await w(connecting, STREAM_FOR + 5)
    rss_report(watch, sent)
    assert not server.errors, server.errors
    assert watch.growth < BOUND


async def connected_to(server: FakeServer) -> natsrs.Client:
    return await w(natsrs.connect(server.url, ping_interval=30.0))


async def stream_once_connected(
    head: bytes, chunk: bytes, rss_report: Callable[[RssWatch, int], None]
) -> None:
    """A fake server streams ``head`` then ``chunk`` repeatedly to a connected client;
    the client's resident set must stay within the bound."""
    watch = RssWatch()
    sent = 0
    streamed = asyncio.Event()

    async def script(peer: Peer) -> None:
        nonlocal sent
        await peer.handshake()
        if peer.index == 0:
            sent = await stream(peer, head, chunk, watch)
            streamed.set()
        await peer.serve()

    async with FakeServer(script) as server:
        nc = await connected_to(server)
        try:
            await sample_while(asyncio.ensure_future(streamed.wait()), watch)
            await asyncio.sleep(0.2)
            watch.sample()
        finally:
            await w(nc.close())
    rss_report(watch, sent)
    assert not server.errors, server.errors
    assert watch.growth < BOUND


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmRSS")
async def test_b_endless_control_line(rss_report: Callable[[RssWatch, int], None]) -> None:
    await stream_once_connected(b"MSG ", b"a" * 65536, rss_report)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmRSS")
async def test_b_msg_larger_than_max_payload(
    rss_report: Callable[[RssWatch, int], None],
) -> None:
    # The engine parses (and buffers) a MSG before it looks up the sid.
    await stream_once_connected(b"MSG big.x 1 %d\r\n" % (2 * 1024 * MiB), b"p" * 65536, rss_report)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmRSS")
async def test_b_ping_flood_to_a_client_that_cannot_write(
    rss_report: Callable[[RssWatch, int], None],
) -> None:
    watch = RssWatch()
    sent = 0
    streamed = asyncio.Event()

    async def script(peer: Peer) -> None:
        nonlocal sent
        await peer.handshake()
        # Never read again: the client's PONGs pile up once the socket buffers are full.
        sent = await stream(peer, b"", b"PING\r\n" * 10923, watch)
        streamed.set()
        await asyncio.sleep(STREAM_FOR)

    async with FakeServer(script) as server:
        nc = await connected_to(server)
        try:
            await sample_while(asyncio.ensure_future(streamed.wait()), watch)
            await asyncio.sleep(0.2)
            watch.sample()
        finally:
            with contextlib.suppress(asyncio.TimeoutError):
                await w(nc.close())
    rss_report(watch, sent)
    assert not server.errors, server.errors
    assert watch.growth < BOUND


ANNOUNCED = 20_000
"""connect_urls in one hostile INFO: quadratic discovery takes seconds, not minutes."""
DISCOVERED_CAP = 1000
"""Far above any real cluster's announcement, far below ``ANNOUNCED``."""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmRSS")
async def test_b_info_with_many_connect_urls(
    rss_report: Callable[[RssWatch, int], None],
) -> None:
    """The client connects and stays usable; the pool it keeps from one announcement is
    bounded (which also bounds the quadratic discovery)."""
    urls = [f"nats://10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}:4222" for n in range(ANNOUNCED)]
    info = info_line(connect_urls=urls)
    watch = RssWatch()

    async def script(peer: Peer) -> None:
        await peer.handshake(info)
        await peer.serve()

    async with FakeServer(script) as server:
        connecting = asyncio.ensure_future(natsrs.connect(server.url, connection_timeout=20.0))
        await sample_while(connecting, watch)
        nc = await w(connecting, 20)
        try:
            pool = await w(nc.server_pool())
            sub = await w(nc.subscribe("urls.x"))
            await w(nc.publish("urls.x", b"ok"))
            assert (await next_msg(sub)).payload == b"ok"
            watch.sample()
        finally:
            await w(nc.close())
    rss_report(watch, len(info))
    assert not server.errors, server.errors
    assert watch.growth < BOUND
    assert len(pool) <= 1 + DISCOVERED_CAP, f"{len(pool)} servers kept from one INFO"


def test_fake_server_info_line_is_json() -> None:
    """The fake server's INFO is the JSON the engine parses."""
    line = info_line(connect_urls=["nats://127.0.0.1:1"])
    assert line.startswith(b"INFO ") and line.endswith(b"\r\n")
    assert json.loads(line[5:])["connect_urls"] == ["nats://127.0.0.1:1"]


# ---------------------------------------------------------------------------------------
# Supervision: an engine connection task that dies is noticed and replaced
#
# No byte a server or a peer sends panics the engine's connection task any more (A.1,
# A.2 and C are fixed in the engine), yet natsrs keeps its supervision of that task: a
# panic no test has found must still cost a reconnect, not a client that says CONNECTED
# while nothing works. These tests make the task panic with a test-only engine command
# (``_natsrs._panic_engine_for_tests``, an engine patch nothing else sends) while it runs
# connected, as A.1's bytes did. Without supervision the dead task would never deliver
# again and both tests would fail.


async def test_supervision_notices_a_dead_engine_task_and_recovers(
    nats_server: NatsServer,
    client_factory: ClientFactory,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The death is reported (DISCONNECTED, then a CLIENT_ERROR whose ``ConnectError``
    says the task panicked), a new engine connects, the subscription receives what is
    published afterwards, and nothing is printed to stderr."""
    nc = await client_factory(nats_server.url)
    publisher = await client_factory(nats_server.url)
    events = nc.events()
    sub = await w(nc.subscribe("peer.>"))
    await w(nc.flush())
    capfd.readouterr()

    died = time.monotonic()
    assert _natsrs._panic_engine_for_tests(nc)
    took = await recovery_time(
        sub, lambda n: publisher.publish("peer.x", b"after-%d" % n), since=died
    )
    print(f"supervision: the subscriber received again {took:.3f}s after the panic")
    assert nc.connection_state == natsrs.ConnectionState.CONNECTED
    await w(nc.flush())
    await w(nc.close())
    seen = [event async for event in events]
    kinds = [event.kind for event in seen]
    assert kinds[:3] == [EventKind.DISCONNECTED, EventKind.CLIENT_ERROR, EventKind.CONNECTED]
    assert isinstance(seen[1].error, natsrs.errors.ConnectError)
    assert "natsrs test panic" in str(seen[1].error)
    assert_no_panic_output(capfd)


async def test_supervision_moves_callback_subscriptions_and_counters_too(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    """After the engine died and a new one took over, a ``cb=`` subscription receives
    again, a limit set with ``unsubscribe_after`` still counts what came before, and the
    reconnect shows in the counters."""
    nc = await client_factory(nats_server.url)
    publisher = await client_factory(nats_server.url)
    events = nc.events()
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_message(msg: natsrs.Message) -> None:
        await got.put(msg.payload)

    await w(nc.subscribe("peer.cb", cb=on_message))
    limited = await w(nc.subscribe("peer.limited"))
    await w(limited.unsubscribe_after(3))
    await w(nc.flush())  # both subscriptions live on the server
    await w(publisher.publish("peer.limited", b"1"))
    await w(publisher.flush())
    assert (await next_msg(limited)).payload == b"1"
    await w(nc.flush())

    assert _natsrs._panic_engine_for_tests(nc)
    kinds = []
    while (event := await w(events.__anext__())).kind != EventKind.CONNECTED:
        kinds.append(event.kind)
    assert kinds[:2] == [EventKind.DISCONNECTED, EventKind.CLIENT_ERROR], kinds

    async def keep_publishing() -> None:
        for n in itertools.count():
            await publisher.publish("peer.cb", b"after-%d" % n)
            await asyncio.sleep(0.05)

    publishing = asyncio.ensure_future(keep_publishing())
    try:
        assert (await w(got.get())).startswith(b"after-")
    finally:
        publishing.cancel()
    for n in (b"2", b"3", b"4"):
        await w(publisher.publish("peer.limited", n))
    await w(publisher.flush())
    rest = [m.payload async for m in limited]
    assert rest == [b"2", b"3"], rest
    assert nc.stats["reconnects"] == 1
    assert isinstance(nc.last_exception, natsrs.errors.ConnectError)
