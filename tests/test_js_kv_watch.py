"""A Key-Value watcher's fast path: the extension's ``KvWatchReader`` makes entries
straight from the messages of the watcher's ordered push consumer, a batch at a time.

The reader is fed a real consumer's deliveries of a bucket holding each kind of entry
(values, delete and purge markers, the server's own removal markers, an operation it
does not know), which pins what it reads from each: the key from the subject, revision,
delta and timestamp from the ack subject, the operation from the headers; where the
``None`` after the initial values goes; where a batch stops (a control message, a gap in
the consumer sequences). A watcher whose subscription overflows (a real gap: the client
drops what it has no room for) must then recover without losing or repeating a revision.
(The server refuses a client's publish with a ``$JS.ACK`` reply subject, so deliveries
cannot be forged on a core subscription.)
"""

from __future__ import annotations

import asyncio
import datetime
from typing import TYPE_CHECKING, Any

import pytest

import natsrs
from helpers import SLOW_WAIT, WAIT, w, wait_until
from natsrs._natsrs import KvWatchReader
from natsrs.js import api, kv
from natsrs.js.kv import KeyValue, _WatchedEntry

if TYPE_CHECKING:
    from conftest import ClientFactory
    from natsrs._server import NatsServer

pytestmark = pytest.mark.timeout(120)

# What the bucket is given (revisions 1..9); ``b.c``'s purge removes revision 2.
WRITES: list[tuple[str, bytes, dict[str, str] | None]] = [
    ("a", b"1", None),
    ("b.c", b"2", None),
    ("c", b"3", {"Trace": "x"}),
    ("a", b"", {"KV-Operation": "DEL"}),
    ("b.c", b"", {"KV-Operation": "PURGE", "Nats-Rollup": "sub"}),
    ("t", b"", {"Nats-Marker-Reason": "MaxAge"}),
    ("u", b"", {"Nats-Marker-Reason": "Remove"}),
    # A marker reason from a later server: neither an entry nor a value.
    ("v", b"", {"Nats-Marker-Reason": "Someday"}),
    # nats-py hands on an operation it does not know as it is.
    ("w", b"x", {"KV-Operation": "PUT"}),
]
# (key, value, revision, delta, operation) of each delivery, in order.
ENTRIES: list[tuple[str, bytes, int, int, str | None]] = [
    ("a", b"1", 1, 7, None),
    ("c", b"3", 3, 6, None),
    ("a", b"", 4, 5, "DEL"),
    ("b.c", b"", 5, 4, "PURGE"),
    ("t", b"", 6, 3, "PURGE"),
    ("u", b"", 7, 2, "DEL"),
    ("w", b"x", 9, 0, "PUT"),
]


async def _connect(server: NatsServer, opened: list[Any]) -> natsrs.Client:
    nc = await w(natsrs.connect(server.url))
    opened.append(nc)
    return nc


async def _filled_bucket(nc: natsrs.Client) -> None:
    js = nc.jetstream()
    await w(js.create_key_value(bucket="B", history=10))
    for key, value, headers in WRITES:
        await w(js.publish(f"$KV.B.{key}", value, headers=headers))


async def _consumer(nc: natsrs.Client, heartbeat: float = 5.0) -> natsrs.Subscriber:
    """A watcher's kind of consumer of bucket ``B`` (every revision), on a new inbox."""
    inbox = nc.new_inbox()
    sub = await w(nc.subscribe(inbox))
    config = api.ConsumerConfig(
        deliver_subject=inbox,
        ack_policy=api.AckPolicy.NONE,
        deliver_policy=api.DeliverPolicy.ALL,
        idle_heartbeat=heartbeat,
        flow_control=True,
        mem_storage=True,
    )
    await w(nc.jetstream().add_consumer("KV_B", config=config))
    return sub


