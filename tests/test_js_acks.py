"""Acknowledging JetStream messages (``Message.ack``, ``ack_sync``, ``double_ack``,
``nak``, ``in_progress``, ``term``) and their ``metadata``, against a real JetStream server
over both clients (``natsrs.connect()``'s and ``natsrs.NATS()``).

nats-py 2.16's ``nats.aio.msg.Msg`` is the expected behaviour. Ack waits are kept short
(0.5-1 s); every wait is bounded.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time
from typing import Any

import pytest

import natsrs
import natsrs as nats
from helpers import WAIT, next_msg, w
from natsrs.aio.msg import Metadata, SequencePair, _metadata
from natsrs.js import api
from natsrs.js.client import JetStreamContext, PullSubscription
from natsrs.js.errors import MsgAlreadyAckdError, NotJSMessageError

pytestmark = pytest.mark.timeout(120)


def _nats_py_metadata(reply: str) -> Any:
    """nats-py's reading of ``reply`` (the test compares with it; skipped without nats-py)."""
    msg = pytest.importorskip("nats.aio.msg")
    return msg.Msg.Metadata._from_reply(reply)


UTC = datetime.timezone.utc


async def _consumer(
    js: JetStreamContext, count: int = 1, ack_wait: float = 30.0
) -> PullSubscription:
    """Stream ``S`` with ``count`` messages on ``s.a`` and a durable pull consumer ``d``."""
    await w(js.add_stream(name="S", subjects=["s.>"]))
    for i in range(count):
        await w(js.publish("s.a", str(i).encode()))
    config = api.ConsumerConfig(ack_wait=ack_wait, ack_policy=api.AckPolicy.EXPLICIT)
    return await w(js.pull_subscribe("s.a", "d", config=config))


async def _one(sub: PullSubscription) -> natsrs.Message:
    msgs = await w(sub.fetch(1))
    assert len(msgs) == 1
    return msgs[0]


async def _nothing_within(sub: PullSubscription, timeout: float) -> None:
    """No message is (re)delivered to ``sub`` for ``timeout`` seconds."""
    with pytest.raises(nats.errors.TimeoutError):
        await w(sub.fetch(1, timeout=timeout), timeout + WAIT)


async def _settled(sub: PullSubscription) -> api.ConsumerInfo:
    """The consumer's info once it has no unacknowledged message (acks are async)."""
    info: list[api.ConsumerInfo] = []

    async def poll() -> None:
        while True:
            info[:] = [await sub.consumer_info()]
            if info[0].num_ack_pending == 0:
                return
            await asyncio.sleep(0.05)

    await w(poll())
    return info[0]


# -- ack -------------------------------------------------------------------------------------


async def test_without_an_ack_the_message_comes_back(js: JetStreamContext) -> None:
    # What the ack tests rely on: an unacknowledged message is delivered again.
    sub = await _consumer(js, ack_wait=0.5)
    first = await _one(sub)
    again = await w(sub.fetch(1, timeout=WAIT))
    assert again[0].metadata.sequence.stream == first.metadata.sequence.stream
    assert again[0].metadata.num_delivered == 2


async def test_ack_stops_redelivery(js: JetStreamContext) -> None:
    sub = await _consumer(js, ack_wait=0.5)
    msg = await _one(sub)
    assert (msg.is_acked, msg._ackd) == (False, False)
    assert await w(msg.ack()) is None
    assert (msg.is_acked, msg._ackd) == (True, True)
    info = await _settled(sub)
    assert info.ack_floor.stream_seq == 1
    await _nothing_within(sub, 1.0)
    assert (await w(sub.consumer_info())).num_redelivered == 0


