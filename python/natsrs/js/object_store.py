"""nats-py's ``nats.js.object_store``: :class:`ObjectStore`, an Object Store bucket over
the stream ``OBJ_<bucket>``, with async-nats's method names on the same class.

An object is its chunks, published to ``$O.<bucket>.C.<nuid>`` (a fresh NUID per put),
and then one metadata message (an :class:`~natsrs.js.api.ObjectInfo` as JSON, with a
subject rollup) on ``$O.<bucket>.M.<base64 of the name>``. The metadata goes last, after
every chunk's ack: an upload that stops part way (an error, a lost connection, a
cancelled task) never publishes it, so the object does not exist, or the previous
version stays what the name reads. Chunks go out through the extension's pipelined
``publish_async``, a bounded number in flight; a source is read one chunk at a time and
an object read into a file is written one chunk at a time, so neither is ever held
whole. Reads check the SHA-256 digest (and the size) recorded in the metadata.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime
import inspect
import io
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from hashlib import sha256
from typing import TYPE_CHECKING, Any, ClassVar, Union

from natsrs import errors as core_errors
from natsrs.js import api
from natsrs.js.errors import (
    BadObjectMetaError,
    DigestMismatchError,
    Error,
    InvalidBucketNameError,
    InvalidObjectNameError,
    LinkIsABucketError,
    NotFoundError,
    ObjectAlreadyExists,
    ObjectDeletedError,
    ObjectNotFoundError,
)

if TYPE_CHECKING:
    from natsrs._natsrs import Message, PubAck
    from natsrs.js.client import JetStreamContext
    from natsrs.js.push import PushSubscription

__all__ = [
    "MSG_ROLLUP_SUBJECT",
    "OBJ_ALL_CHUNKS_PRE_TEMPLATE",
    "OBJ_ALL_META_PRE_TEMPLATE",
    "OBJ_CHUNKS_PRE_TEMPLATE",
    "OBJ_DEFAULT_CHUNK_SIZE",
    "OBJ_DIGEST_TEMPLATE",
    "OBJ_DIGEST_TYPE",
    "OBJ_META_PRE_TEMPLATE",
    "OBJ_NO_PENDING",
    "OBJ_STREAM_TEMPLATE",
    "VALID_BUCKET_RE",
    "VALID_KEY_RE",
    "ObjectStore",
]

VALID_BUCKET_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
VALID_KEY_RE = re.compile(r"^[-/_=\.a-zA-Z0-9]+$")

OBJ_STREAM_TEMPLATE = "OBJ_{bucket}"
OBJ_ALL_CHUNKS_PRE_TEMPLATE = "$O.{bucket}.C.>"
OBJ_ALL_META_PRE_TEMPLATE = "$O.{bucket}.M.>"
OBJ_CHUNKS_PRE_TEMPLATE = "$O.{bucket}.C.{obj}"
OBJ_META_PRE_TEMPLATE = "$O.{bucket}.M.{obj}"
OBJ_NO_PENDING = "0"
OBJ_DEFAULT_CHUNK_SIZE = 128 * 1024
OBJ_DIGEST_TYPE = "SHA-256="
OBJ_DIGEST_TEMPLATE = OBJ_DIGEST_TYPE + "{digest}"

MSG_ROLLUP_SUBJECT = "sub"
"""The ``Nats-Rollup`` value that keeps only the newest message of the subject."""

# Chunks whose acks may be outstanding during a put. Enough to keep the connection busy
# while the server stores earlier ones; the memory this holds is the window times the
# chunk size (the payloads in flight), whatever the object's size.
_CHUNKS_IN_FLIGHT = 32
# A link may point to a link only through objects written by hand; past this many hops
# it is a loop.
_MAX_LINK_HOPS = 8
_WATCH_QUEUE = 256
# A get asks for at most about this much of the object's chunks at a time. Each chunk
# held costs far more memory than its bytes (measured with 128 KiB chunks: about 1 MiB
# of RSS per chunk in the window, the engine's read buffer its payload was cut from),
# so the window is six default chunks: 3x nats-py's speed, under the 8 MiB bound.
_READ_WINDOW_BYTES = 768 * 1024

_Source = Union[str, bytes, bytearray, memoryview, Any]


def _validate_bucket(bucket: object) -> str:
    """The bucket name, or ``InvalidBucketNameError`` (nothing is sent)."""
    if not isinstance(bucket, str) or VALID_BUCKET_RE.match(bucket) is None:
        raise InvalidBucketNameError(description=f"nats: invalid bucket name: {bucket!r}")
    return bucket


def _encode_name(name: object) -> str:
    """An object name as its meta subject's last token (URL-safe base64 with padding)."""
    if not isinstance(name, str):
        raise TypeError(f"nats: object name must be a str, not {type(name).__name__}")
    try:
        raw = name.encode()
    except UnicodeEncodeError:
        raise InvalidObjectNameError(
            description="nats: object name is not encodable as UTF-8"
        ) from None
    return base64.urlsafe_b64encode(raw).decode()