async def _take_all(
    reader: KvWatchReader, sub: natsrs.Subscriber, count: int
) -> tuple[list[Any], int, int, int, bool]:
    """Takes batches until ``count`` data messages were read (they may arrive split)."""
    entries: list[Any] = []
    taken = stream_seq = 0
    seq, marker_sent = 1, False
    while taken < count:
        result = await w(reader.take(sub, seq, marker_sent, 1024, WAIT))
        assert result is not None
        batch, n, seq, last, marker_sent, stop = result
        # An idle heartbeat may come first: a control message ends a batch.
        assert stop is None or stop.status == 100
        entries += batch
        taken += n
        stream_seq = last or stream_seq
    return entries, taken, seq, stream_seq, marker_sent


def _fields(entry: Any) -> tuple[Any, ...]:
    return (entry.key, entry.value, entry.revision, entry.delta, entry.operation)


async def test_reader_makes_entries_of_each_operation(
    js_server: NatsServer, opened: list[Any]
) -> None:
    nc = await _connect(js_server, opened)
    await _filled_bucket(nc)
    stored = await w(nc.jetstream().get_msg("KV_B", seq=1))
    sub = await _consumer(nc)
    reader = KvWatchReader("B", "$KV.B.", _WatchedEntry, False)
    entries, taken, seq, stream_seq, marker_sent = await _take_all(reader, sub, 8)
    assert (taken, seq, stream_seq, marker_sent) == (8, 9, 9, True)
    # The initial values end with the first delivery that has nothing pending.
    assert [_fields(e) if e else None for e in entries] == [*ENTRIES, None]
    first = entries[0]
    assert isinstance(first, KeyValue.Entry)
    assert first.bucket == "B"
    # From the ack subject's nanoseconds as nats-py makes it (a float of seconds), which
    # may round where the stored time's text was cut: within a microsecond.
    assert abs(first.created - stored.time) <= datetime.timedelta(microseconds=1)
    assert first == KeyValue.Entry("B", "a", b"1", 1, 7, first.created, None)
    assert repr(first).startswith("KeyValue.Entry(bucket='B', key='a'")
    await w(sub.unsubscribe())


async def test_reader_leaves_out_markers_with_ignore_deletes(
    js_server: NatsServer, opened: list[Any]
) -> None:
    nc = await _connect(js_server, opened)
    await _filled_bucket(nc)
    sub = await _consumer(nc)
    reader = KvWatchReader("B", "$KV.B.", _WatchedEntry, True)
    entries, taken, *_ = await _take_all(reader, sub, 8)
    assert taken == 8
    kept = [e for e in ENTRIES if e[4] not in ("DEL", "PURGE")]
    assert [_fields(e) if e else None for e in entries] == [*kept, None]
    await w(sub.unsubscribe())


async def test_reader_stops_at_a_gap_and_drops_the_rest(
    js_server: NatsServer, opened: list[Any]
) -> None:
    nc = await _connect(js_server, opened)
    await _filled_bucket(nc)
    sub = await _consumer(nc)
    reader = KvWatchReader("B", "$KV.B.", _WatchedEntry, False)
    await wait_until(lambda: sub.pending_msgs >= 8, WAIT)
    result = await w(reader.take(sub, 1, False, 1, WAIT))
    assert result is not None
    entries, taken, seq, stream_seq, marker_sent, stop = result
    assert ([_fields(e) for e in entries], taken, seq, stream_seq) == ([ENTRIES[0]], 1, 2, 1)
    assert stop is None
    # Delivery 2 comes where 3 is expected: as if one was lost on the way.
    result = await w(reader.take(sub, 3, False, 1024, WAIT))
    assert result is not None
    entries, taken, seq, stream_seq, marker_sent, stop = result
    assert stop is True
    assert (entries, taken, seq, stream_seq, marker_sent) == ([], 0, 3, 0, False)
    # What came after the gap was the lost consumer's: dropped, not handed over later.
    with pytest.raises(natsrs.errors.TimeoutError):
        await w(reader.take(sub, 3, False, 1024, 0.3))
    await w(sub.unsubscribe())