async def test_ack_sync_returns_the_server_s_confirmation(js: JetStreamContext) -> None:
    sub = await _consumer(js, count=2)
    first, second = await w(sub.fetch(2))
    reply = await w(first.ack_sync())
    assert isinstance(reply, natsrs.Message) and reply.data == b""
    assert first.is_acked
    # Confirmed: the server has it already, no polling needed.
    info = await w(sub.consumer_info())
    assert (info.ack_floor.stream_seq, info.num_ack_pending) == (1, 1)
    assert await w(second.double_ack(timeout=2)) is None
    assert second.is_acked
    info = await w(sub.consumer_info())
    assert (info.ack_floor.stream_seq, info.num_ack_pending) == (2, 0)


async def test_ack_sync_times_out_when_nobody_confirms(raw: natsrs.Client) -> None:
    # A reply subject somebody takes and never answers.
    silent = await w(raw.subscribe("silent.reply"))
    sub = await w(raw.subscribe("core"))
    await w(raw.publish("core", b"x", reply="silent.reply"))
    msg = await next_msg(sub)
    started = time.monotonic()
    with pytest.raises(nats.errors.TimeoutError):
        await w(msg.ack_sync(timeout=0.3))
    assert time.monotonic() - started >= 0.25
    assert (await next_msg(silent)).data == b"+ACK"


# -- nak -------------------------------------------------------------------------------------


async def test_nak_redelivers_at_once(js: JetStreamContext) -> None:
    sub = await _consumer(js)
    msg = await _one(sub)
    assert msg.metadata.num_delivered == 1
    await w(msg.nak())
    assert msg.is_acked
    # Long before the 30 s ack wait would bring it back.
    again = (await w(sub.fetch(1, timeout=WAIT)))[0]
    assert again.data == msg.data == b"0"
    assert again.metadata.sequence.stream == 1
    assert (again.metadata.num_delivered, again.metadata.sequence.consumer) == (2, 2)
    await w(again.ack())


@pytest.mark.parametrize("delay", [1.0, 1, datetime.timedelta(seconds=1)])
async def test_nak_with_a_delay(js: JetStreamContext, delay: Any) -> None:
    sub = await _consumer(js)
    msg = await _one(sub)
    naked = time.monotonic()
    await w(msg.nak(delay=delay))
    await _nothing_within(sub, 0.5)
    again = await w(sub.fetch(1, timeout=WAIT))
    assert time.monotonic() - naked >= 0.9
    assert (again[0].metadata.sequence.stream, again[0].metadata.num_delivered) == (1, 2)


async def test_nak_delay_must_not_be_negative(js: JetStreamContext) -> None:
    sub = await _consumer(js)
    msg = await _one(sub)
    with pytest.raises(ValueError):
        await w(msg.nak(delay=-1))
    assert not msg.is_acked
    await w(msg.ack())


# -- in_progress and term --------------------------------------------------------------------


async def test_in_progress_extends_the_ack_wait_and_settles_nothing(
    js: JetStreamContext,
) -> None:
    sub = await _consumer(js, ack_wait=1.0)
    msg = await _one(sub)
    # Three times 0.6 s: past the 1 s ack wait, never redelivered while in progress.
    for _ in range(3):
        await w(msg.in_progress())
        await _nothing_within(sub, 0.6)
    assert not msg.is_acked
    info = await w(sub.consumer_info())
    assert (info.num_ack_pending, info.num_redelivered) == (1, 0)
    await w(msg.ack())
    await _settled(sub)


async def test_term_stops_redelivery(js: JetStreamContext) -> None:
    sub = await _consumer(js, ack_wait=0.5)
    msg = await _one(sub)
    await w(msg.term())
    assert msg.is_acked
    await _settled(sub)
    await _nothing_within(sub, 1.0)
    assert (await w(sub.consumer_info())).num_redelivered == 0


