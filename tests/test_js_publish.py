"""JetStream publishing (``nc.jetstream()``'s ``publish`` and ``publish_async``) against a
real JetStream server, over both clients (``natsrs.connect()``'s and ``natsrs.NATS()``).

nats-py 2.16's ``nats.js.client.JetStreamContext`` is the expected behaviour. Every test
has its own server on free ports; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

import natsrs
import natsrs as nats
from helpers import WAIT, next_msg, w, wait_until
from nats_py_helpers import assert_works, connect, nats_client
from natsrs._server import NatsServer
from natsrs.js import api
from natsrs.js.client import JetStreamContext
from natsrs.js.errors import (
    APIError,
    BadRequestError,
    NoStreamResponseError,
    NotFoundError,
    TooManyStalledMsgsError,
)

pytestmark = pytest.mark.timeout(120)


async def _stream(js: JetStreamContext, name: str = "S", **config: Any) -> None:
    await w(js.add_stream(name=name, subjects=[f"{name.lower()}.>"], **config))


async def _messages(js: JetStreamContext, stream: str = "S") -> int:
    info = await w(js.stream_info(stream))
    return info.state.messages


@contextlib.asynccontextmanager
async def _silent(js_server: NatsServer, subject: str) -> AsyncIterator[natsrs.Subscriber]:
    """A core subscriber on ``subject`` that takes every request and answers none: a
    publish there is neither answered by a stream nor told "no responders"."""
    silent = await w(natsrs.connect(js_server.url))
    try:
        sub = await w(silent.subscribe(subject))
        await w(silent.flush())
        yield sub
    finally:
        await w(silent.close())


def _process_state(pid: int) -> str:
    """The state letter ``/proc`` gives a process (``T``: stopped)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


# -- publish ---------------------------------------------------------------------------------


async def test_publish_returns_the_stream_s_pub_ack(js: JetStreamContext) -> None:
    await _stream(js)
    first = await w(js.publish("s.a", b"one"))
    second = await w(js.publish("s.b", b"two"))
    assert isinstance(first, api.PubAck)
    assert (first.stream, first.seq, first.sequence) == ("S", 1, 1)
    assert (second.stream, second.seq, second.sequence) == ("S", 2, 2)
    # Not a duplicate (the server leaves the field out), and no domain on this server.
    assert first.duplicate is None and first.domain is None
    assert await _messages(js) == 2
    stored = await w(js.get_msg("S", 2))
    assert (stored.subject, stored.data) == ("s.b", b"two")


async def test_msg_id_de_duplicates(js: JetStreamContext) -> None:
    await _stream(js)
    first = await w(js.publish("s.a", b"x", msg_id="order-1"))
    again = await w(js.publish("s.a", b"x", msg_id="order-1"))
    other = await w(js.publish("s.a", b"x", msg_id="order-2"))
    assert (first.seq, first.duplicate) == (1, None)
    assert (again.seq, again.duplicate) == (1, True)
    assert (other.seq, other.duplicate) == (2, None)
    assert await _messages(js) == 2
    stored = await w(js.get_msg("S", 1))
    assert stored.headers is not None and stored.headers["Nats-Msg-Id"] == "order-1"


async def test_publish_keeps_headers_on_the_stored_message(js: JetStreamContext) -> None:
    await _stream(js)
    ack = await w(js.publish("s.h", b"body", headers={"Trace": "abc", "X-Two": "2"}))
    stored = await w(js.get_msg("S", ack.seq))
    assert stored.data == b"body"
    assert stored.headers is not None
    assert (stored.headers["Trace"], stored.headers["X-Two"]) == ("abc", "2")
    # No headers given, none stored.
    plain = await w(js.publish("s.h", b"plain"))
    assert (await w(js.get_msg("S", plain.seq))).headers is None