async def test_reader_ends_with_the_subscription_and_checks_its_arguments(
    nats_server: NatsServer, opened: list[Any]
) -> None:
    nc = await _connect(nats_server, opened)
    sub = await w(nc.subscribe(nc.new_inbox()))
    reader = KvWatchReader("B", "$KV.B.", _WatchedEntry, False)
    assert "B" in repr(reader)
    with pytest.raises(natsrs.errors.TimeoutError):
        await w(reader.take(sub, 1, False, 1024, 0.1))
    with pytest.raises(ValueError):
        reader.take(sub, 1, False, -1)
    with pytest.raises(TypeError):
        reader.take(sub, 1, False, 1024, "soon")
    with pytest.raises(TypeError):
        reader.take("not a subscription", 1, False)  # type: ignore[arg-type]
    await w(sub.unsubscribe())
    assert await w(reader.take(sub, 1, False)) is None


async def test_reader_stops_at_a_control_message_and_keeps_the_rest(
    js_server: NatsServer, opened: list[Any]
) -> None:
    nc = await _connect(js_server, opened)
    await _filled_bucket(nc)
    sub = await _consumer(nc, heartbeat=0.1)
    # The values, then idle heartbeats queue up before anything is read.
    await wait_until(lambda: sub.pending_msgs >= 10, WAIT)
    reader = KvWatchReader("B", "$KV.B.", _WatchedEntry, False)
    result = await w(reader.take(sub, 1, False, 1024, WAIT))
    assert result is not None
    entries, taken, seq, stream_seq, marker_sent, stop = result
    assert [_fields(e) if e else None for e in entries] == [*ENTRIES, None]
    assert (taken, seq, stream_seq, marker_sent) == (8, 9, 9, True)
    assert isinstance(stop, natsrs.Message) and stop.status == 100
    # The heartbeats after the first one stay for the next batch, in order.
    assert sub.pending_msgs >= 1
    result = await w(reader.take(sub, seq, True, 1024, WAIT))
    assert result is not None
    assert (result[0], result[1], result[2]) == ([], 0, seq)
    assert isinstance(result[5], natsrs.Message) and result[5].status == 100
    await w(sub.unsubscribe())


class _CountingReader:
    """The watcher's reader, counting the batches it is asked for."""

    def __init__(self, reader: KvWatchReader) -> None:
        self.reader = reader
        self.calls = 0

    def take(self, *args: Any) -> Any:
        self.calls += 1
        return self.reader.take(*args)


async def test_watcher_reads_through_the_reader_and_recovers_from_a_gap(
    js_server: NatsServer, client_factory: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A gap at the end of what was sent shows only in the next heartbeat (the last
    # consumer sequence sent): short ones keep the test short.
    monkeypatch.setattr(kv, "_WATCH_HEARTBEAT", 0.3)
    # Room for 32 messages: what the server sends while nobody reads overflows it, and
    # the client drops the rest (a slow consumer), which the consumer sequences show.
    nc = await client_factory(js_server.url, natsrs.ConnectOptions().subscription_capacity(32))
    # Written by another client: the acks of pipelined publishes would overflow it too.
    writer = (await client_factory(js_server.url)).jetstream()
    await w(writer.create_key_value(bucket="B", history=64))
    count = 600
    acks = [await w(writer.publish_async(f"$KV.B.k{i % 50}", b"%d" % i)) for i in range(count)]
    for ack in acks:
        await w(ack)
    bucket = await w(nc.jetstream().key_value("B"))
    watcher = await w(bucket.watchall(include_history=True))
    counting = _CountingReader(watcher._reader)
    watcher._reader = counting  # type: ignore[assignment]
    sub = watcher._sub
    assert sub is not None
    consumer = sub._consumer
    await wait_until(lambda: sub._sub.pending_msgs >= 32, WAIT)
    await asyncio.sleep(0.2)
    entries: list[Any] = []
    while (entry := await w(watcher.updates(timeout=SLOW_WAIT), 2 * SLOW_WAIT)) is not None:
        entries.append(entry)
    assert [e.revision for e in entries] == list(range(1, count + 1))
    assert [e.value for e in entries[:3]] == [b"0", b"1", b"2"]
    assert entries[-1].delta == 0
    # The gap replaced the consumer, and the entries came through the reader.
    assert sub._consumer != consumer
    assert counting.calls >= 2
    await w(bucket.put("k0", b"after"))
    entry = await w(watcher.updates())
    assert entry is not None and (entry.revision, entry.value) == (count + 1, b"after")
    await w(watcher.stop())
