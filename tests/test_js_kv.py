"""Key-Value (``natsrs.js.kv``) against a real JetStream server, over both clients
nats-py users get (``js_nc``).

A bucket must be nats-py's stream, keys and bucket names are checked before anything is
sent, and a watcher gives the initial values, one ``None``, then every update once and
in order, across a server restart too.
"""

from __future__ import annotations

import asyncio
import datetime
import inspect
import warnings
from typing import TYPE_CHECKING, Any

import pytest

import natsrs
from helpers import SLOW_WAIT, WAIT, w, wait_until
from natsrs.js import api, kv
from natsrs.js.errors import (
    BadBucketError,
    BadRequestError,
    BucketNotFoundError,
    InvalidBucketNameError,
    InvalidKeyError,
    KeyHistoryTooLargeError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
    NotFoundError,
)
from natsrs.js.kv import KeyValue

if TYPE_CHECKING:
    from conftest import ServerFactory

pytestmark = pytest.mark.timeout(120)

INVALID_NAMES = [" x y", "x ", "x!", "xx$", "*", ">", "x.>", "x.*", ".", ".x", ".x.", "x.", ""]
# A bucket name may not hold a dot at all; a key may hold one inside.
INVALID_BUCKETS = [*INVALID_NAMES, "a.b", "x\n", "ü"]
INVALID_KEYS = [*INVALID_NAMES, "a b", "x\n", "a\tb", "ü"]


def _sent(nc: Any) -> int:
    return int(nc.stats["out_msgs"])


async def _bucket(js: Any, bucket: str = "B", **params: Any) -> KeyValue:
    return await w(js.create_key_value(bucket=bucket, **params))


# -- buckets -------------------------------------------------------------------------------


@pytest.mark.parametrize("direct", [False, True])
async def test_bucket_stream_is_nats_py_s(js_nc: Any, direct: bool) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, "CFG", history=5, ttl=3600, description="d", direct=direct)
    assert isinstance(bucket, KeyValue)
    assert (bucket.name, bucket.stream_name) == ("CFG", "KV_CFG")
    config = (await w(js.stream_info("KV_CFG"))).config
    assert config.subjects == ["$KV.CFG.>"]
    assert config.description == "d"
    assert config.allow_rollup_hdrs is True
    assert config.allow_msg_ttl is True
    assert config.deny_delete is True
    assert config.deny_purge is False
    assert config.discard == api.DiscardPolicy.NEW
    assert config.duplicate_window == 120.0
    assert config.max_age == 3600.0
    assert config.max_msgs_per_subject == 5
    assert (config.max_bytes, config.max_msgs, config.max_consumers) == (-1, -1, -1)
    assert config.max_msg_size == -1
    assert config.num_replicas == 1
    assert config.storage == api.StorageType.FILE
    assert config.retention == api.RetentionPolicy.LIMITS
    assert bool(config.allow_direct) is direct
    assert config.mirror is None and config.sources is None and config.placement is None
    assert config.subject_delete_marker_ttl is None

    # A short TTL shortens the duplicate window to it.
    await _bucket(js, "SHORT", ttl=30)
    assert (await w(js.stream_info("KV_SHORT"))).config.duplicate_window == 30.0


async def test_key_value_finds_a_bucket_and_tells_what_is_not_one(js_nc: Any) -> None:
    js = js_nc.jetstream()
    with pytest.raises(BucketNotFoundError):
        await w(js.key_value("NOPE"))
    await w(js.add_stream(name="KV_PLAIN", subjects=["plain.>"]))
    with pytest.raises(BadBucketError):
        await w(js.key_value("PLAIN"))

    created = await _bucket(js, "FOUND", direct=True)
    await w(created.put("k", b"v"))
    found = await w(js.key_value("FOUND"))
    assert found._direct is True
    assert (await w(found.get("k"))).value == b"v"
    # async-nats's name for the same call.
    again = await w(js.get_key_value("FOUND"))
    assert (await w(again.get("k"))).revision == 1

    assert await w(js.delete_key_value("FOUND")) is True
    with pytest.raises(BucketNotFoundError):
        await w(js.key_value("FOUND"))
    with pytest.raises(NotFoundError):
        await w(js.delete_key_value("FOUND"))