async def test_publish_does_not_change_the_caller_s_headers(js: JetStreamContext) -> None:
    await _stream(js)
    headers = {"A": "1"}
    ack = await w(js.publish("s.h", b"", stream="S", headers=headers, msg_id="m"))
    assert headers == {"A": "1"}
    stored = await w(js.get_msg("S", ack.seq))
    assert stored.headers is not None
    assert (stored.headers["A"], stored.headers["Nats-Expected-Stream"]) == ("1", "S")


@pytest.mark.parametrize("payload", [b"raw", bytearray(b"raw"), memoryview(b"xrawx")[1:4]])
async def test_publish_takes_bytes_like_payloads(js: JetStreamContext, payload: Any) -> None:
    await _stream(js)
    ack = await w(js.publish("s.p", payload))
    assert (await w(js.get_msg("S", ack.seq))).data == b"raw"
    queued = await w(js.publish_async("s.p", payload))
    assert (await w(js.get_msg("S", (await w(queued)).seq))).data == b"raw"


async def test_publish_refuses_a_str_payload(js: JetStreamContext) -> None:
    await _stream(js)
    with pytest.raises(TypeError):
        await w(js.publish("s.p", "text"))  # type: ignore[arg-type]
    assert await _messages(js) == 0


async def test_expected_stream_mismatch_is_a_bad_request(js: JetStreamContext) -> None:
    await _stream(js)
    assert (await w(js.publish("s.a", b"", stream="S"))).seq == 1
    with pytest.raises(BadRequestError) as info:
        await w(js.publish("s.a", b"", stream="OTHER"))
    err = info.value
    assert isinstance(err, APIError) and isinstance(err, nats.errors.Error)
    assert (err.code, err.err_code) == (400, 10060)
    assert await _messages(js) == 1


async def test_expected_last_sequence(js: JetStreamContext) -> None:
    await _stream(js)
    await w(js.publish("s.a", b"1"))
    await w(js.publish("s.b", b"2"))
    ok = await w(js.publish("s.a", b"3", expected_last_sequence=2))
    assert ok.seq == 3
    with pytest.raises(BadRequestError) as info:
        await w(js.publish("s.a", b"4", expected_last_sequence=2))
    assert (info.value.code, info.value.err_code) == (400, 10071)
    assert await _messages(js) == 3


async def test_expected_last_subject_sequence(js: JetStreamContext) -> None:
    await _stream(js)
    await w(js.publish("s.a", b"1"))
    await w(js.publish("s.b", b"2"))
    # The last message on s.a is 1, whatever the stream's last is.
    ok = await w(js.publish("s.a", b"3", expected_last_subject_sequence=1))
    assert ok.seq == 3
    # 0: the subject must have no message yet.
    assert (await w(js.publish("s.c", b"4", expected_last_subject_sequence=0))).seq == 4
    with pytest.raises(BadRequestError) as info:
        await w(js.publish("s.a", b"5", expected_last_subject_sequence=1))
    assert (info.value.code, info.value.err_code) == (400, 10071)
    with pytest.raises(BadRequestError):
        await w(js.publish("s.c", b"6", expected_last_subject_sequence=0))
    assert await _messages(js) == 4


async def test_expected_last_msg_id(js: JetStreamContext) -> None:
    await _stream(js)
    await w(js.publish("s.a", b"1", msg_id="first"))
    ok = await w(js.publish("s.a", b"2", msg_id="second", expected_last_msg_id="first"))
    assert ok.seq == 2
    with pytest.raises(BadRequestError) as info:
        await w(js.publish("s.a", b"3", expected_last_msg_id="first"))
    assert (info.value.code, info.value.err_code) == (400, 10070)
    assert await _messages(js) == 2


async def test_msg_ttl_is_stored_and_the_message_expires(js: JetStreamContext) -> None:
    await _stream(js, allow_msg_ttl=True)
    short = await w(js.publish("s.t", b"short", msg_ttl=1))
    kept = await w(js.publish("s.t", b"kept"))
    stored = await w(js.get_msg("S", short.seq))
    assert stored.headers is not None and stored.headers["Nats-TTL"] == "1"
    deadline = time.monotonic() + WAIT
    while True:
        try:
            await w(js.get_msg("S", short.seq))
        except NotFoundError:
            break
        assert time.monotonic() < deadline, "the message outlived its TTL"
        await asyncio.sleep(0.1)
    assert (await w(js.get_msg("S", kept.seq))).data == b"kept"


