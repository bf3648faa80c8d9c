"""JetStream pull subscriptions (``pull_subscribe``, ``pull_subscribe_bind``, ``fetch``)
against a real JetStream server, over both clients (``natsrs.connect()``'s and
``natsrs.NATS()``).

nats-py 2.16's ``JetStreamContext.PullSubscription`` is the expected behaviour. Every test
has its own server on free ports; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import pytest

import natsrs
import natsrs as nats
from helpers import SLOW_WAIT, WAIT, next_msg, w, wait_until
from natsrs.js import api
from natsrs.js.client import JetStreamContext, PullSubscription
from natsrs.js.errors import APIError, FetchTimeoutError, NotFoundError, ServiceUnavailableError

if TYPE_CHECKING:
    from conftest import ServerFactory

pytestmark = pytest.mark.timeout(120)


async def _stream(js: JetStreamContext, count: int = 0, subject: str = "s.a") -> None:
    """Stream ``S`` on ``s.>`` with ``count`` messages ``0``, ``1``, ... on ``subject``."""
    await w(js.add_stream(name="S", subjects=["s.>"]))
    for i in range(count):
        await w(js.publish(subject, str(i).encode()))


def _seqs(msgs: list[natsrs.Message]) -> list[int]:
    return [m.metadata.sequence.stream for m in msgs]


async def _times_out(
    sub: PullSubscription, batch: int, timeout: float, **kwargs: Any
) -> BaseException:
    """``fetch`` fails with a timeout error, not before ``timeout``; the error."""
    started = time.monotonic()
    with pytest.raises(nats.errors.TimeoutError) as info:
        await w(sub.fetch(batch, timeout=timeout, **kwargs), timeout + WAIT)
    assert time.monotonic() - started >= timeout * 0.9
    return info.value


# -- subscribing -----------------------------------------------------------------------------


async def test_pull_subscribe_durable_is_made_then_reused(js: JetStreamContext) -> None:
    await _stream(js, 2)
    sub = await w(js.pull_subscribe("s.a", "worker"))
    assert isinstance(sub, PullSubscription)
    info = await w(js.consumer_info("S", "worker"))
    assert (info.name, info.config.durable_name, info.config.filter_subject) == (
        "worker",
        "worker",
        "s.a",
    )
    assert [m.data for m in await w(sub.fetch(1))] == [b"0"]
    # A second subscription binds to the same consumer: it goes on where the first left.
    again = await w(js.pull_subscribe("s.a", "worker", config=api.ConsumerConfig(ack_wait=99)))
    assert (await w(js.consumer_info("S", "worker"))).created == info.created
    assert (await w(js.consumer_info("S", "worker"))).config.ack_wait != 99
    assert [m.data for m in await w(again.fetch(1))] == [b"1"]
    assert len(await w(js.consumers_info("S"))) == 1


async def test_pull_subscribe_ephemeral(js: JetStreamContext) -> None:
    await _stream(js, 1)
    sub = await w(js.pull_subscribe("s.a", config=api.ConsumerConfig(ack_wait=30)))
    consumers = await w(js.consumers_info("S"))
    assert len(consumers) == 1
    info = consumers[0]
    assert info.config.durable_name is None and info.name
    assert (info.config.filter_subject, info.config.ack_wait) == ("s.a", 30.0)
    msg = (await w(sub.fetch(1)))[0]
    assert msg.metadata.consumer == info.name
    assert (await w(sub.consumer_info())).name == info.name
    # Each call makes its own.
    await w(js.pull_subscribe("s.a"))
    assert len(await w(js.consumers_info("S"))) == 2


async def test_pull_subscribe_with_a_stream_and_filters(js: JetStreamContext) -> None:
    await _stream(js)
    await w(js.publish("s.a", b"a"))
    await w(js.publish("s.b", b"b"))
    await w(js.publish("s.c", b"c"))
    sub = await w(
        js.pull_subscribe(
            "s.a", "multi", stream="S", config=api.ConsumerConfig(filter_subjects=["s.b", "s.c"])
        )
    )
    info = await w(sub.consumer_info())
    assert info.config.filter_subjects == ["s.b", "s.c"] and not info.config.filter_subject
    assert [m.data for m in await w(sub.fetch(5))] == [b"b", b"c"]


async def test_pull_subscribe_without_a_stream(js: JetStreamContext) -> None:
    await _stream(js)
    with pytest.raises(NotFoundError):
        await w(js.pull_subscribe("elsewhere", "d"))
    assert await w(js.consumers_info("S")) == []


async def test_pull_subscribe_bind(js: JetStreamContext) -> None:
    await _stream(js, 3)
    await w(js.add_consumer("S", durable_name="made", ack_policy=api.AckPolicy.EXPLICIT))
    by_durable = await w(js.pull_subscribe_bind(durable="made", stream="S"))
    by_consumer = await w(js.pull_subscribe_bind("made", "S"))
    by_name = await w(js.pull_subscribe_bind(name="made", stream="S", inbox_prefix=b"_MINE."))
    assert by_name._deliver.startswith("_MINE.")
    got = []
    for sub in (by_durable, by_consumer, by_name):
        got += [m.data for m in await w(sub.fetch(1))]
    assert got == [b"0", b"1", b"2"]
    # Binding makes nothing.
    assert len(await w(js.consumers_info("S"))) == 1
    with pytest.raises(ValueError):
        await w(js.pull_subscribe_bind("made"))
    with pytest.raises(ValueError):
        await w(js.pull_subscribe_bind(stream="S"))


# -- fetching --------------------------------------------------------------------------------


async def test_fetch_one_and_many(js: JetStreamContext) -> None:
    await _stream(js, 5)
    sub = await w(js.pull_subscribe("s.a", "d"))
    one = await w(sub.fetch(1))
    assert [m.data for m in one] == [b"0"]
    assert one[0].subject == "s.a"
    two = await w(sub.fetch(2))
    assert [m.data for m in two] == [b"1", b"2"]
    # More asked than there is: what is there, without waiting out the (long) timeout.
    rest = await w(sub.fetch(10, timeout=60))
    assert [m.data for m in rest] == [b"3", b"4"]
    assert _seqs(one + two + rest) == [1, 2, 3, 4, 5]


async def test_fetch_waits_for_a_message_published_later(js: JetStreamContext) -> None:
    await _stream(js)
    sub = await w(js.pull_subscribe("s.a", "d"))
    for batch in (1, 3):
        fetching = asyncio.ensure_future(w(sub.fetch(batch, timeout=WAIT)))
        await asyncio.sleep(0.2)
        assert not fetching.done()
        await w(js.publish("s.a", f"late{batch}".encode()))
        assert [m.data for m in await fetching] == [f"late{batch}".encode()]


@pytest.mark.parametrize("batch", [1, 5])
async def test_fetch_on_an_empty_stream_times_out(js: JetStreamContext, batch: int) -> None:
    await _stream(js)
    sub = await w(js.pull_subscribe("s.a", "d"))
    await _times_out(sub, batch, 0.5)
    # nats-py raises its core timeout here (FetchTimeoutError is for a fetch that heard
    # heartbeats); natsrs sometimes raises the FetchTimeoutError subclass, when the
    # server's 408 beats the client's deadline: see the deleted-consumer test below.
    # The subscription is still good.
    await w(js.publish("s.a", b"after"))
    assert [m.data for m in await w(sub.fetch(batch))] == [b"after"]


@pytest.mark.parametrize("batch", [1, 5])
async def test_fetch_with_heartbeats_and_nothing_to_fetch(js: JetStreamContext, batch: int) -> None:
    await _stream(js)
    sub = await w(js.pull_subscribe("s.a", "d"))
    err = await _times_out(sub, batch, 1.0, heartbeat=0.1)
    assert isinstance(err, FetchTimeoutError)
    assert str(err) == "nats: fetch timeout"
    await w(js.publish("s.a", b"after"))
    assert [m.data for m in await w(sub.fetch(batch, heartbeat=0.1))] == [b"after"]


async def test_fetch_with_heartbeats_gets_messages(js: JetStreamContext) -> None:
    await _stream(js, 3)
    sub = await w(js.pull_subscribe("s.a", "d"))
    msgs = await w(sub.fetch(3, timeout=2, heartbeat=0.2))
    assert [m.data for m in msgs] == [b"0", b"1", b"2"]
    assert all(m.status is None for m in msgs)


async def test_fetch_returns_what_an_earlier_pull_left_in_the_inbox_first(
    js: JetStreamContext,
) -> None:
    await _stream(js, 6)
    sub = await w(js.pull_subscribe("s.a", "d"))
    # A pull of three that no fetch made, sent on the subscription's own connection (so
    # after its SUB): its messages wait in the inbox.
    await w(sub._nc.publish(sub._nms, json.dumps({"batch": 3}).encode(), reply=sub._deliver))
    await wait_until(lambda: sub.pending_msgs == 3)
    # Those three first, then the stream's next two, in order.
    msgs = await w(sub.fetch(5))
    assert _seqs(msgs) == [1, 2, 3, 4, 5]
    assert {m.metadata.num_delivered for m in msgs} == {1}
    assert sub.pending_msgs == 0
    info = await w(sub.consumer_info())
    assert (info.delivered.stream_seq, info.num_redelivered) == (5, 0)
    assert [m.data for m in await w(sub.fetch(5))] == [b"5"]


async def test_a_batch_filled_from_the_inbox_asks_the_server_for_nothing(
    js: JetStreamContext,
) -> None:
    await _stream(js, 5)
    sub = await w(js.pull_subscribe("s.a", "d"))
    await w(sub._nc.publish(sub._nms, json.dumps({"batch": 3}).encode(), reply=sub._deliver))
    await wait_until(lambda: sub.pending_msgs == 3)
    assert _seqs(await w(sub.fetch(1))) == [1]
    assert _seqs(await w(sub.fetch(1))) == [2]
    # Time for a pull, had one been sent, to be served.
    await asyncio.sleep(0.3)
    info = await w(sub.consumer_info())
    assert (info.delivered.stream_seq, sub.pending_msgs) == (3, 1)


async def test_status_messages_never_come_out_of_fetch(js: JetStreamContext) -> None:
    await _stream(js, 2)
    sub = await w(js.pull_subscribe("s.a", "d"))

    async def pull(request: dict[str, Any], pending: int) -> None:
        await w(sub._nc.publish(sub._nms, json.dumps(request).encode(), reply=sub._deliver))
        await wait_until(lambda: sub.pending_msgs == pending)

    # In the inbox: the two messages, a 404 (no messages) and a 408 (request expired).
    await pull({"batch": 2, "no_wait": True}, 2)
    await pull({"batch": 1, "no_wait": True}, 3)
    await pull({"batch": 1, "expires": 50_000_000}, 4)
    msgs = await w(sub.fetch(5, timeout=1))
    assert [m.data for m in msgs] == [b"0", b"1"]
    assert all(m.status is None for m in msgs)
    # The statuses were dropped, not left for the next fetch.
    await w(js.publish("s.a", b"2"))
    assert [(m.data, m.status) for m in await w(sub.fetch(1))] == [(b"2", None)]


@pytest.mark.parametrize("batch", [0, -1, True, 1.5, "2", None])
async def test_invalid_batch(js: JetStreamContext, batch: Any) -> None:
    await _stream(js, 1)
    sub = await w(js.pull_subscribe("s.a", "d"))
    with pytest.raises(ValueError):
        await w(sub.fetch(batch))
    # Nothing was asked of the server.
    assert (await w(sub.consumer_info())).num_waiting == 0
    assert (await w(sub.consumer_info())).delivered.stream_seq == 0


@pytest.mark.parametrize("timeout", [0, -1, -0.5])
async def test_invalid_timeout(js: JetStreamContext, timeout: float) -> None:
    await _stream(js, 1)
    sub = await w(js.pull_subscribe("s.a", "d"))
    with pytest.raises(ValueError):
        await w(sub.fetch(1, timeout=timeout))
    assert (await w(sub.consumer_info())).delivered.stream_seq == 0


async def test_fetch_after_unsubscribe(js: JetStreamContext) -> None:
    await _stream(js, 1)
    sub = await w(js.pull_subscribe("s.a", "d"))
    await w(sub.unsubscribe())
    # nats-py: the fetch times out (here at once: nothing can arrive any more).
    with pytest.raises(nats.errors.TimeoutError):
        await w(sub.fetch(1, timeout=2))
    assert sub.pending_msgs == 0
    with pytest.raises(nats.errors.BadSubscriptionError):
        await w(sub.unsubscribe())
    # The consumer stays on the server, with its message.
    info = await w(js.consumer_info("S", "d"))
    assert info.num_pending == 1


async def test_consumer_info_and_counters(js: JetStreamContext) -> None:
    await _stream(js, 4)
    sub = await w(js.pull_subscribe("s.a", "d"))
    before = await w(sub.consumer_info())
    assert isinstance(before, api.ConsumerInfo)
    assert (before.stream_name, before.name, before.num_pending) == ("S", "d", 4)
    msgs = await w(sub.fetch(3))
    after = await w(sub.consumer_info())
    assert (after.num_pending, after.num_ack_pending) == (1, 3)
    assert after.delivered.consumer_seq == 3
    assert sub.delivered >= 3
    assert (sub.pending_msgs, sub.pending_bytes) == (0, 0)
    for msg in msgs:
        await w(msg.ack_sync())
    assert (await w(sub.consumer_info())).num_ack_pending == 0


async def test_concurrent_fetches_of_one_consumer(js: JetStreamContext) -> None:
    await _stream(js)
    first = await w(js.pull_subscribe("s.a", "shared"))
    second = await w(js.pull_subscribe("s.a", "shared"))
    for i in range(10):
        await w(js.publish("s.a", str(i).encode()))
    fetches = [w(sub.fetch(5, timeout=WAIT), WAIT + 1) for sub in (first, second)]
    got = await w(asyncio.gather(*fetches), WAIT + 2)
    assert [len(msgs) for msgs in got] == [5, 5]
    assert sorted(_seqs(got[0] + got[1])) == list(range(1, 11))
    # Waiting together for what comes later: each gets what its own pull is given.
    fetches = [w(sub.fetch(5, timeout=WAIT), WAIT + 1) for sub in (first, second)]
    waiting = asyncio.ensure_future(asyncio.gather(*fetches))
    await asyncio.sleep(0.2)
    for i in range(10, 20):
        await w(js.publish("s.a", str(i).encode()))
    late = await w(waiting, WAIT + 2)
    assert all(late)
    seqs = _seqs(late[0] + late[1])
    assert len(set(seqs)) == len(seqs) and set(seqs) <= set(range(11, 21))


async def test_fetch_when_the_consumer_is_deleted(js: JetStreamContext) -> None:
    await _stream(js)
    sub = await w(js.pull_subscribe("s.a", "d"))
    fetching = asyncio.ensure_future(w(sub.fetch(1, timeout=1.5), WAIT))
    await asyncio.sleep(0.3)
    await w(js.delete_consumer("S", "d"))
    # The server ends the pull with 409 "Consumer Deleted": to nats-py a temporary
    # status, so the fetch waits out its timeout and fails with a timeout.
    with pytest.raises(nats.errors.TimeoutError):
        await fetching
    # A pull on no consumer is answered 503 (no responders): ServiceUnavailableError.
    for batch in (1, 3):
        with pytest.raises(ServiceUnavailableError) as info:
            await w(sub.fetch(batch, timeout=2))
        assert isinstance(info.value, APIError) and info.value.code == 503


async def test_a_deleted_consumer_s_fetch_is_a_plain_timeout(js: JetStreamContext) -> None:
    await _stream(js)
    sub = await w(js.pull_subscribe("s.a", "d"))
    fetching = asyncio.ensure_future(w(sub.fetch(1, timeout=1.0), WAIT))
    await asyncio.sleep(0.3)
    await w(js.delete_consumer("S", "d"))
    with pytest.raises(nats.errors.TimeoutError) as info:
        await fetching
    assert not isinstance(info.value, FetchTimeoutError)


async def test_a_deleted_consumer_s_409_reaches_the_inbox(
    js: JetStreamContext, raw: natsrs.Client
) -> None:
    # What the fetch above sees, read straight from a pull's inbox.
    await _stream(js)
    await w(js.add_consumer("S", durable_name="d"))
    inbox = raw.new_inbox()
    watch = await w(raw.subscribe(inbox))
    await w(raw.publish("$JS.API.CONSUMER.MSG.NEXT.S.d", b'{"batch": 1}', reply=inbox))
    await w(raw.flush())
    await asyncio.sleep(0.2)
    await w(js.delete_consumer("S", "d"))
    status = await next_msg(watch)
    assert (status.status, status.description) == (409, "Consumer Deleted")


async def test_durable_pull_consumer_survives_a_server_restart(
    nats_server_factory: ServerFactory, opened: list[Any]
) -> None:
    """With the stream and consumer on disk: nothing whose ack the server confirmed is
    delivered again after the restart, and nothing unacked is lost."""
    server = nats_server_factory(jetstream=True)
    nc = await w(natsrs.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1))
    opened.append(nc)
    js = nc.jetstream()
    await w(js.add_stream(name="S", subjects=["s.>"]))  # file storage
    for i in range(10):
        await w(js.publish("s.a", str(i).encode()))
    config = api.ConsumerConfig(ack_wait=1.0)
    sub = await w(js.pull_subscribe("s.a", "durable", config=config))
    confirmed = await w(sub.fetch(5, timeout=2))
    for msg in confirmed:
        await w(msg.double_ack())
    unacked = await w(sub.fetch(2, timeout=2))
    assert [int(m.data) for m in unacked] == [5, 6]
    # In a thread: a loop blocked meanwhile would keep a loop-driven engine from
    # seeing the connection go, and the test would time the restart, not the client.
    await asyncio.to_thread(server.restart)
    await wait_until(lambda: nc.is_connected, SLOW_WAIT)
    got: list[int] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SLOW_WAIT * 2
    while len(got) < 5 and loop.time() < deadline:
        try:
            msgs = await w(sub.fetch(10, timeout=1), SLOW_WAIT)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
            continue
        for msg in msgs:
            got.append(int(msg.data))
            await w(msg.double_ack(), SLOW_WAIT)
    assert sorted(got) == [5, 6, 7, 8, 9]
    info = await w(js.consumer_info("S", "durable"))
    assert info.num_ack_pending == 0 and info.num_pending == 0