def _pending(msg: Message) -> int:
    """The consumer's pending count from a JetStream delivery's reply subject."""
    tokens = msg.reply.split(".")
    # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>, or the form
    # with domain and account hash in front (and a random token at the end).
    return int(tokens[8] if len(tokens) == 9 else tokens[10])


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _digest_bytes(digest: str) -> bytes:
    """The SHA-256 in a recorded digest (``SHA-256=`` + URL-safe base64)."""
    if digest[: len(OBJ_DIGEST_TYPE)].upper() != OBJ_DIGEST_TYPE:
        raise BadObjectMetaError(description=f"nats: unsupported object digest: {digest!r}")
    text = digest[len(OBJ_DIGEST_TYPE) :]
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise BadObjectMetaError(description=f"nats: bad object digest: {digest!r}") from None


class _StopIterSentinel:
    """What a stopped watcher's queue ends with."""


# Bytes a blocking file source reads per trip to a worker thread: one hand-off (and one
# loop wake-up) per eight default chunks instead of one per chunk.
_READ_AHEAD_BYTES = 1 << 20


class _ChunkSource:
    """The object's bytes cut into chunks of ``size`` (fewer at the end) with their
    SHA-256, the next batch read while the caller publishes this one. Checks the
    source's type before anything is sent.

    A blocking file is read, and its bytes hashed, in a worker thread, as many chunks
    at a time as fit in ``_READ_AHEAD_BYTES``: both release the GIL, so reading and
    hashing run beside the loop publishing earlier chunks."""

    def __init__(self, data: _Source, size: int) -> None:
        self.digest = sha256()
        self._size = size
        self._ahead: deque[bytes] = deque()
        self._pending: asyncio.Future[list[bytes]] | None = None
        self._done = False
        self._view: memoryview | None = None
        self._offset = 0
        self._blocking_read: Callable[[int], Any] | None = None
        self._read_async: Callable[[int], Awaitable[Any]] | None = None
        if isinstance(data, str):
            data = data.encode()
        if isinstance(data, (bytes, bytearray, memoryview)):
            self._view = memoryview(data).cast("B")
            return
        if not (hasattr(data, "readinto") or isinstance(data, io.BufferedIOBase)):
            if hasattr(data, "buffer"):
                # A text file object: its bytes, as stored.
                data = data.buffer
            elif isinstance(data, io.TextIOBase) or not hasattr(data, "read"):
                raise TypeError("nats: invalid type for object store")
        read = data.read
        if inspect.iscoroutinefunction(read):
            self._read_async = read
        elif isinstance(data, io.BytesIO):

            async def read_now(n: int) -> Any:
                return read(n)

            self._read_async = read_now
        else:
            # A file read blocks: in a worker thread, as nats-py does.
            self._blocking_read = read

    async def next(self) -> bytes:
        """The next chunk, ``b""`` after the last."""
        if self._view is not None:
            chunk = self._view[self._offset : self._offset + self._size].tobytes()
            self._offset += len(chunk)
            self.digest.update(chunk)
            return chunk
        if not self._ahead and not self._done:
            if self._pending is None:
                self._pending = self._start_batch()
            batch, self._pending = await self._pending, None
            self._ahead.extend(batch)
            self._done = not batch or len(batch[-1]) < self._size
        if not self._ahead:
            return b""
        chunk = self._ahead.popleft()
        if self._pending is None and not self._done:
            self._pending = self._start_batch()
        return chunk

    def close(self) -> None:
        """Stop reading ahead (a failed or cancelled put)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _start_batch(self) -> asyncio.Future[list[bytes]]:
        if self._blocking_read is not None:
            return asyncio.get_running_loop().run_in_executor(None, self._read_batch)
        return asyncio.ensure_future(self._read_async_chunk())

    def _read_batch(self) -> list[bytes]:
        """In a worker thread: the next chunks of a blocking file, hashed."""
        read = self._blocking_read
        assert read is not None
        chunks = []
        for _ in range(max(1, _READ_AHEAD_BYTES // self._size)):
            parts: list[Any] = []
            got = 0
            part = read(self._size)
            while self._adds(part):
                got += len(part)
                parts.append(part)
                if got >= self._size:
                    break
                part = read(self._size - got)
            chunk = self._joined(parts)
            if chunk:
                self.digest.update(chunk)
                chunks.append(chunk)
            if len(chunk) < self._size:
                break
        return chunks

    async def _read_async_chunk(self) -> list[bytes]:
        read = self._read_async
        assert read is not None
        parts: list[Any] = []
        got = 0
        part = await read(self._size)
        while self._adds(part):
            got += len(part)
            parts.append(part)
            if got >= self._size:
                break
            part = await read(self._size - got)
        chunk = self._joined(parts)
        self.digest.update(chunk)
        return [chunk] if chunk else []

    @staticmethod
    def _adds(part: Any) -> bool:
        """Whether a read's result adds bytes. A short read is not the end (a pipe, a
        raw file): chunks are filled so that their boundaries do not depend on how the
        source delivers its bytes."""
        if part is None:
            raise ValueError("nats: the object's source has no data ready (non-blocking)")
        if isinstance(part, str):
            raise TypeError("nats: the object's source gives str; open it in binary mode")
        return bool(part)

    @staticmethod
    def _joined(parts: list[Any]) -> bytes:
        if len(parts) == 1 and isinstance(parts[0], bytes):
            return parts[0]
        return b"".join(parts)


def _chunk_writer(target: Any) -> Callable[[bytes], Awaitable[Any]]:
    """A function writing one chunk to ``target`` (a file object, or aiofiles')."""
    if hasattr(target, "buffer"):
        target = target.buffer
    write = target.write
    if inspect.iscoroutinefunction(write):
        write_async: Callable[[bytes], Awaitable[Any]] = write
        return write_async
    if isinstance(target, (io.BytesIO, bytearray)):

        async def write_now(chunk: bytes) -> Any:
            return write(chunk)

        return write_now

    async def write_in_thread(chunk: bytes) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, write, chunk)

    return write_in_thread