async def test_msg_ttl_in_fractions_of_a_second_and_refused_ones(js: JetStreamContext) -> None:
    await _stream(js, allow_msg_ttl=True)
    ack = await w(js.publish("s.t", b"", msg_ttl=1.5))
    stored = await w(js.get_msg("S", ack.seq))
    assert stored.headers is not None and stored.headers["Nats-TTL"] == "1500ms"
    # The server's floor is one second.
    with pytest.raises(BadRequestError) as info:
        await w(js.publish("s.t", b"", msg_ttl=0.5))
    assert info.value.err_code == 10165
    with pytest.raises(ValueError):
        await w(js.publish("s.t", b"", msg_ttl=-1))


async def test_msg_ttl_on_a_stream_that_does_not_allow_it(js: JetStreamContext) -> None:
    await _stream(js)
    with pytest.raises(BadRequestError) as info:
        await w(js.publish("s.t", b"", msg_ttl=5))
    assert (info.value.code, info.value.err_code) == (400, 10166)


async def test_no_stream_is_no_stream_response(js: JetStreamContext, js_nc: Any) -> None:
    await _stream(js)
    with pytest.raises(NoStreamResponseError) as info:
        await w(js.publish("nowhere", b"x"))
    assert isinstance(info.value, nats.js.errors.Error)
    assert str(info.value) == "nats: no response from stream"
    await assert_works(js_nc)
    assert (await w(js.publish("s.a", b"x"))).seq == 1


async def test_publish_times_out_when_nobody_answers(
    js: JetStreamContext, js_nc: Any, js_server: NatsServer
) -> None:
    async with _silent(js_server, "silent.>") as sub:
        started = time.monotonic()
        with pytest.raises(nats.errors.TimeoutError):
            await w(js.publish("silent.a", b"x", timeout=0.3))
        assert time.monotonic() - started >= 0.25
        assert (await next_msg(sub)).subject == "silent.a"
        # The context's own timeout when the call gives none.
        quick = js_nc.jetstream(timeout=0.3)
        with pytest.raises(nats.errors.TimeoutError):
            await w(quick.publish("silent.b", b"x"))
    await assert_works(js_nc)


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads /proc")
async def test_publish_times_out_when_the_stream_s_server_stalls(
    js: JetStreamContext, js_nc: Any, js_server: NatsServer
) -> None:
    await _stream(js)
    # A stopped server takes the publish into its socket and answers nothing until it
    # runs again: the stream itself is late.
    os.kill(js_server.pid, signal.SIGSTOP)
    try:
        # The stop reaches every thread of the server a moment after kill() returns.
        await wait_until(lambda: _process_state(js_server.pid) == "T")
        with pytest.raises(nats.errors.TimeoutError):
            await w(js.publish("s.a", b"late", timeout=0.5))
    finally:
        os.kill(js_server.pid, signal.SIGCONT)
    # The late ack goes nowhere; the next publish gets its own.
    assert (await w(js.publish("s.a", b"next"))).seq == 2
    await assert_works(js_nc)


@pytest.mark.parametrize("subject", ["", "has space", "tab\there", "a..b", ".a", "a."])
async def test_bad_subject_is_refused_and_the_client_still_works(
    js: JetStreamContext, js_nc: Any, subject: str
) -> None:
    await _stream(js)
    with pytest.raises(nats.errors.BadSubjectError):
        await w(js.publish(subject, b"x"))
    with pytest.raises(nats.errors.BadSubjectError):
        await w(js.publish_async(subject, b"x"))
    assert js.publish_async_pending() == 0
    await assert_works(js_nc)
    assert (await w(js.publish("s.a", b"x"))).seq == 1