async def test_term_with_a_reason_reaches_the_advisory(
    js: JetStreamContext, raw: natsrs.Client
) -> None:
    sub = await _consumer(js)
    advisories = await w(raw.subscribe("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.d"))
    await w(raw.flush())
    msg = await _one(sub)
    with pytest.raises(ValueError):
        await w(msg.term("two\nlines"))
    assert not msg.is_acked
    await w(msg.term("bad payload"))
    advisory = json.loads((await next_msg(advisories)).data)
    assert (advisory["stream_seq"], advisory["reason"]) == (1, "bad payload")


# -- what each ack sends ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ack", "wire"),
    [
        (lambda m: m.ack(), b"+ACK"),
        (lambda m: m.nak(), b"-NAK"),
        (lambda m: m.nak(delay=1.5), b'-NAK {"delay": 1500000000}'),
        (lambda m: m.nak(delay=0), b"-NAK"),
        (lambda m: m.in_progress(), b"+WPI"),
        (lambda m: m.term(), b"+TERM"),
        (lambda m: m.term("why"), b"+TERM why"),
    ],
)
async def test_acks_publish_the_server_s_protocol_to_the_reply(
    raw: natsrs.Client, ack: Any, wire: bytes
) -> None:
    acks = await w(raw.subscribe("acks.here"))
    sub = await w(raw.subscribe("core"))
    await w(raw.publish("core", b"x", reply="acks.here"))
    msg = await next_msg(sub)
    await w(ack(msg))
    received = await next_msg(acks)
    assert received.data == wire


# -- settling twice, and messages that are not JetStream's -----------------------------------

_SETTLING = {
    "ack": lambda m: m.ack(),
    "ack_sync": lambda m: m.ack_sync(),
    "double_ack": lambda m: m.double_ack(),
    "nak": lambda m: m.nak(),
    "term": lambda m: m.term(),
}


@pytest.mark.parametrize("first", ["ack", "ack_sync", "nak", "term"])
@pytest.mark.parametrize("second", sorted(_SETTLING))
async def test_a_second_settling_ack_is_refused(
    js: JetStreamContext, first: str, second: str
) -> None:
    sub = await _consumer(js)
    msg = await _one(sub)
    await w(_SETTLING[first](msg))
    with pytest.raises(MsgAlreadyAckdError) as info:
        await w(_SETTLING[second](msg))
    assert isinstance(info.value, nats.js.errors.Error)
    assert str(info.value).startswith("nats: message was already acknowledged: ")
    # Still in progress is no settling: allowed after it, as in nats-py.
    await w(msg.in_progress())
    assert msg.is_acked


async def test_msg_already_ackd_error_carries_the_message(js: JetStreamContext) -> None:
    sub = await _consumer(js)
    msg = await _one(sub)
    await w(msg.ack())
    with pytest.raises(MsgAlreadyAckdError) as info:
        await w(msg.ack())
    assert info.value._msg is msg


@pytest.mark.parametrize(
    "ack",
    [
        lambda m: m.ack(),
        lambda m: m.ack_sync(),
        lambda m: m.double_ack(),
        lambda m: m.nak(),
        lambda m: m.nak(delay=1),
        lambda m: m.in_progress(),
        lambda m: m.term(),
        lambda m: m.term("why"),
    ],
)
async def test_acks_on_a_message_without_reply(raw: natsrs.Client, ack: Any) -> None:
    sub = await w(raw.subscribe("core"))
    await w(raw.publish("core", b"x"))
    msg = await next_msg(sub)
    with pytest.raises(NotJSMessageError) as info:
        await w(ack(msg))
    assert isinstance(info.value, nats.errors.Error)
    assert str(info.value) == "nats: not a JetStream message"
    assert not msg.is_acked


async def test_ack_on_a_closed_client(js_nc: Any) -> None:
    js = js_nc.jetstream()
    sub = await _consumer(js)
    msg = await _one(sub)
    await w(js_nc.close())
    with pytest.raises(nats.errors.ConnectionClosedError):
        await w(msg.ack())


# -- metadata --------------------------------------------------------------------------------