class ObjectStore:
    """An Object Store bucket (``js.object_store(bucket)``): objects of any size, in
    chunks, with metadata, links, a watcher and a seal.

    nats-py's methods (``put``, ``get``, ``get_info``, ``list``, ``watch``, ``delete``,
    ``update_meta``, ``seal``, ``status``) behave as nats-py's; async-nats's names
    (``info``, ``update_metadata``, ``add_link``, ``add_bucket_link``) are here too.
    """

    @dataclass
    class ObjectResult:
        """An object read by ``get``: its info, and its content unless it was written
        into a file object."""

        info: api.ObjectInfo
        data: bytes | None = field(default=b"")

    @dataclass(frozen=True)
    class ObjectStoreStatus:
        """A bucket's status: its stream's info, and the bucket's view of it."""

        stream_info: api.StreamInfo
        bucket: str

        @property
        def description(self) -> str | None:
            return self.stream_info.config.description

        @property
        def ttl(self) -> float | None:
            """The objects' maximum age in seconds (0: none)."""
            return self.stream_info.config.max_age

        @property
        def storage_type(self) -> api.StorageType | None:
            return self.stream_info.config.storage

        @property
        def replicas(self) -> int | None:
            return self.stream_info.config.num_replicas

        @property
        def sealed(self) -> bool:
            """Whether the bucket is sealed (no change is accepted)."""
            return bool(self.stream_info.config.sealed)

        @property
        def size(self) -> int:
            """The bytes the bucket's stream holds: data and metadata."""
            return self.stream_info.state.bytes

    class ObjectWatcher:
        """Changes to the bucket's objects, from ``watch()``: ``await updates()`` or
        ``async for``. ``None`` marks the end of the objects that existed when the watch
        began (unless ``updates_only``)."""

        STOP_ITER: ClassVar[_StopIterSentinel] = _StopIterSentinel()

        def __init__(self, js: Any) -> None:
            self._js = js
            self._updates: asyncio.Queue[api.ObjectInfo | _StopIterSentinel | None] = asyncio.Queue(
                maxsize=_WATCH_QUEUE
            )
            self._sub: PushSubscription | None = None
            self._pending: int | None = None
            # Whether the None marker was given (it is given once).
            self._init_done = False
            self._stopped = False

        async def stop(self) -> None:
            """Stop watching; iteration ends once what arrived before is read."""
            if self._stopped:
                return
            self._stopped = True
            if self._sub is not None:
                await self._sub.unsubscribe()
            # A full queue is being read: the reader sees _stopped once it empties it.
            with contextlib.suppress(asyncio.QueueFull):
                self._updates.put_nowait(self.STOP_ITER)

        async def updates(self, timeout: float = 5.0) -> api.ObjectInfo | None:
            """The next change (an ``ObjectInfo``) or the ``None`` marker.

            Raises:
                natsrs.errors.TimeoutError: nothing within ``timeout`` seconds, or the
                    watcher is stopped and everything before was read (nothing more
                    can come).
            """
            if self._stopped and self._updates.empty():
                raise core_errors.TimeoutError("nats: watcher stopped")
            try:
                entry = await asyncio.wait_for(self._updates.get(), timeout)
            except asyncio.TimeoutError:
                raise core_errors.TimeoutError("nats: timeout") from None
            if isinstance(entry, _StopIterSentinel):
                self._updates.put_nowait(entry)
                raise core_errors.TimeoutError("nats: watcher stopped")
            return entry

        def __aiter__(self) -> ObjectStore.ObjectWatcher:
            return self

        async def __anext__(self) -> api.ObjectInfo | None:
            if self._stopped and self._updates.empty():
                raise StopAsyncIteration
            entry = await self._updates.get()
            if isinstance(entry, _StopIterSentinel):
                self._updates.put_nowait(entry)
                raise StopAsyncIteration
            return entry

    def __init__(self, name: str, stream: str, js: JetStreamContext) -> None:
        self._name = name
        self._stream = stream
        self._js = js
        # Clean-ups of cancelled puts, kept referenced until they end.
        self._cleanups: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<ObjectStore bucket={self._name!r}>"

    @property
    def name(self) -> str:
        """The bucket's name (async-nats's ``ObjectStore::name``)."""
        return self._name

    def _meta_subject(self, name: str) -> str:
        return OBJ_META_PRE_TEMPLATE.format(bucket=self._name, obj=_encode_name(name))

    def _chunk_subject(self, nuid: str) -> str:
        return OBJ_CHUNKS_PRE_TEMPLATE.format(bucket=self._name, obj=nuid)

    async def _publish_meta(self, info: api.ObjectInfo) -> None:
        await self._js.publish(
            self._meta_subject(info.name),
            json.dumps(info.as_dict()).encode(),
            headers={api.Header.ROLLUP.value: MSG_ROLLUP_SUBJECT},
        )

    # -- reading ---------------------------------------------------------------------------

    async def get_info(self, name: str, show_deleted: bool | None = False) -> api.ObjectInfo:
        """The object's current info (a deleted object's too with ``show_deleted``).

        Raises:
            natsrs.js.errors.ObjectNotFoundError: no such object (or it is deleted, or
                the bucket is gone).
            natsrs.js.errors.BadObjectMetaError: its stored metadata cannot be read.
        """
        subject = self._meta_subject(name)
        if not name:
            # No object has an empty name; nothing to ask.
            raise ObjectNotFoundError()
        try:
            msg = await self._js.get_last_msg(self._stream, subject)
        except NotFoundError:
            raise ObjectNotFoundError() from None
        try:
            info = api.ObjectInfo.from_response(json.loads(msg.data or b""))
        except Exception as err:  # any malformed metadata is the same error
            raise BadObjectMetaError(description=f"nats: bad object metadata: {err}") from err
        if not show_deleted and info.deleted:
            raise ObjectNotFoundError()
        return info

    async def info(self, name: str) -> api.ObjectInfo:
        """async-nats's ``info``: the object's info, a deleted object's included."""
        return await self.get_info(name, show_deleted=True)

    async def get(
        self, name: str, writeinto: Any = None, show_deleted: bool | None = False
    ) -> ObjectStore.ObjectResult:
        """The object: its info and content, or with ``writeinto`` (a binary or text file
        object, or an aiofiles one) its content written there chunk by chunk and
        ``data == b""``. A link to an object is followed (to its bucket when another).

        Raises:
            natsrs.js.errors.ObjectNotFoundError: no such object.
            natsrs.js.errors.LinkIsABucketError: the object links to a whole bucket.
            natsrs.js.errors.DigestMismatchError: the content read is not what the
                metadata records (digest or size); with ``writeinto`` what was read has
                been written by then.
            natsrs.js.errors.BadObjectMetaError: the stored metadata is unusable.
        """
        return await self._get(name, writeinto, show_deleted, 0)

    async def _get(
        self, name: str, writeinto: Any, show_deleted: bool | None, hops: int
    ) -> ObjectStore.ObjectResult:
        info = await self.get_info(name, show_deleted)
        if not info.nuid:
            raise BadObjectMetaError(description="nats: object metadata has no nuid")
        link = info.options.link if info.options is not None else None
        if link is not None:
            if not link.name:
                raise LinkIsABucketError(description="nats: link is a bucket")
            if hops >= _MAX_LINK_HOPS:
                raise BadObjectMetaError(description="nats: too many links to follow")
            store = self if link.bucket == self._name else await self._js.object_store(link.bucket)
            return await store._get(link.name, writeinto, False, hops + 1)

        result = self.ObjectResult(info=info)
        if not info.size:
            return result
        write = _chunk_writer(writeinto) if writeinto is not None else None
        buffer = None
        if write is None:
            # Sized once, filled in place: getvalue() then hands over this very buffer,
            # so the object is in memory once.
            buffer = io.BytesIO()
            buffer.seek(info.size - 1)
            buffer.write(b"\0")
            buffer.seek(0)

        digest = sha256()
        total = 0
        # One write in flight while the next chunk is read.
        writing: asyncio.Future[Any] | None = None
        try:
            async for chunk in self._chunks(info):
                digest.update(chunk)
                total += len(chunk)
                if write is not None:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(write(chunk))
                else:
                    assert buffer is not None
                    buffer.write(chunk)
            if writing is not None:
                await writing
                writing = None
        finally:
            if writing is not None:
                writing.cancel()
                with contextlib.suppress(BaseException):
                    await writing

        if total != info.size:
            raise DigestMismatchError(
                description=f"nats: object size {total} does not match its metadata ({info.size})"
            )
        if info.digest and digest.digest() != _digest_bytes(info.digest):
            raise DigestMismatchError(
                description="nats: received a corrupt object, digests do not match"
            )
        if buffer is not None:
            result.data = buffer.getvalue()
        return result

    async def _chunks(self, info: api.ObjectInfo) -> AsyncIterator[bytes]:
        """The object's chunks in order, from a pull consumer asked for a few at a time:
        what is held in memory is bounded by that window, however fast the server sends
        and however slowly the chunks are written out."""
        nc = self._js._native
        chunk_size = (info.options.max_chunk_size if info.options else None) or (
            OBJ_DEFAULT_CHUNK_SIZE
        )
        window = max(2, min(_CHUNKS_IN_FLIGHT, _READ_WINDOW_BYTES // chunk_size))
        timeout = self._js._timeout
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        consumer: str | None = None
        try:
            created = await self._js._jsm.add_consumer(
                self._stream,
                config=api.ConsumerConfig(
                    ack_policy=api.AckPolicy.NONE,
                    deliver_policy=api.DeliverPolicy.ALL,
                    filter_subject=self._chunk_subject(info.nuid),
                    mem_storage=True,
                    num_replicas=1,
                    inactive_threshold=max(timeout * 2, 5.0),
                ),
            )
            consumer = created.name
            # The chunks there are: the consumer counts them as it is made.
            stored = created.num_pending or 0
            if stored == 0:
                raise DigestMismatchError(
                    description=f"nats: object is incomplete: 0 of {info.size} bytes stored"
                )
            next_subject = f"{self._js._prefix}.CONSUMER.MSG.NEXT.{self._stream}.{consumer}"
            requested = received = 0

            async def ask() -> None:
                nonlocal requested
                count = min(window, stored - requested)
                body = {"batch": count, "expires": int(timeout * 1e9)}
                await nc.publish(next_subject, json.dumps(body).encode(), reply=inbox)
                requested += count

            await ask()
            while received < stored:
                if sub.pending_msgs:
                    batch = await sub.next_batch(window)
                else:
                    try:
                        msg = await sub.next(timeout=timeout + 1)
                    except core_errors.TimeoutError:
                        raise core_errors.TimeoutError(
                            f"nats: no chunk of the object within {timeout + 1} s"
                        ) from None
                    if msg is None:
                        raise core_errors.ConnectionClosedError("nats: connection closed")
                    batch = [msg]
                for msg in batch:
                    if msg.status is not None:
                        if msg.status == 408 or msg.status == 404:
                            # The request ran out with chunks missing: they are gone.
                            raise DigestMismatchError(
                                description="nats: object is incomplete: chunks are missing"
                            )
                        raise Error(description=f"nats: reading the object: {msg.description}")
                    received += 1
                    # Ask for the next window while half of this one is still to come.
                    if requested < stored and requested - received < window // 2 + 1:
                        await ask()
                    yield msg.data
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            if consumer is not None:
                with contextlib.suppress(Exception):
                    await self._js._jsm.delete_consumer(self._stream, consumer)

    # -- writing ---------------------------------------------------------------------------

    async def put(
        self, name: str, data: _Source, meta: api.ObjectMeta | None = None
    ) -> api.ObjectInfo:
        """Store ``data`` (``str``, ``bytes``, a binary or text file object, an aiofiles
        one, or anything with ``read``) as the object ``name`` (``meta.name`` when
        ``name`` is empty), replacing the previous version once the new one is complete.

        Raises:
            natsrs.js.errors.InvalidObjectNameError: no name (nothing is sent).
            TypeError: ``data`` is of no supported kind (nothing is sent).
            natsrs.js.errors.BadRequestError: the bucket refused a chunk (sealed, full).
        """
        if not isinstance(name, str):
            raise TypeError(f"nats: object name must be a str, not {type(name).__name__}")
        meta = api.ObjectMeta(name=name) if meta is None else meta.evolve()
        if name:
            meta.name = name
        if not isinstance(meta.name, str) or not meta.name:
            raise InvalidObjectNameError(description="nats: object name is required")
        _encode_name(meta.name)
        options = (
            api.ObjectMetaOptions(max_chunk_size=OBJ_DEFAULT_CHUNK_SIZE)
            if meta.options is None
            else meta.options.evolve()
        )
        if options.max_chunk_size is None:
            options.max_chunk_size = OBJ_DEFAULT_CHUNK_SIZE
        chunk_size = options.max_chunk_size
        if not isinstance(chunk_size, int) or chunk_size <= 0:
            raise ValueError(f"nats: invalid max_chunk_size: {chunk_size!r}")
        source = _ChunkSource(data, chunk_size)

        nuid = self._js._native.new_inbox().rsplit(".", 1)[-1]
        chunk_subject = self._chunk_subject(nuid)
        try:
            einfo: api.ObjectInfo | None = await self.get_info(meta.name)
        except NotFoundError:
            einfo = None

        info = api.ObjectInfo(
            name=meta.name,
            description=meta.description,
            headers=meta.headers,
            options=options,
            bucket=self._name,
            nuid=nuid,
            size=0,
            chunks=0,
            mtime=_now(),
        )
        size = chunks = 0
        acks: deque[Awaitable[PubAck]] = deque()
        try:
            while chunk := await source.next():
                acks.append(await self._js.publish_async(chunk_subject, chunk))
                size += len(chunk)
                chunks += 1
                if len(acks) >= _CHUNKS_IN_FLIGHT:
                    await acks.popleft()
            while acks:
                await acks.popleft()
        except asyncio.CancelledError:
            source.close()
            self._clean_up_later(acks, chunk_subject)
            raise
        except Exception:
            source.close()
            await self._clean_up(acks, chunk_subject)
            raise

        info.size = size
        info.chunks = chunks
        info.digest = OBJ_DIGEST_TEMPLATE.format(
            digest=base64.urlsafe_b64encode(source.digest.digest()).decode()
        )
        try:
            await self._publish_meta(info)
        except asyncio.CancelledError:
            self._clean_up_later(deque(), chunk_subject, info)
            raise
        except Exception:
            # The metadata may have been stored with only its ack lost: then the object
            # is complete and its chunks must stay.
            if not await self._meta_landed(info):
                await self._clean_up(deque(), chunk_subject)
                raise
        info.mtime = _now()

        if einfo is not None and not einfo.deleted and einfo.nuid != nuid:
            await self._js.purge_stream(self._stream, subject=self._chunk_subject(einfo.nuid))
        return info

    async def _meta_landed(self, info: api.ObjectInfo) -> bool:
        try:
            stored = await self.get_info(info.name)
        except Exception:  # unknown: clean up as if it did not
            return False
        return stored.nuid == info.nuid

    async def _clean_up(self, acks: deque[Awaitable[PubAck]], chunk_subject: str) -> None:
        """After a failed put: let the chunks in flight settle, then purge them all."""
        for ack in acks:
            with contextlib.suppress(Exception):
                await ack
        with contextlib.suppress(Exception):
            await self._js.purge_stream(self._stream, subject=chunk_subject)

    def _clean_up_later(
        self,
        acks: deque[Awaitable[PubAck]],
        chunk_subject: str,
        info: api.ObjectInfo | None = None,
    ) -> None:
        """A cancelled put's clean-up, in a task of its own (the caller is cancelled)."""

        async def clean_up() -> None:
            if info is not None and await self._meta_landed(info):
                return
            await self._clean_up(acks, chunk_subject)

        task = asyncio.get_running_loop().create_task(clean_up())
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    async def delete(self, name: str) -> None:
        """Delete the object: its metadata becomes a deleted marker, its chunks are purged.

        Raises:
            natsrs.js.errors.ObjectNotFoundError: no such object (or already deleted).
        """
        info = await self.get_info(name)
        if not info.nuid:
            raise BadObjectMetaError(description="nats: object metadata has no nuid")
        chunk_subject = self._chunk_subject(info.nuid)
        info.deleted = True
        info.size = 0
        info.chunks = 0
        info.digest = ""
        # A time, not nats-py's "": readers in other languages parse it as one.
        info.mtime = _now()
        try:
            await self._publish_meta(info)
        finally:
            await self._js.purge_stream(self._stream, subject=chunk_subject)

    async def update_meta(self, name: str, meta: api.ObjectMeta) -> api.ObjectInfo:
        """Replace the object's description and headers with ``meta``'s (nats-py).

        As in nats-py, a different ``meta.name`` is refused with ``ObjectAlreadyExists``:
        rename with ``update_metadata``.

        Raises:
            natsrs.js.errors.ObjectDeletedError: no such object, or it is deleted.
            natsrs.js.errors.ObjectAlreadyExists: ``meta.name`` is another name.
        """
        try:
            info = await self.get_info(name)
        except ObjectNotFoundError:
            raise ObjectDeletedError() from None
        if meta.name != name:
            raise ObjectAlreadyExists(description="nats: an object already exists with that name")
        info.description = meta.description
        info.headers = meta.headers
        await self._publish_meta(info)
        return info

    async def update_metadata(self, name: str, meta: api.ObjectMeta) -> api.ObjectInfo:
        """async-nats's ``update_metadata``: replace the object's description and headers,
        and rename it when ``meta.name`` differs (onto a free or deleted name).

        Raises:
            natsrs.js.errors.ObjectNotFoundError: no such object, or it is deleted.
            natsrs.js.errors.ObjectAlreadyExists: another object has the new name.
        """
        info = await self.get_info(name)
        new_name = meta.name or name
        if new_name != name:
            _encode_name(new_name)
            try:
                existing = await self.get_info(new_name)
            except ObjectNotFoundError:
                existing = None
            if existing is not None:
                raise ObjectAlreadyExists(
                    description=f"nats: an object already exists with the name {new_name!r}"
                )
        info.name = new_name
        info.description = meta.description
        info.headers = meta.headers
        await self._publish_meta(info)
        if new_name != name:
            # Only once the new name holds it: an interrupted rename loses nothing.
            await self._js.purge_stream(self._stream, subject=self._meta_subject(name))
        return info

    async def add_link(self, name: str, obj: api.ObjectInfo) -> api.ObjectInfo:
        """async-nats's ``add_link``: the object ``name`` in this bucket becomes a link to
        ``obj`` (an object of this bucket or another), which ``get`` follows.

        Raises:
            natsrs.js.errors.InvalidObjectNameError: ``name`` or ``obj.name`` is empty.
            natsrs.js.errors.ObjectDeletedError: ``obj`` is deleted.
            natsrs.js.errors.Error: ``obj`` is itself a link.
            natsrs.js.errors.ObjectAlreadyExists: ``name`` is an object, not a link.
        """
        if not isinstance(name, str) or not name:
            raise InvalidObjectNameError(description="nats: link name is required")
        _encode_name(name)
        if not getattr(obj, "name", None):
            raise InvalidObjectNameError(description="nats: the linked object has no name")
        if obj.deleted:
            raise ObjectDeletedError(description="nats: cannot link to a deleted object")
        if obj.is_link():
            raise Error(description="nats: a link cannot point to another link")
        _validate_bucket(obj.bucket)
        link = api.ObjectLink(bucket=obj.bucket, name=obj.name)
        return await self._put_link(name, link)

    async def add_bucket_link(self, name: str, bucket: str) -> api.ObjectInfo:
        """async-nats's ``add_bucket_link``: the object ``name`` becomes a link to the
        bucket ``bucket`` (``get`` of it raises ``LinkIsABucketError``).

        Raises:
            natsrs.js.errors.InvalidObjectNameError: ``name`` is empty.
            natsrs.js.errors.InvalidBucketNameError: ``bucket`` is not a bucket name.
            natsrs.js.errors.ObjectAlreadyExists: ``name`` is an object, not a link.
        """
        if not isinstance(name, str) or not name:
            raise InvalidObjectNameError(description="nats: link name is required")
        _encode_name(name)
        return await self._put_link(name, api.ObjectLink(bucket=_validate_bucket(bucket)))

    async def _put_link(self, name: str, link: api.ObjectLink) -> api.ObjectInfo:
        try:
            existing = await self.get_info(name)
        except ObjectNotFoundError:
            existing = None
        if existing is not None and not existing.is_link():
            raise ObjectAlreadyExists(
                description=f"nats: an object already exists with the name {name!r}"
            )
        info = api.ObjectInfo(
            name=name,
            bucket=self._name,
            nuid=self._js._native.new_inbox().rsplit(".", 1)[-1],
            size=0,
            chunks=0,
            mtime=_now(),
            options=api.ObjectMetaOptions(link=link),
        )
        await self._publish_meta(info)
        return info

    # -- the bucket -------------------------------------------------------------------------

    async def status(self) -> ObjectStore.ObjectStoreStatus:
        """The bucket's status (its stream's info)."""
        info = await self._js.stream_info(self._stream)
        return self.ObjectStoreStatus(stream_info=info, bucket=self._name)

    async def seal(self) -> None:
        """Seal the bucket: no change to it is accepted any more."""
        info = await self._js.stream_info(self._stream)
        config = info.config
        config.sealed = True
        await self._js.update_stream(config)

    async def watch(
        self,
        ignore_deletes: bool = False,
        include_history: bool = False,
        meta_only: bool = False,
        updates_only: bool = False,
    ) -> ObjectStore.ObjectWatcher:
        """Watch the bucket's objects: the current info of each (every version with
        ``include_history``), then ``None``, then each change as it happens.
        ``updates_only`` skips the current objects and the ``None``; ``ignore_deletes``
        leaves deleted objects out. A watcher only ever reads metadata (never chunks),
        so ``meta_only`` is always the case.
        """
        del meta_only
        all_meta = OBJ_ALL_META_PRE_TEMPLATE.format(bucket=self._name)
        watcher = ObjectStore.ObjectWatcher(self)

        async def on_update(msg: Message) -> None:
            info = api.ObjectInfo.from_response(json.loads(msg.data))
            if not ignore_deletes or not info.deleted:
                await watcher._updates.put(info)
            if not watcher._init_done and not updates_only and _pending(msg) == 0:
                watcher._init_done = True
                await watcher._updates.put(None)

        if updates_only:
            watcher._init_done = True
        else:
            try:
                await self._js.get_last_msg(self._stream, all_meta)
            except NotFoundError:
                watcher._init_done = True
                await watcher._updates.put(None)

        deliver_policy = None
        if updates_only:
            deliver_policy = api.DeliverPolicy.NEW
        elif not include_history:
            deliver_policy = api.DeliverPolicy.LAST_PER_SUBJECT
        watcher._sub = await self._js.subscribe(
            all_meta,
            cb=on_update,
            ordered_consumer=True,
            deliver_policy=deliver_policy,
            stream=self._stream,
        )
        return watcher

    async def list(self, ignore_deletes: bool = False) -> list[api.ObjectInfo]:
        """Every object's current info, in the order they were last written.

        Raises:
            natsrs.js.errors.NotFoundError: the bucket has no objects (nats-py's).
        """
        watcher = await self.watch(ignore_deletes=ignore_deletes)
        entries: list[api.ObjectInfo] = []
        try:
            while True:
                entry = await watcher.updates(timeout=self._js._timeout)
                if entry is None:
                    break
                entries.append(entry)
        finally:
            await watcher.stop()
        if not entries:
            raise NotFoundError(description="nats: no objects found")
        return entries