async def test_bad_headers_and_timeouts_are_refused(js: JetStreamContext) -> None:
    await _stream(js)
    with pytest.raises(nats.errors.BadHeaderError):
        await w(js.publish("s.a", b"x", headers={"Bad:Name": "v"}))
    with pytest.raises(ValueError):
        await w(js.publish("s.a", b"x", timeout=-1))
    with pytest.raises(ValueError):
        await w(js.publish_async("s.a", b"x", wait_stall=-1))
    assert await _messages(js) == 0


async def test_publish_on_a_closed_client(js_nc: Any) -> None:
    js = js_nc.jetstream()
    await w(js.add_stream(name="S", subjects=["s.>"]))
    await w(js_nc.close())
    with pytest.raises(nats.errors.ConnectionClosedError):
        await w(js.publish("s.a", b"x"))
    with pytest.raises(nats.errors.ConnectionClosedError):
        await w(js.publish_async("s.a", b"x"))
    assert js.publish_async_pending() == 0


# -- PubAck ----------------------------------------------------------------------------------


def test_pub_ack_value_semantics() -> None:
    ack = api.PubAck(stream="S", seq=3)
    same = api.PubAck("S", 3)
    dup = api.PubAck(stream="S", seq=3, duplicate=True)
    assert ack == same and hash(ack) == hash(same)
    assert ack != dup and ack != api.PubAck(stream="T", seq=3)
    assert len({ack, same, dup}) == 2
    assert ack.sequence == 3
    assert repr(ack) == (
        "PubAck(stream='S', seq=3, domain=None, duplicate=None, batch_id=None, "
        "batch_size=None, val=None)"
    )
    with pytest.raises(AttributeError):
        ack.seq = 4  # type: ignore[misc]


def test_pub_ack_as_dict_is_the_wire_form() -> None:
    assert api.PubAck(stream="S", seq=3).as_dict() == {"stream": "S", "seq": 3}
    full = api.PubAck(
        stream="S", seq=3, domain="hub", duplicate=True, batch_id="b", batch_size=2, val="7"
    )
    assert full.as_dict() == {
        "stream": "S",
        "seq": 3,
        "domain": "hub",
        "duplicate": True,
        "batch": "b",
        "count": 2,
        "val": "7",
    }


def test_pub_ack_from_response_and_evolve() -> None:
    wire = {"stream": "S", "seq": 9, "domain": "hub", "batch": "b", "count": 4, "new": 1}
    ack = api.PubAck.from_response(wire)
    assert (ack.stream, ack.seq, ack.domain) == ("S", 9, "hub")
    assert (ack.batch_id, ack.batch_size, ack.duplicate) == ("b", 4, None)
    assert api.PubAck.from_response(ack.as_dict()) == ack
    with pytest.raises(KeyError):
        api.PubAck.from_response({"seq": 1})
    moved = ack.evolve(seq=10, duplicate=True)
    assert (moved.seq, moved.duplicate, moved.stream, moved.batch_id) == (10, True, "S", "b")
    assert (ack.seq, ack.duplicate) == (9, None)


# -- publish_async ---------------------------------------------------------------------------


async def test_publish_async_acks_arrive_in_order(js: JetStreamContext) -> None:
    await _stream(js)
    futures = [await w(js.publish_async("s.a", str(i).encode())) for i in range(200)]
    await w(js.publish_async_completed())
    assert js.publish_async_pending() == 0
    acks = [await w(f) for f in futures]
    assert [a.seq for a in acks] == list(range(1, 201))
    assert {a.stream for a in acks} == {"S"}
    assert await _messages(js) == 200
    assert (await w(js.get_msg("S", 200))).data == b"199"


async def test_publish_async_completed_with_none_pending(js: JetStreamContext) -> None:
    assert js.publish_async_pending() == 0
    await w(js.publish_async_completed())
    await w(js.publish_async_completed())