async def test_invalid_bucket_names_are_refused_before_anything_is_sent(js_nc: Any) -> None:
    js = js_nc.jetstream()
    before = _sent(js_nc)
    for name in INVALID_BUCKETS:
        with pytest.raises(InvalidBucketNameError):
            await js.create_key_value(bucket=name, history=5)
        with pytest.raises(InvalidBucketNameError):
            await js.create_key_value(api.KeyValueConfig(bucket=name))
        with pytest.raises(InvalidBucketNameError):
            await js.key_value(name)
        with pytest.raises(InvalidBucketNameError):
            await js.delete_key_value(name)
    with pytest.raises(InvalidBucketNameError):
        await js.create_key_value()
    with pytest.raises(InvalidBucketNameError):
        await js.key_value(None)
    with pytest.raises(KeyHistoryTooLargeError, match="history limited to a max of 64"):
        await js.create_key_value(bucket="B", history=65)
    assert _sent(js_nc) == before


# -- reading and writing -------------------------------------------------------------------


async def test_put_get_create_update_delete_purge(js_nc: Any, capfd: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, history=5)

    with pytest.raises(KeyNotFoundError):
        await w(bucket.get("name"))
    assert await w(bucket.put("name", b"alice")) == 1
    entry = await w(bucket.get("name"))
    assert (entry.bucket, entry.key, entry.value, entry.revision) == ("B", "name", b"alice", 1)
    assert entry.operation is None
    assert isinstance(entry.created, datetime.datetime) and entry.created.tzinfo is not None

    assert await w(bucket.delete("name")) is True
    with pytest.raises(KeyNotFoundError) as err:
        await w(bucket.get("name"))
    assert (err.value.op, err.value.entry.key, err.value.entry.revision) == ("DEL", "name", 2)
    assert err.value.entry.value is None

    # create() over a delete marker recreates the key.
    assert await w(bucket.create("name", b"bob")) == 3
    with pytest.raises(KeyWrongLastSequenceError, match="nats: wrong last sequence: 3"):
        await w(bucket.create("name", b"again"))
    with pytest.raises(BadRequestError):
        await w(bucket.delete("name", last=2))
    assert await w(bucket.delete("name", last=3)) is True
    assert await w(bucket.update("name", b"hoge", last=4)) == 5
    with pytest.raises(KeyWrongLastSequenceError) as stale:
        await w(bucket.update("name", b"x", last=3))
    assert isinstance(stale.value, BadRequestError)
    assert await w(bucket.update("name", b"fuga", 5)) == 6

    assert await w(bucket.put("age", b"1")) == 7
    assert (await w(bucket.get("name", revision=3))).value == b"bob"
    with pytest.raises(KeyNotFoundError) as other:
        await w(bucket.get("age", revision=6))
    assert str(other.value) == "nats: key not found: expected '$KV.B.age', but got '$KV.B.name'"
    with pytest.raises(KeyNotFoundError):
        await w(bucket.get("age", revision=100))

    assert await w(bucket.purge("name")) is True
    with pytest.raises(KeyNotFoundError) as purged:
        await w(bucket.get("name"))
    assert purged.value.op == "PURGE"
    assert (await w(bucket.status())).values == 2  # age, and the purge marker

    # The engine's direct get printed on a subject mismatch; nothing may reach stdout.
    assert capfd.readouterr().out == ""


async def test_entry_is_async_nats_s_and_keeps_markers(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, history=3, direct=True)
    assert await w(bucket.entry("missing")) is None
    await w(bucket.put("k", b"1"))
    await w(bucket.delete("k"))
    marker = await w(bucket.entry("k"))
    assert marker is not None
    assert (marker.operation, marker.revision) == ("DEL", 2)
    first = await w(bucket.entry("k", revision=1))
    assert first is not None and first.value == b"1" and first.operation is None


async def test_invalid_keys_are_refused_before_anything_is_sent(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js)
    before = _sent(js_nc)
    for key in INVALID_KEYS:
        for call in (
            bucket.put(key, b""),
            bucket.get(key),
            bucket.update(key, b"", 1),
            bucket.create(key, b""),
            bucket.delete(key),
            bucket.entry(key),
        ):
            with pytest.raises(InvalidKeyError):
                await call
    for pattern in ["", "a..b", "a b", ">.a", "x.>y"]:
        with pytest.raises(InvalidKeyError):
            await bucket.watch(pattern)
    with pytest.raises(InvalidKeyError):
        await bucket.watch([])
    with pytest.raises(InvalidKeyError):
        await bucket.purge("")
    with pytest.raises(InvalidKeyError):
        await bucket.put(b"bytes", b"")  # type: ignore[arg-type]
    assert _sent(js_nc) == before