async def test_metadata_of_delivered_messages(js: JetStreamContext) -> None:
    sub = await _consumer(js, count=2)
    first, second = await w(sub.fetch(2))
    meta = first.metadata
    assert isinstance(meta, Metadata) and isinstance(meta.sequence, SequencePair)
    assert (meta.stream, meta.consumer, meta.domain) == ("S", "d", None)
    assert (meta.sequence.stream, meta.sequence.consumer) == (1, 1)
    assert (meta.num_delivered, meta.num_pending) == (1, 1)
    assert (second.metadata.sequence.stream, second.metadata.num_pending) == (2, 0)
    assert meta.timestamp.tzinfo is not None and meta.timestamp.utcoffset() == datetime.timedelta(0)
    stored = await w(js.get_msg("S", 1))
    assert stored.time is not None
    assert abs(meta.timestamp - stored.time) < datetime.timedelta(milliseconds=1)
    # Parsed once: the same object each time.
    assert first.metadata is meta
    # nats-py reads the same reply subject the same way.
    theirs = _nats_py_metadata(first.reply)
    assert (theirs.stream, theirs.consumer, theirs.num_pending, theirs.num_delivered) == (
        meta.stream,
        meta.consumer,
        meta.num_pending,
        meta.num_delivered,
    )
    assert theirs.domain == meta.domain
    # nats-py divides by a float, rounding the nanoseconds twice: a microsecond apart at
    # most.
    assert abs(theirs.timestamp - meta.timestamp) <= datetime.timedelta(microseconds=1)
    # The only message to deliver next is the nacked one.
    await w(first.nak())
    redelivered = (await w(sub.fetch(1, timeout=WAIT)))[0].metadata
    assert (redelivered.sequence.stream, redelivered.sequence.consumer) == (1, 3)
    assert redelivered.num_delivered == 2


async def test_metadata_of_a_core_message(raw: natsrs.Client) -> None:
    sub = await w(raw.subscribe("core"))
    await w(raw.publish("core", b"x"))
    await w(raw.publish("core", b"x", reply="not.a.js.reply"))
    for _ in range(2):
        msg = await next_msg(sub)
        with pytest.raises(NotJSMessageError):
            msg.metadata  # noqa: B018


@pytest.mark.parametrize(
    ("reply", "domain"),
    [
        ("$JS.ACK.S.d.2.10.5.1700000000123456789.3", None),
        ("$JS.ACK.hub.ACCHASH.S.d.2.10.5.1700000000123456789.3.rnd", "hub"),
        ("$JS.ACK._.ACCHASH.S.d.2.10.5.1700000000123456789.3.rnd", ""),
        ("$JS.ACK.hub.ACCHASH.S.d.2.10.5.1700000000123456789.3", "hub"),
    ],
)
def test_metadata_reply_formats(reply: str, domain: str | None) -> None:
    meta = _metadata(reply)
    assert (meta.stream, meta.consumer, meta.domain) == ("S", "d", domain)
    assert (meta.num_delivered, meta.sequence.stream, meta.sequence.consumer) == (2, 10, 5)
    assert meta.num_pending == 3
    assert meta.timestamp == datetime.datetime(2023, 11, 14, 22, 13, 20, 123457, tzinfo=UTC)
    theirs = _nats_py_metadata(reply)
    assert (theirs.domain, theirs.sequence.stream) == (meta.domain, meta.sequence.stream)


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "not.js",
        "$JS.ACK.S.d.1.1.1",
        "$JS.ACK.S.d.1.1.1.1.1.1",
        "$JS.ACK.S.d.x.1.1.1.1",
        "$JS.API.S.d.1.1.1.1.1",
        "$JS.ACK.hub.ACCHASH.S.d.2.10.5.stamp.3.rnd",
    ],
)
def test_metadata_of_bad_reply_subjects(reply: str) -> None:
    with pytest.raises(NotJSMessageError):
        _metadata(reply)