async def test_publish_async_passes_the_publish_options(js: JetStreamContext) -> None:
    await _stream(js, allow_msg_ttl=True)
    ack = await w(
        await w(
            js.publish_async("s.a", b"x", stream="S", headers={"K": "v"}, msg_ttl=60, msg_id="id-1")
        )
    )
    stored = await w(js.get_msg("S", ack.seq))
    assert stored.headers is not None
    assert (stored.headers["K"], stored.headers["Nats-TTL"]) == ("v", "60")
    assert stored.headers["Nats-Msg-Id"] == "id-1"
    dup = await w(await w(js.publish_async("s.a", b"x", msg_id="id-1")))
    assert (dup.seq, dup.duplicate) == (1, True)
    mismatch = await w(js.publish_async("s.a", b"x", expected_last_sequence=7))
    with pytest.raises(BadRequestError) as info:
        await w(mismatch)
    assert info.value.err_code == 10071
    wrong = await w(js.publish_async("s.a", b"x", stream="OTHER"))
    with pytest.raises(BadRequestError):
        await w(wrong)
    await w(js.publish_async_completed())
    assert js.publish_async_pending() == 0


async def test_publish_async_counts_pending_acks_and_stalls(
    js_nc: Any, js_server: NatsServer
) -> None:
    js = js_nc.jetstream(timeout=1.0, publish_async_max_pending=2)
    async with _silent(js_server, "held.>"):
        first = await w(js.publish_async("held.a", b"1"))
        assert js.publish_async_pending() == 1
        second = await w(js.publish_async("held.b", b"2"))
        assert js.publish_async_pending() == 2
        with pytest.raises(TooManyStalledMsgsError) as info:
            await w(js.publish_async("held.c", b"3", wait_stall=0.0))
        assert isinstance(info.value, nats.js.errors.Error)
        started = time.monotonic()
        with pytest.raises(TooManyStalledMsgsError):
            await w(js.publish_async("held.c", b"3", wait_stall=0.2))
        assert time.monotonic() - started >= 0.15
        assert js.publish_async_pending() == 2
        # Nobody answers: each ack ends in the context's timeout and gives its slot back.
        for future in (first, second):
            with pytest.raises(nats.errors.TimeoutError):
                await w(future)
        await w(js.publish_async_completed())
        assert js.publish_async_pending() == 0


async def test_a_freed_slot_lets_a_waiting_publish_through(
    js_nc: Any, js_server: NatsServer
) -> None:
    js = js_nc.jetstream(timeout=1.0, publish_async_max_pending=1)
    async with _silent(js_server, "held.>") as held:
        first = await w(js.publish_async("held.a", b"1"))
        request = await next_msg(held)
        waiting = asyncio.ensure_future(w(js.publish_async("held.b", b"2", wait_stall=WAIT)))
        # Neither resolved nor sent while the window is full.
        with pytest.raises(nats.errors.TimeoutError):
            await w(held.next(timeout=0.3))
        assert not waiting.done()
        completed = asyncio.ensure_future(w(js.publish_async_completed()))
        # The stand-in stream answers the first publish: its slot frees the second.
        await w(request.respond(b'{"stream":"H","seq":7}'))
        assert await w(first) == api.PubAck(stream="H", seq=7)
        second = await w(waiting)
        assert (await next_msg(held)).subject == "held.b"
        assert js.publish_async_pending() == 1
        done, _ = await asyncio.wait({completed}, timeout=0.2)
        assert not done, "completed() resolved with an ack still in flight"
        assert js.publish_async_pending() == 1
    with pytest.raises(nats.errors.TimeoutError):
        await w(second)
    await w(completed)
    assert js.publish_async_pending() == 0


