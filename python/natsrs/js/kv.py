"""Key-Value on JetStream: nats-py's ``nats.js.kv`` (``KeyValue``), with async-nats's
``Store`` names on the same object.

A bucket is the stream ``KV_<bucket>`` over ``$KV.<bucket>.>``; a key's entries are its
subject's messages, a revision is a stream sequence, and a delete or purge is a message
with a ``KV-Operation`` header (the server's own TTL markers carry
``Nats-Marker-Reason`` instead). Writes are JetStream publishes (the extension's),
reads are stream message gets (direct gets when the bucket allows them).

A watcher reads an ordered push consumer (``natsrs.js.push``): one consumer sequence
checked per message, the consumer replaced from the next revision after a gap or when
heartbeats stop (a server restart), so a watcher sees every revision once. It takes
what has arrived in batches, made into entries by the extension (``KvWatchReader``: key,
revision, delta, timestamp and operation read from each message's subject, ack subject
and headers in Rust): no task, no queue, no ``Message`` and no ``await`` per entry.
"""

from __future__ import annotations

import asyncio
import datetime
import re
import warnings
from collections import deque
from collections.abc import AsyncIterator, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from natsrs import errors as core_errors
from natsrs._natsrs import KvWatchReader
from natsrs.js import api
from natsrs.js.errors import (
    APIError,
    InvalidKeyError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoKeysError,
    NotFoundError,
)
from natsrs.js.push import PushSubscription

if TYPE_CHECKING:
    from natsrs.js.client import JetStreamContext

__all__ = [
    "KV_DEL",
    "KV_OP",
    "KV_PURGE",
    "VALID_BUCKET_RE",
    "VALID_KEY_RE",
    "KeyValue",
    "StopIterSentinel",
]

KV_OP = "KV-Operation"
KV_DEL = "DEL"
KV_PURGE = "PURGE"
MSG_ROLLUP_SUBJECT = "sub"
# nats-server 2.11+ marks what it removed itself (a TTL, max age) with this header.
KV_MARKER_REASON = "Nats-Marker-Reason"
_MARKER_OPS = {"MaxAge": KV_PURGE, "Purge": KV_PURGE, "Remove": KV_DEL}

KV_STREAM_TEMPLATE = "KV_{bucket}"
KV_PRE_TEMPLATE = "$KV.{bucket}."
KV_MAX_HISTORY = 64

# nats-py's patterns, matched against the whole name (nats-py's ``re.match`` with ``$``
# would let a trailing newline through into a subject).
VALID_KEY_RE = re.compile(r"[-/_=.a-zA-Z0-9]+")
VALID_BUCKET_RE = re.compile(r"[a-zA-Z0-9_-]+")
# What watch() takes: keys, with the ``*`` and ``>`` wildcards as whole tokens.
_KEY_PATTERN_TOKEN = re.compile(r"[-/_=a-zA-Z0-9]+|\*|>")

# nats-py's: a watcher's consumer is dropped by the server after 5 minutes unread.
_WATCH_INACTIVE_THRESHOLD = 5 * 60.0
_WATCH_HEARTBEAT = 5.0
# JetStream's "wrong last sequence" error codes (nats.go's JSStreamWrongLastSequence*).
_WRONG_LAST_SEQUENCE = (10071, 10164)
_UTC = datetime.timezone.utc

T = TypeVar("T")


def _is_key_valid(key: object) -> bool:
    return (
        isinstance(key, str)
        and VALID_KEY_RE.fullmatch(key) is not None
        and key[0] != "."
        and key[-1] != "."
    )


def _is_bucket_valid(bucket: object) -> bool:
    return isinstance(bucket, str) and VALID_BUCKET_RE.fullmatch(bucket) is not None


def _invalid_key(key: object) -> InvalidKeyError:
    # nats-py's error carries the key as its description.
    return InvalidKeyError(key if isinstance(key, str) else repr(key))


def _check_key(key: object, validate: bool) -> None:
    if validate and not _is_key_valid(key):
        raise _invalid_key(key)
    if not validate and (not isinstance(key, str) or not key):
        # Even unchecked, a key has to make a subject.
        raise _invalid_key(key)