async def test_validate_keys_false_lets_other_keys_through(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, history=5)
    for key in ["x!", "x.>", "x.*"]:
        seq = await w(bucket.put(key, b"v", validate_keys=False))
        assert (await w(bucket.get(key, validate_keys=False))).value == b"v"
        assert await w(bucket.update(key, b"w", last=seq, validate_keys=False)) > seq
        assert await w(bucket.delete(key, validate_keys=False)) is True
        with pytest.raises(InvalidKeyError):
            await bucket.put(key, b"v")
    # Even unchecked, a key must make a subject.
    with pytest.raises(InvalidKeyError):
        await bucket.put("", b"v", validate_keys=False)


async def test_purge_takes_a_wildcard_and_purge_deletes_clears_markers(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, history=10)
    for i in range(5):
        await w(bucket.put(f"s.{i}", b"x"))
    await w(bucket.put("keep", b"x"))
    await w(bucket.purge("s.*"))
    with pytest.raises(KeyNotFoundError):
        await w(bucket.get("s.3"))
    assert (await w(bucket.get("keep"))).value == b"x"

    await w(bucket.put("gone", b"1"))
    await w(bucket.put("gone", b"2"))
    await w(bucket.delete("gone"))
    # Markers younger than an hour stay (with nothing before them)...
    await w(bucket.purge_deletes())
    history = await w(bucket.history("gone"))
    assert [e.operation for e in history] == ["DEL"]
    # ...and go when every marker is old enough.
    await w(bucket.purge_deletes(olderthan=-1))
    with pytest.raises(NoKeysError):
        await w(bucket.history("gone"))
    assert (await w(bucket.status())).values == 1  # "keep"


async def test_status_reads_the_stream_in_kv_terms(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, history=7, ttl=60, limit_marker_ttl=5.0)
    for i in range(3):
        await w(bucket.put(f"k{i}", b"v"))
    status = await w(bucket.status())
    assert (status.bucket, status.values, status.history, status.ttl) == ("B", 3, 7, 60.0)
    assert status.marker_ttl == 5.0
    assert status.info is status.stream_info and status.max_age == 60.0
    plain = await w((await _bucket(js, "PLAIN")).status())
    assert plain.marker_ttl is None and plain.history == 1


# -- listing -------------------------------------------------------------------------------


async def test_keys_lists_live_keys_and_raises_no_keys_when_empty(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, history=2)
    # An empty bucket answers at once (no watcher left waiting for entries).
    with pytest.raises(NoKeysError):
        await w(bucket.keys(), 2)
    assert [k async for k in bucket.keys()] == []
    for key, value in [("a", b"1"), ("b", b"2"), ("a", b"11"), ("greeting", b"hi")]:
        await w(bucket.put(key, value))
    assert sorted(await w(bucket.keys())) == ["a", "b", "greeting"]
    assert sorted(await w(bucket.keys(filters=["gree", "b"]))) == ["b", "greeting"]
    streamed = [k async for k in bucket.keys()]
    assert sorted(streamed) == ["a", "b", "greeting"]
    await w(bucket.delete("a"))
    await w(bucket.purge("b"))
    assert await w(bucket.keys()) == ["greeting"]


async def test_history_lists_revisions_oldest_first(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, history=10)
    with pytest.raises(NoKeysError):
        await w(bucket.history("age"), 2)
    for i in range(15):
        await w(bucket.put("age", str(i).encode()))
    await w(bucket.delete("age"))
    entries = await w(bucket.history("age"))
    assert [e.revision for e in entries] == list(range(7, 17))
    assert [e.value for e in entries[:-1]] == [str(i).encode() for i in range(6, 15)]
    assert entries[-1].operation == "DEL"
    assert [e.delta for e in entries] == list(range(9, -1, -1))
    streamed = [e.revision async for e in bucket.history("age")]
    assert streamed == list(range(7, 17))


# -- watching ------------------------------------------------------------------------------


@pytest.mark.parametrize("include_history", [False, True])
async def test_watch_of_an_empty_bucket_gives_none_at_once(
    js_nc: Any, include_history: bool
) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js)
    watcher = await w(bucket.watchall(include_history=include_history))
    assert await w(watcher.updates(timeout=1)) is None
    with pytest.raises(natsrs.errors.TimeoutError):
        await watcher.updates(timeout=0.2)
    await w(bucket.put("k", b"v"))
    entry = await w(watcher.updates())
    assert entry is not None
    assert (entry.key, entry.value, entry.revision, entry.delta) == ("k", b"v", 1, 0)
    await w(watcher.stop())