async def test_an_ack_nobody_awaits_still_frees_its_slot(js_nc: Any) -> None:
    js = js_nc.jetstream(publish_async_max_pending=1)
    await w(js.add_stream(name="S", subjects=["s.>"]))
    await w(js.publish_async("s.a", b"unawaited"))  # its ack future is dropped
    await w(js.publish_async_completed())
    assert js.publish_async_pending() == 0
    # The slot is free again: no stall even when stalling is not allowed.
    again = await w(js.publish_async("s.a", b"next", wait_stall=0.0))
    assert (await w(again)).seq == 2
    assert (await w(js.get_msg("S", 1))).data == b"unawaited"


async def test_publish_async_to_no_stream(js: JetStreamContext) -> None:
    future = await w(js.publish_async("nowhere", b"x"))
    with pytest.raises(NoStreamResponseError):
        await w(future)
    await w(js.publish_async_completed())
    assert js.publish_async_pending() == 0


async def test_close_with_acks_in_flight(js_nc: Any, js_server: NatsServer) -> None:
    js = js_nc.jetstream(timeout=30, publish_async_max_pending=2)
    async with _silent(js_server, "held.>"):
        in_flight = [await w(js.publish_async(f"held.{i}", b"1")) for i in range(2)]
        completed = asyncio.ensure_future(w(js.publish_async_completed()))
        await asyncio.sleep(0.1)
        assert not completed.done()
        assert js.publish_async_pending() == 2
        await w(js_nc.close())
        # Each ends at once with the closed connection's error, not the 30 s timeout.
        for ack in in_flight:
            with pytest.raises(nats.errors.ConnectionClosedError):
                await w(ack)
        with contextlib.suppress(nats.errors.ConnectionClosedError):
            await w(completed)
        assert js.publish_async_pending() == 0


async def test_close_fails_a_publish_waiting_for_a_slot(js_nc: Any, js_server: NatsServer) -> None:
    js = js_nc.jetstream(timeout=30, publish_async_max_pending=1)
    async with _silent(js_server, "held.>") as held:
        in_flight = await w(js.publish_async("held.a", b"1"))
        waiting = asyncio.ensure_future(w(js.publish_async("held.b", b"2")))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        await w(js_nc.close())
        with pytest.raises(nats.errors.ConnectionClosedError):
            await w(in_flight)
        try:
            outcome = await w(waiting)
        except nats.errors.ConnectionClosedError:
            outcome = None
        # Whichever way it ends, the message never went out.
        assert (await next_msg(held)).subject == "held.a"
        with pytest.raises(nats.errors.TimeoutError):
            await w(held.next(timeout=0.2))
        assert outcome is None, f"a publish after close resolved to {outcome!r}"


# -- a server with a JetStream domain --------------------------------------------------------


@pytest.mark.parametrize("kind", ["connect", "NATS"])
async def test_a_domain_s_stream(nats_server_factory: Any, opened: list[Any], kind: str) -> None:
    server = nats_server_factory("jetstream { domain: hub }", jetstream=True)
    if kind == "connect":
        nc = await connect(opened, server.url)
    else:
        nc = await nats_client(opened, server.url)
    js = nc.jetstream(domain="hub")
    assert js._prefix == "$JS.hub.API"
    await w(js.add_stream(name="S", subjects=["s.>"]))
    ack = await w(js.publish("s.a", b"x"))
    assert (ack.stream, ack.seq, ack.domain) == ("S", 1, "hub")
    assert ack.as_dict() == {"stream": "S", "seq": 1, "domain": "hub"}
    queued = await w(await w(js.publish_async("s.a", b"y")))
    assert (queued.seq, queued.domain) == (2, "hub")
    # Pulled and acknowledged through the domain's API as well.
    sub = await w(js.pull_subscribe("s.a", "d"))
    msgs = await w(sub.fetch(2))
    assert [m.data for m in msgs] == [b"x", b"y"]
    for msg in msgs:
        await w(msg.ack_sync())
    assert (await w(sub.consumer_info())).num_ack_pending == 0
    # Another domain has nobody answering.
    with pytest.raises(nats.js.errors.ServiceUnavailableError):
        await w(nc.jetstream(domain="elsewhere", timeout=1).stream_info("S"))