def _key_patterns(keys: str | Sequence[str]) -> list[str]:
    """The watched keys as a list, each checked as a key that may hold wildcards."""
    patterns = [keys] if isinstance(keys, str) else list(keys)
    if not patterns:
        raise _invalid_key(keys)
    for pattern in patterns:
        tokens = pattern.split(".") if isinstance(pattern, str) else [""]
        if not all(_KEY_PATTERN_TOKEN.fullmatch(t) for t in tokens) or ">" in tokens[:-1]:
            raise _invalid_key(pattern)
    return patterns


class StopIterSentinel:
    """What ends a watcher's iteration (nats-py's name)."""


class KeyValue:
    """A Key-Value bucket (nats-py's ``KeyValue``; async-nats's ``Store``).

    Made by ``js.create_key_value()`` or ``js.key_value(bucket)``::

        kv = await js.create_key_value(bucket="config", history=5)
        await kv.put("color", b"blue")
        entry = await kv.get("color")          # KeyValue.Entry, revision 1

    Keys are checked before anything is sent (``InvalidKeyError``): letters, digits
    and ``-/_=.``, not starting or ending with ``.``; ``validate_keys=False`` skips the
    check where nats-py allows it.
    """

    @dataclass
    class Entry:
        """One revision of a key. ``operation`` is ``None`` for a value, ``"DEL"`` or
        ``"PURGE"`` for a delete or purge marker; ``delta`` (from a watcher) is how many
        entries were still to come; ``created`` (from a watcher) when it was stored."""

        # Entries are made by the hundred thousand in a watch: no __dict__.
        __slots__ = ("bucket", "created", "delta", "key", "operation", "revision", "value")

        bucket: str
        key: str
        value: bytes | None
        revision: int | None
        delta: int | None
        created: datetime.datetime | None
        operation: str | None

        def __eq__(self, other: object) -> bool:
            # By fields, whichever kind of entry (a watcher's makes ``created`` late).
            if not isinstance(other, KeyValue.Entry):
                return NotImplemented
            return (
                self.bucket,
                self.key,
                self.value,
                self.revision,
                self.delta,
                self.created,
                self.operation,
            ) == (
                other.bucket,
                other.key,
                other.value,
                other.revision,
                other.delta,
                other.created,
                other.operation,
            )

        __hash__ = None  # type: ignore[assignment]

    @dataclass(frozen=True)
    class BucketStatus:
        """A bucket's status: its stream's info read through KV's names."""

        stream_info: api.StreamInfo
        bucket: str

        @property
        def values(self) -> int:
            """How many messages the bucket holds (every kept revision and marker)."""
            return self.stream_info.state.messages

        @property
        def history(self) -> int:
            """How many revisions of each key are kept."""
            return self.stream_info.config.max_msgs_per_subject or 0

        @property
        def ttl(self) -> float | None:
            """The age (seconds) after which an entry is removed; ``None`` or 0: never."""
            return self.stream_info.config.max_age

        @property
        def marker_ttl(self) -> float | None:
            """How long (seconds) the server's own removal markers stay, or ``None``."""
            return self.stream_info.config.subject_delete_marker_ttl

        # async-nats's names.
        @property
        def info(self) -> api.StreamInfo:
            return self.stream_info

        @property
        def max_age(self) -> float | None:
            return self.ttl

    def __init__(
        self, name: str, stream: str, pre: str, js: JetStreamContext, direct: bool
    ) -> None:
        self._name = name
        self._stream = stream
        self._pre = pre
        self._js = js
        self._direct = direct

    def __repr__(self) -> str:
        return f"<natsrs.js.kv.KeyValue {self._name!r}>"

    @property
    def name(self) -> str:
        """The bucket's name."""
        return self._name

    @property
    def stream_name(self) -> str:
        """The stream behind the bucket (``KV_<bucket>``)."""
        return self._stream

    # -- reading -----------------------------------------------------------------------

    async def get(
        self, key: str, revision: int | None = None, validate_keys: bool = True
    ) -> KeyValue.Entry:
        """The key's latest entry, or its entry at ``revision``.

        Raises:
            natsrs.js.errors.InvalidKeyError: ``key`` is not a valid key.
            natsrs.js.errors.KeyNotFoundError: no such key, or (with ``entry`` and
                ``op`` set) its latest entry is a delete or purge marker, or
                ``revision`` is another key's.
        """
        _check_key(key, validate_keys)
        try:
            return await self._get(key, revision)
        except KeyDeletedError as err:
            raise KeyNotFoundError(err.entry, err.op) from None

    async def entry(self, key: str, revision: int | None = None) -> KeyValue.Entry | None:
        """async-nats's ``entry``: the key's latest entry (or the one at ``revision``),
        a delete or purge marker included (see ``operation``); ``None`` when the key
        never had one."""
        _check_key(key, True)
        try:
            return await self._get(key, revision)
        except KeyDeletedError as err:
            entry: KeyValue.Entry = err.entry
            entry.operation = err.op
            return entry
        except KeyNotFoundError:
            return None

    async def _get(self, key: str, revision: int | None = None) -> KeyValue.Entry:
        subject = f"{self._pre}{key}"
        try:
            if revision:
                msg = await self._js.get_msg(self._stream, seq=revision, direct=self._direct)
            else:
                msg = await self._js.get_msg(self._stream, subject=subject, direct=self._direct)
        except NotFoundError:
            raise KeyNotFoundError() from None
        if msg.subject != subject:
            raise KeyNotFoundError(message=f"expected '{subject}', but got '{msg.subject}'")
        entry = KeyValue.Entry(
            bucket=self._name,
            key=key,
            value=msg.data,
            revision=msg.seq,
            delta=None,
            created=msg.time,
            operation=None,
        )
        headers = msg.headers
        if headers:
            op = headers.get(KV_OP)
            if op is None and KV_MARKER_REASON in headers:
                op = _MARKER_OPS.get(headers[KV_MARKER_REASON], KV_PURGE)
            if op in (KV_DEL, KV_PURGE):
                raise KeyDeletedError(entry, op)
        return entry

    # -- writing -----------------------------------------------------------------------

    async def put(self, key: str, value: bytes, validate_keys: bool = True) -> int:
        """Store ``value`` as the key's new revision; returns the revision.

        (No per-key TTL here, as in nats-py: ``create`` and ``purge`` take one.)
        """
        _check_key(key, validate_keys)
        ack = await self._js.publish(f"{self._pre}{key}", value)
        return ack.seq

    async def create(
        self,
        key: str,
        value: bytes,
        validate_keys: bool = True,
        msg_ttl: float | None = None,
    ) -> int:
        """Store ``value`` only if the key has no value (never had one, or its latest
        entry is a delete or purge marker); returns the revision. ``msg_ttl``: seconds
        after which the server removes this entry (nats-server 2.11+).

        Raises:
            natsrs.js.errors.KeyWrongLastSequenceError: the key has a value.
        """
        _check_key(key, validate_keys)
        try:
            return await self._update(key, value, 0, msg_ttl)
        except KeyWrongLastSequenceError as err:
            # The key may hold only a marker, which a create replaces: update on it.
            try:
                await self._get(key)
            except KeyDeletedError as deleted:
                return await self._update(key, value, deleted.entry.revision, msg_ttl)
            raise err from None

    async def update(
        self, key: str, value: bytes, last: int | None = None, validate_keys: bool = True
    ) -> int:
        """Store ``value`` only if the key's latest revision is ``last``; returns the
        new revision (async-nats's ``update(key, value, revision)``).

        Raises:
            natsrs.js.errors.KeyWrongLastSequenceError: it is not (a ``BadRequestError``).
        """
        _check_key(key, validate_keys)
        return await self._update(key, value, last, None)

    async def _update(self, key: str, value: bytes, last: int | None, msg_ttl: float | None) -> int:
        try:
            ack = await self._js.publish(
                f"{self._pre}{key}",
                value,
                msg_ttl=msg_ttl,
                expected_last_subject_sequence=last or 0,
            )
        except APIError as err:
            if err.err_code in _WRONG_LAST_SEQUENCE:
                raise KeyWrongLastSequenceError(description=err.description) from None
            raise
        return ack.seq

    async def delete(
        self,
        key: str,
        last: int | None = None,
        validate_keys: bool = True,
        msg_ttl: float | None = None,
    ) -> bool:
        """Mark the key deleted (its earlier revisions stay in its history); with
        ``last``, only if that is its latest revision.

        ``msg_ttl`` is accepted and ignored, with a ``DeprecationWarning`` (nats-py's:
        a TTL on a delete marker means nothing; ``create`` and ``purge`` take one).

        Raises:
            natsrs.js.errors.BadRequestError: ``last`` is not the latest revision.
        """
        if msg_ttl is not None:
            warnings.warn(
                "msg_ttl on delete() is deprecated and ignored; use create() or purge() for TTL",
                DeprecationWarning,
                stacklevel=2,
            )
        _check_key(key, validate_keys)
        expected = last if last and last > 0 else None
        await self._js.publish(
            f"{self._pre}{key}",
            b"",
            headers={KV_OP: KV_DEL},
            expected_last_subject_sequence=expected,
        )
        return True

    async def purge(self, key: str, msg_ttl: float | None = None) -> bool:
        """Remove every revision of the key, leaving one purge marker (``msg_ttl``:
        seconds the marker stays). As in nats-py the key is not checked: a wildcard
        (``"sessions.*"``) purges every key it matches."""
        if not isinstance(key, str) or not key:
            raise _invalid_key(key)
        await self._js.publish(
            f"{self._pre}{key}",
            b"",
            headers={KV_OP: KV_PURGE, api.Header.ROLLUP.value: MSG_ROLLUP_SUBJECT},
            msg_ttl=msg_ttl,
        )
        return True

    async def purge_deletes(self, olderthan: float = 30 * 60) -> bool:
        """Remove the delete and purge markers, with the history before them; markers
        younger than ``olderthan`` seconds stay (0 or less: remove them all)."""
        watcher = await self.watchall()
        markers: list[KeyValue.Entry] = []
        try:
            async for update in watcher:
                if update is None:
                    break
                if update.operation in (KV_DEL, KV_PURGE):
                    markers.append(update)
        finally:
            await watcher.stop()
        now = datetime.datetime.now(_UTC)
        for entry in markers:
            keep = 0
            if olderthan > 0 and entry.created is not None:
                if olderthan > (now - entry.created).total_seconds():
                    keep = 1
            await self._js.purge_stream(self._stream, subject=f"{self._pre}{entry.key}", keep=keep)
        return True

    async def status(self) -> KeyValue.BucketStatus:
        """The bucket's status (``values``, ``history``, ``ttl``, ``marker_ttl``...)."""
        info = await self._js.stream_info(self._stream)
        return KeyValue.BucketStatus(stream_info=info, bucket=self._name)

    # -- listing -----------------------------------------------------------------------

    def keys(self, filters: Sequence[str] | None = None, **kwargs: Any) -> _Listing[str]:
        """The keys that have a value. ``await kv.keys()`` gives a list (nats-py's,
        ``NoKeysError`` when there is none); ``async for key in kv.keys()`` streams
        them (async-nats's). ``filters``: only keys containing one of these strings
        (nats-py's matching)."""
        return _Listing(self._keys(filters), "keys")

    async def _keys(self, filters: Sequence[str] | None) -> AsyncIterator[str]:
        watcher = await self.watchall(ignore_deletes=True, meta_only=True)
        try:
            async for entry in watcher:
                if entry is None:
                    return
                if not filters or any(f in entry.key for f in filters):
                    yield entry.key
        finally:
            await watcher.stop()

    def history(self, key: str) -> _Listing[KeyValue.Entry]:
        """Every kept revision of ``key`` (markers included), oldest first.
        ``await kv.history(key)`` gives a list (``NoKeysError`` when there is none);
        ``async for entry in kv.history(key)`` streams them."""
        return _Listing(self._history(key), "history")

    async def _history(self, key: str) -> AsyncIterator[KeyValue.Entry]:
        watcher = await self.watch(key, include_history=True)
        try:
            async for entry in watcher:
                if entry is None:
                    return
                yield entry
        finally:
            await watcher.stop()

    # -- watching ----------------------------------------------------------------------

    class KeyWatcher:
        """Updates of the watched keys: ``await w.updates(timeout)`` or ``async for``.

        Unless the watch was made with ``updates_only`` (or by an async-nats name), one
        ``None`` comes once the values present when the watch started were delivered
        (at once when there were none). ``stop()`` ends it.
        """

        STOP_ITER: ClassVar[StopIterSentinel] = StopIterSentinel()

        def __init__(self, kv: KeyValue, *, ignore_deletes: bool, marker: bool) -> None:
            self._kv = kv
            self._bucket = kv._name
            # Makes the entries from the consumer's messages, a batch at a time.
            self._reader = KvWatchReader(kv._name, kv._pre, _WatchedEntry, ignore_deletes)
            self._sub: PushSubscription | None = None
            self._pending: int | None = None
            # Entries converted and not handed over yet (and the None marker).
            self._ready: deque[KeyValue.Entry | None] = deque()
            # Once the None marker went out (or never will), it is not sent again.
            self._init_done = not marker
            self._stopped = False

        def __repr__(self) -> str:
            return f"<natsrs.js.kv.KeyValue.KeyWatcher {self._bucket!r}>"

        async def stop(self) -> None:
            """Stop watching (the consumer is dropped by the server once unread)."""
            if self._stopped:
                return
            self._stopped = True
            self._ready.clear()
            if self._sub is not None:
                self._sub._stop()
                try:
                    await self._sub._sub.unsubscribe()
                except core_errors.Error:
                    pass  # the connection is closed: nothing left to stop

        async def updates(self, timeout: float | None = 5.0) -> KeyValue.Entry | None:
            """The next update (``None``: the initial values are all delivered).

            Raises:
                natsrs.errors.TimeoutError: none within ``timeout`` seconds.
                natsrs.errors.BadSubscriptionError: the watcher was stopped.
            """
            ready = self._ready
            if ready:
                return ready.popleft()
            deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
            while not ready:
                await self._receive(deadline)
            return ready.popleft()

        def __aiter__(self) -> KeyValue.KeyWatcher:
            return self

        async def __anext__(self) -> KeyValue.Entry | None:
            ready = self._ready
            while not ready:
                try:
                    await self._receive(None)
                except core_errors.BadSubscriptionError:
                    raise StopAsyncIteration from None
            return ready.popleft()

        async def _receive(self, deadline: float | None) -> None:
            sub = self._sub
            if self._stopped or sub is None:
                raise core_errors.BadSubscriptionError("nats: watcher stopped")
            try:
                entries, self._init_done = await sub._take_entries(
                    self._reader, deadline, self._init_done
                )
            except core_errors.BadSubscriptionError:
                self._stopped = True
                raise
            if entries and not self._stopped:  # stop() while it waited: nothing to keep
                self._ready.extend(entries)

    async def watch(
        self,
        keys: str | Sequence[str],
        headers_only: bool = False,
        include_history: bool = False,
        ignore_deletes: bool = False,
        meta_only: bool = False,
        inactive_threshold: float | None = None,
        *,
        updates_only: bool = False,
        resume_from_revision: int | None = None,
        _marker: bool = True,
    ) -> KeyValue.KeyWatcher:
        """Watch ``keys`` (a key, a pattern with ``*`` / ``>``, or a list of them).

        The watcher gives each key's latest entry first (every kept revision with
        ``include_history``), then ``None``, then every update as it happens.
        ``ignore_deletes`` leaves out delete and purge markers; ``meta_only`` (or
        ``headers_only``) leaves out values. ``inactive_threshold``: seconds after
        which the server drops the consumer of a watcher nobody reads (5 minutes).
        natsrs's additions (nats.go's options): ``updates_only`` gives only what
        changes from now (no ``None``), ``resume_from_revision`` starts at a revision.

        Raises:
            natsrs.js.errors.InvalidKeyError: a key or pattern is invalid (nothing sent).
            ValueError: ``updates_only`` with ``include_history`` or a revision.
        """
        patterns = _key_patterns(keys)
        if updates_only and (include_history or resume_from_revision):
            raise ValueError("nats: updates_only excludes include_history and a start revision")
        if resume_from_revision is not None and resume_from_revision < 1:
            raise ValueError("nats: resume_from_revision must be 1 or more")
        js = self._js
        native = js._native
        inbox = native.new_inbox()
        config = api.ConsumerConfig(
            deliver_subject=inbox,
            ack_policy=api.AckPolicy.NONE,
            max_deliver=1,
            ack_wait=22 * 3600,
            idle_heartbeat=_WATCH_HEARTBEAT,
            flow_control=True,
            num_replicas=1,
            mem_storage=True,
            headers_only=True if (meta_only or headers_only) else None,
            inactive_threshold=inactive_threshold or _WATCH_INACTIVE_THRESHOLD,
        )
        if updates_only:
            config.deliver_policy = api.DeliverPolicy.NEW
        elif resume_from_revision:
            config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = resume_from_revision
        elif include_history:
            config.deliver_policy = api.DeliverPolicy.ALL
        else:
            config.deliver_policy = api.DeliverPolicy.LAST_PER_SUBJECT
        subjects = [f"{self._pre}{p}" for p in patterns]
        if len(subjects) == 1:
            config.filter_subject = subjects[0]
        else:
            config.filter_subjects = subjects
        watcher = KeyValue.KeyWatcher(
            self, ignore_deletes=ignore_deletes, marker=_marker and not updates_only
        )
        # Subscribed before the consumer exists: nothing it sends can miss the inbox.
        core = await native.subscribe(inbox)
        try:
            info = await js.add_consumer(self._stream, config=config)
        except BaseException:
            await core.unsubscribe()
            raise
        sub = PushSubscription(
            js,
            native,
            core,
            self._stream,
            info.name or "",
            config,
            cb=None,
            auto_ack=False,
            ordered=True,
        )
        delivered = info.delivered
        if delivered is not None and delivered.stream_seq:
            # A consumer replaced before it delivered anything resumes from where this
            # one started (updates only, a start revision), not from the beginning.
            sub._sseq = delivered.stream_seq
        watcher._sub = sub
        watcher._pending = info.num_pending
        if not watcher._init_done and not info.num_pending:
            if delivered is None or not delivered.consumer_seq:
                # Nothing to deliver: the initial values are all there is (none).
                watcher._ready.append(None)
                watcher._init_done = True
        return watcher

    async def watchall(self, **kwargs: Any) -> KeyValue.KeyWatcher:
        """``watch(">", ...)``: every key."""
        return await self.watch(">", **kwargs)

    # async-nats's watches: no None marker, and their deliver policies.
    async def watch_with_history(self, key: str | Sequence[str]) -> KeyValue.KeyWatcher:
        """async-nats's ``watch_with_history``: the key's latest entry, then updates."""
        return await self.watch(key, _marker=False)

    async def watch_all(self) -> KeyValue.KeyWatcher:
        """async-nats's ``watch_all``: updates of every key from now on."""
        return await self.watch(">", updates_only=True)

    async def watch_from_revision(self, key: str, revision: int) -> KeyValue.KeyWatcher:
        """async-nats's ``watch_from_revision``: the key's entries from ``revision``."""
        return await self.watch(key, resume_from_revision=revision, _marker=False)

    async def watch_all_from_revision(self, revision: int) -> KeyValue.KeyWatcher:
        """async-nats's ``watch_all_from_revision``: every entry from ``revision``."""
        return await self.watch(">", resume_from_revision=revision, _marker=False)