async def test_watch_gives_latest_values_then_none_then_updates(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, history=5)
    for key, value in [("t.name", b"a"), ("t.name", b"b"), ("t.age", b"c"), ("other", b"o")]:
        await w(bucket.put(key, value))
    watcher = await w(bucket.watch("t.*"))
    first = [await w(watcher.updates()) for _ in range(3)]
    assert [(e.key, e.value, e.revision, e.delta) for e in first if e] == [
        ("t.name", b"b", 2, 1),
        ("t.age", b"c", 3, 0),
    ]
    assert first[2] is None
    assert watcher._sub is not None and watcher._sub._consumer  # nats-py tests read it
    info = await w(js.consumer_info("KV_B", watcher._sub._consumer))
    assert info.config.inactive_threshold == 300.0

    await w(bucket.put("t.name", b"c"))
    await w(bucket.put("other", b"not watched"))
    await w(bucket.delete("t.age"))
    await w(bucket.purge("t.name"))
    updates = [await w(watcher.updates()) for _ in range(3)]
    assert [(e.key, e.value, e.revision, e.operation) for e in updates if e] == [
        ("t.name", b"c", 5, None),
        ("t.age", b"", 7, "DEL"),
        ("t.name", b"", 8, "PURGE"),
    ]
    with pytest.raises(natsrs.errors.TimeoutError):
        await watcher.updates(timeout=0.3)
    await w(watcher.stop())
    with pytest.raises(natsrs.errors.BadSubscriptionError):
        await watcher.updates(timeout=0.1)


async def test_watch_options(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, history=5)
    await w(bucket.put("a", b"1"))
    await w(bucket.put("a", b"2"))
    await w(bucket.put("b", b"3"))
    await w(bucket.delete("b"))

    history = await w(bucket.watch("a", include_history=True, inactive_threshold=10.0))
    got = [await w(history.updates()) for _ in range(3)]
    assert [e.value if e else None for e in got] == [b"1", b"2", None]
    assert history._sub is not None
    info = await w(js.consumer_info("KV_B", history._sub._consumer))
    assert info.config.inactive_threshold == 10.0
    await w(history.stop())

    live = await w(bucket.watchall(ignore_deletes=True, meta_only=True))
    got = [await w(live.updates()) for _ in range(2)]
    assert got[1] is None and got[0] is not None
    assert (got[0].key, got[0].value, got[0].revision) == ("a", b"", 2)
    await w(live.stop())

    several = await w(bucket.watch(["a", "b"]))
    got = [await w(several.updates()) for _ in range(3)]
    assert [(e.key, e.operation) if e else None for e in got] == [
        ("a", None),
        ("b", "DEL"),
        None,
    ]
    await w(several.stop())

    with pytest.raises(ValueError):
        await bucket.watch("a", include_history=True, updates_only=True)


async def test_async_nats_watches_and_async_iteration(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, history=5)
    await w(bucket.put("a", b"1"))
    await w(bucket.put("a", b"2"))

    news = await w(bucket.watch_all())  # updates only: neither old values nor None
    current = await w(bucket.watch_with_history("a"))  # the latest, then updates, no None
    from_one = await w(bucket.watch_from_revision("a", 1))
    everything = await w(bucket.watch_all_from_revision(2))
    await w(bucket.put("a", b"3"))

    assert (await w(news.updates())).value == b"3"  # type: ignore[union-attr]

    async def take(watcher: Any, count: int) -> list[bytes]:
        values: list[bytes] = []
        async for entry in watcher:
            values.append(entry.value)
            if len(values) == count:
                return values
        return values

    assert await w(take(current, 2)) == [b"2", b"3"]
    assert await w(take(from_one, 3)) == [b"1", b"2", b"3"]
    assert await w(take(everything, 2)) == [b"2", b"3"]
    for watcher in (news, current, from_one, everything):
        await w(watcher.stop())

    # stop() ends an iteration that is waiting.
    waiting = await w(bucket.watch("nothing.here", updates_only=True))

    async def drain() -> list[Any]:
        return [entry async for entry in waiting]

    task = asyncio.ensure_future(drain())
    await asyncio.sleep(0.1)
    await w(waiting.stop())
    assert await w(task) == []


async def test_watch_delivers_a_large_backlog_once_in_order(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, history=64)
    count = 3000
    acks = [await w(js.publish_async(f"$KV.B.k{i % 100}", b"%d" % i)) for i in range(count)]
    for ack in acks:
        await w(ack)
    watcher = await w(bucket.watchall(include_history=True))
    revisions = []
    async for entry in watcher:
        if entry is None:
            break
        revisions.append(entry.revision)
    assert revisions == list(range(1, count + 1))
    await w(watcher.stop())


async def test_watcher_survives_a_server_restart_without_gaps_or_duplicates(
    nats_server_factory: ServerFactory, opened: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Missed heartbeats are what tells a lost consumer: short ones keep the test short.
    monkeypatch.setattr(kv, "_WATCH_HEARTBEAT", 0.3)
    server = nats_server_factory(jetstream=True)
    nc = await w(natsrs.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1))
    opened.append(nc)
    js = nc.jetstream()
    bucket = await _bucket(js, history=10)
    for i in range(5):
        await w(bucket.put(f"k{i}", b"%d" % i))
    watcher = await w(bucket.watchall())
    seen = [await w(watcher.updates()) for _ in range(6)]
    assert seen[-1] is None

    # In a thread: a loop blocked meanwhile would keep a loop-driven engine from
    # seeing the connection go, and the test would time the restart, not the client.
    await asyncio.to_thread(server.restart)
    await wait_until(lambda: nc.is_connected, SLOW_WAIT)
    for i in range(5, 10):
        await w(bucket.put(f"k{i}", b"%d" % i), SLOW_WAIT)
    after = [await w(watcher.updates(timeout=SLOW_WAIT), SLOW_WAIT) for _ in range(5)]
    revisions = [e.revision for e in seen[:-1] + after if e is not None]
    assert revisions == list(range(1, 11))
    with pytest.raises(natsrs.errors.TimeoutError):
        await watcher.updates(timeout=1.0)
    await w(watcher.stop())


# -- TTLs ----------------------------------------------------------------------------------


async def test_per_key_ttls(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, history=5)
    assert "msg_ttl" not in inspect.signature(bucket.put).parameters
    assert await w(bucket.create("short", b"v", msg_ttl=1.0)) == 1
    assert (await w(bucket.get("short"))).value == b"v"
    await w(bucket.put("name", b"alice"))
    await w(bucket.purge("name", msg_ttl=1.0))
    assert (await w(bucket.status())).values == 2

    # Both expire within about a second (the server checks TTLs on its own schedule).
    for _ in range(int(SLOW_WAIT / 0.1)):
        if not (await w(bucket.status())).values:
            break
        await asyncio.sleep(0.1)
    assert (await w(bucket.status())).values == 0
    with pytest.raises(KeyNotFoundError):
        await w(bucket.get("short"))

    await w(bucket.put("k", b"v"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        assert await bucket.delete("k", msg_ttl=60.0) is True
    assert [str(c.message) for c in caught if c.category is DeprecationWarning] == [
        "msg_ttl on delete() is deprecated and ignored; use create() or purge() for TTL"
    ]
    assert caught[0].filename == __file__  # the warning points at the caller


async def test_limit_marker_ttl_makes_expiry_visible_to_watchers(js_nc: Any) -> None:
    js = js_nc.jetstream()
    bucket = await _bucket(js, limit_marker_ttl=3.0)
    assert (await w(js.stream_info("KV_B"))).config.subject_delete_marker_ttl == 3.0
    await w(bucket.create("age", b"30", msg_ttl=1.0))
    watcher = await w(bucket.watch("age", include_history=True))
    first = await w(watcher.updates())
    assert first is not None and (first.value, first.operation) == (b"30", None)
    assert await w(watcher.updates()) is None
    expired = await w(watcher.updates(timeout=WAIT), SLOW_WAIT)
    assert expired is not None and (expired.key, expired.operation) == ("age", "PURGE")
    await w(watcher.stop())


async def test_update_and_create_or_update_change_an_existing_bucket(js_nc: Any) -> None:
    js = js_nc.jetstream()
    with pytest.raises(NotFoundError):
        await w(js.update_key_value(bucket="MISSING", history=2))
    made = await w(js.create_or_update_key_value(bucket="B", history=2))
    await w(made.put("k", b"1"))
    # Another history: create refuses it, create_or_update and update change the stream.
    with pytest.raises(BadRequestError):
        await w(js.create_key_value(bucket="B", history=5))
    changed = await w(js.create_or_update_key_value(bucket="B", history=5))
    assert (await w(changed.status())).history == 5
    assert (await w(changed.get("k"))).value == b"1"
    updated = await w(js.update_key_value(api.KeyValueConfig(bucket="B", history=7)))
    assert (await w(updated.status())).history == 7
    # The same configuration again is no change and no error.
    again = await w(js.create_or_update_key_value(bucket="B", history=7))
    assert (await w(again.status())).history == 7