# The slot behind ``KeyValue.Entry.created``.
_CREATED_SLOT: Any = KeyValue.Entry.__dict__["created"]


def _get_created(entry: _WatchedEntry) -> datetime.datetime | None:
    try:
        created: datetime.datetime | None = _CREATED_SLOT.__get__(entry, None)
    except AttributeError:
        created = datetime.datetime.fromtimestamp(entry._stamp / 1e9, _UTC)
        _CREATED_SLOT.__set__(entry, created)
    return created


def _set_created(entry: _WatchedEntry, created: datetime.datetime | None) -> None:
    _CREATED_SLOT.__set__(entry, created)


class _WatchedEntry(KeyValue.Entry):
    """A watcher's entry: a ``KeyValue.Entry`` whose ``created`` is made from the
    delivery's timestamp when first read (a watch makes entries by the hundred
    thousand, and most are never asked when they were stored)."""

    # When it was stored, in nanoseconds since the epoch (the ack subject's timestamp).
    __slots__ = ("_stamp",)
    _stamp: int

    created = property(_get_created, _set_created)


# It prints, and reads in a debugger, as the entry it is.
_WatchedEntry.__name__ = "Entry"
_WatchedEntry.__qualname__ = KeyValue.Entry.__qualname__


class _Listing(Generic[T]):
    """``keys()`` / ``history()``: awaited, a list (``NoKeysError`` when empty);
    iterated with ``async for``, the items as they come."""

    def __init__(self, items: AsyncIterator[T], what: str) -> None:
        self._items = items
        self._what = what

    def __repr__(self) -> str:
        return f"<natsrs.js.kv {self._what} listing>"

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items

    async def _collect(self) -> list[T]:
        found = [item async for item in self._items]
        if not found:
            raise NoKeysError
        return found

    def __await__(self) -> Generator[Any, None, list[T]]:
        return self._collect().__await__()
