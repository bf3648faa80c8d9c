"""The Object Store (``js.object_store``) against a real JetStream server, over both
clients nats-py users get (``js_nc``).

Objects go in from every kind of source and come back byte for byte, into memory or a
file; the stored digest is checked on read (a corrupted or incomplete object raises);
an upload that stops part way never leaves an object that reads as complete; bad names
are refused before anything is sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

import natsrs
from helpers import SLOW_WAIT, w
from natsrs.js import api
from natsrs.js.errors import (
    BadRequestError,
    BucketNotFoundError,
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
from natsrs.js.object_store import ObjectStore
from natsrs.js.object_store import _ChunkSource as ChunkSource

pytestmark = pytest.mark.timeout(120)

CHUNK = 128 * 1024


def digest_of(data: bytes) -> str:
    return "SHA-256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode()


def chunks_of(size: int, chunk: int = CHUNK) -> int:
    return -(-size // chunk)


async def store(js_nc: Any, bucket: str = "OBJ", **params: Any) -> tuple[Any, ObjectStore]:
    js = js_nc.jetstream()
    return js, await w(js.create_object_store(bucket, **params))


class AsyncReader:
    """An aiofiles-like source: ``read`` is a coroutine, and gives short reads."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    async def read(self, n: int = -1) -> bytes:
        await asyncio.sleep(0)
        return self._data.read(min(n, 10_000) if n > 0 else n)


class AsyncWriter:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    async def write(self, data: bytes) -> int:
        await asyncio.sleep(0)
        self.parts.append(bytes(data))
        return len(data)


# -- buckets ---------------------------------------------------------------------------------


async def test_bucket_lifecycle_and_stream_config(js_nc: Any) -> None:
    js, obs = await store(js_nc, "OBJS", description="testing", ttl=3600)
    assert (obs._name, obs._stream, obs.name) == ("OBJS", "OBJ_OBJS", "OBJS")
    status = await w(obs.status())
    config = status.stream_info.config
    assert config.subjects == ["$O.OBJS.C.>", "$O.OBJS.M.>"]
    assert config.discard == api.DiscardPolicy.NEW
    assert config.allow_rollup_hdrs and config.allow_direct
    assert config.max_bytes == -1
    assert (status.bucket, status.description, status.ttl) == ("OBJS", "testing", 3600)
    assert status.storage_type == api.StorageType.FILE
    assert status.replicas == 1
    assert status.sealed is False
    assert status.size == 0

    again = await w(js.object_store("OBJS"))
    assert again._stream == "OBJ_OBJS"
    # A config and a positional bucket: the bucket wins, the config is not changed.
    config_in = api.ObjectStoreConfig(bucket="ignored", description="d", storage="memory")
    other = await w(js.create_object_store("OTHER", config=config_in))
    assert other._name == "OTHER" and config_in.bucket == "ignored"
    assert (await w(other.status())).storage_type == api.StorageType.MEMORY

    assert await w(js.delete_object_store("OBJS")) is True
    with pytest.raises(BucketNotFoundError):
        await w(js.object_store("OBJS"))
    with pytest.raises(NotFoundError):
        await w(js.delete_object_store("OBJS"))
    with pytest.raises(NotFoundError):
        await w(obs.get("anything"))


@pytest.mark.parametrize("bucket", ["", "a.b", "a b", "a*", "a>", "ok!", "ä"])
async def test_invalid_bucket_names_send_nothing(js_nc: Any, js_server: Any, bucket: str) -> None:
    js, obs = await store(js_nc)
    before = js_server.varz()["in_msgs"]
    for call in (
        lambda: js.create_object_store(bucket),
        lambda: js.create_object_store(config=api.ObjectStoreConfig(bucket=bucket)),
        lambda: js.object_store(bucket),
        lambda: js.delete_object_store(bucket),
        lambda: obs.add_bucket_link("link", bucket),
    ):
        with pytest.raises(InvalidBucketNameError):
            await w(call())
    with pytest.raises(InvalidBucketNameError):
        await w(js.create_object_store())
    assert js_server.varz()["in_msgs"] == before


async def test_invalid_object_names_and_sources_send_nothing(js_nc: Any, js_server: Any) -> None:
    _, obs = await store(js_nc)
    before = js_server.varz()["in_msgs"]
    with pytest.raises(InvalidObjectNameError):
        await w(obs.put("", b"data"))
    with pytest.raises(InvalidObjectNameError):
        await w(obs.put("bad\udc80name", b"data"))
    with pytest.raises(TypeError):
        await w(obs.put(42, b"data"))  # type: ignore[arg-type]
    for source in (12345, object(), io.StringIO("text without bytes"), ["a"]):
        with pytest.raises(TypeError):
            await w(obs.put("x", source))
    with pytest.raises(ValueError, match="max_chunk_size"):
        meta = api.ObjectMeta(options=api.ObjectMetaOptions(max_chunk_size=0))
        await w(obs.put("x", b"d", meta=meta))
    with pytest.raises(ObjectNotFoundError):
        await w(obs.get(""))
    with pytest.raises(InvalidObjectNameError):
        await w(obs.add_link("", api.ObjectInfo(name="a", bucket="OBJ", nuid="n")))
    assert js_server.varz()["in_msgs"] == before


# -- put and get -----------------------------------------------------------------------------


async def test_put_and_get_bytes_str_and_metadata(js_nc: Any) -> None:
    _, obs = await store(js_nc)
    info = await w(obs.put("foo", b"bar"))
    assert (info.name, info.bucket, info.size, info.chunks) == ("foo", "OBJ", 3, 1)
    assert info.digest == digest_of(b"bar")
    assert info.deleted is False and info.nuid

    info = await w(obs.put("plain", "lorem ipsum"))
    assert info.size == 11

    opts = api.ObjectMetaOptions(max_chunk_size=5)
    meta = api.ObjectMeta(description="desc", headers={"h": "v"}, options=opts)
    info = await w(obs.put("file.txt", b"filevalue", meta=meta))
    assert (info.size, info.chunks, info.description) == (9, 2, "desc")
    assert info.headers == {"h": "v"} and info.options == opts
    assert meta.name is None  # the caller's meta is not changed

    stored = await w(obs.get_info("file.txt"))
    assert stored.digest == digest_of(b"filevalue") and stored.options == opts
    assert await w(obs.info("file.txt")) == stored
    result = await w(obs.get("file.txt"))
    assert isinstance(result, ObjectStore.ObjectResult)
    assert result.data == b"filevalue" and type(result.data) is bytes
    assert result.info == stored
    assert (await w(obs.get("plain"))).data == b"lorem ipsum"

    # meta.name names the object when the name argument is empty.
    info = await w(obs.put("", b"x", meta=api.ObjectMeta(name="from-meta")))
    assert info.name == "from-meta"
    # Any name: the subject carries it base64-encoded.
    info = await w(obs.put("a name/with *>. and ünïcode", b"odd"))
    assert (await w(obs.get("a name/with *>. and ünïcode"))).data == b"odd"

    # An empty object: no chunk, nothing to read.
    info = await w(obs.put("empty", b""))
    assert (info.size, info.chunks, info.digest) == (0, 0, digest_of(b""))
    assert (await w(obs.get("empty"))).data == b""


async def test_big_objects_from_every_source_into_every_target(js_nc: Any, tmp_path: Path) -> None:
    _, obs = await store(js_nc)
    data = os.urandom(3 * 1024 * 1024 + 33)
    expected = (len(data), chunks_of(len(data)), digest_of(data))
    path = tmp_path / "big.bin"
    path.write_bytes(data)

    async def check(name: str, source: Any) -> None:
        info = await w(obs.put(name, source), SLOW_WAIT)
        assert (info.size, info.chunks, info.digest) == expected, name

    await check("bytes", data)
    await check("bytearray", bytearray(data))
    await check("memoryview", memoryview(data))
    await check("bytesio", io.BytesIO(data))
    # Blocking file objects are what these puts and gets are given.
    with open(path, "rb") as binary:  # noqa: ASYNC230
        await check("binary", binary)
    with open(path, "rb", buffering=0) as raw:  # noqa: ASYNC230
        await check("raw", raw)
    with open(path, encoding="latin-1") as text:  # noqa: ASYNC230
        await check("text", text)
    await check("async", AsyncReader(data))

    result = await w(obs.get("async"), SLOW_WAIT)
    assert result.data == data

    out = tmp_path / "out.bin"
    with open(out, "wb") as sink:  # noqa: ASYNC230
        result = await w(obs.get("binary", writeinto=sink), SLOW_WAIT)
    assert result.data == b"" and result.info.size == len(data)
    assert out.read_bytes() == data

    out.unlink()
    with open(out, "w", encoding="latin-1") as text_sink:  # noqa: ASYNC230
        await w(obs.get("text", writeinto=text_sink), SLOW_WAIT)
    assert out.read_bytes() == data

    sink_io = io.BytesIO()
    await w(obs.get("raw", writeinto=sink_io), SLOW_WAIT)
    assert sink_io.getvalue() == data

    writer = AsyncWriter()
    await w(obs.get("bytesio", writeinto=writer), SLOW_WAIT)
    assert b"".join(writer.parts) == data
    assert all(len(part) <= CHUNK for part in writer.parts)


class ShortReads(io.RawIOBase):
    """A blocking source (read in a worker thread) whose reads give at most 10,000 bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        part = self._data.read(min(len(buffer), 10_000))
        buffer[: len(part)] = part
        return len(part)


@pytest.mark.parametrize(
    ("source", "size", "chunk"),
    [
        (AsyncReader, 25_000, 8_000),
        (ShortReads, 25_000, 8_000),
        # Chunks of 400,000: two per worker-thread read, so several reads.
        (ShortReads, 2_000_000, 400_000),
        (bytes, 2_000_000, 400_000),
    ],
)
async def test_chunks_have_the_chunk_size_whatever_the_source_reads(
    js_nc: Any, source: Any, size: int, chunk: int
) -> None:
    data = os.urandom(size)
    reader = ChunkSource(source(data), chunk)
    chunks = []
    while part := await w(reader.next()):
        chunks.append(part)
    assert [len(part) for part in chunks] == [chunk] * (size // chunk) + (
        [size % chunk] if size % chunk else []
    )
    assert b"".join(chunks) == data
    assert reader.digest.digest() == hashlib.sha256(data).digest()
    assert await w(reader.next()) == b""


async def test_replacing_an_object_purges_the_old_chunks(js_nc: Any) -> None:
    js, obs = await store(js_nc)
    old = await w(obs.put("obj", os.urandom(300_000)))
    new_data = os.urandom(200_000)
    new = await w(obs.put("obj", new_data))
    assert new.nuid != old.nuid
    assert (await w(obs.get("obj"))).data == new_data
    state = (await w(js.stream_info("OBJ_OBJ"))).state
    # The new object's two chunks and one metadata message.
    assert state.messages == chunks_of(200_000) + 1


# -- delete, list, watch -----------------------------------------------------------------------


async def test_delete_and_show_deleted(js_nc: Any) -> None:
    js, obs = await store(js_nc)
    await w(obs.put("gone", os.urandom(200_000)))
    assert await w(obs.delete("gone")) is None
    with pytest.raises(ObjectNotFoundError):
        await w(obs.get("gone"))
    with pytest.raises(ObjectNotFoundError):
        await w(obs.get_info("gone"))
    with pytest.raises(ObjectNotFoundError):
        await w(obs.delete("gone"))
    deleted = await w(obs.get("gone", show_deleted=True))
    assert deleted.info.deleted is True and deleted.data == b""
    assert (deleted.info.size, deleted.info.chunks) == (0, 0)
    assert (await w(obs.info("gone"))).deleted is True
    # Only the deleted marker is left.
    assert (await w(js.stream_info("OBJ_OBJ"))).state.messages == 1
    with pytest.raises(ObjectNotFoundError):
        await w(obs.delete("never-was"))


async def test_list_in_put_order(js_nc: Any) -> None:
    _, obs = await store(js_nc)
    with pytest.raises(NotFoundError):
        await w(obs.list())
    for name in "ABCD":
        await w(obs.put(name, name.encode() * 3))
    await w(obs.put("A", b"again"))
    await w(obs.delete("B"))
    entries = await w(obs.list())
    assert [e.name for e in entries] == ["C", "D", "A", "B"]
    assert entries[-1].deleted is True
    assert [e.name for e in await w(obs.list(ignore_deletes=True))] == ["C", "D", "A"]


async def test_list_of_many_objects(js_nc: Any) -> None:
    _, obs = await store(js_nc)
    names = [f"obj-{i:03}" for i in range(300)]
    for name in names:
        await w(obs.put(name, name.encode()))
    assert [e.name for e in await w(obs.list(), SLOW_WAIT)] == names


async def test_watch_marker_updates_deletes_and_stop(js_nc: Any) -> None:
    _, obs = await store(js_nc)
    watcher = await w(obs.watch())
    assert await w(watcher.updates()) is None
    await w(obs.put("A", b"A"))
    await w(obs.put("B", b"B"))
    a = await w(watcher.updates())
    assert (a.name, a.size, a.chunks, a.digest) == ("A", 1, 1, digest_of(b"A"))
    assert (await w(watcher.updates())).name == "B"
    with pytest.raises(asyncio.TimeoutError):
        await watcher.updates(timeout=0.3)
    with pytest.raises(natsrs.errors.TimeoutError):
        await watcher.updates(timeout=0.1)
    await w(obs.delete("B"))
    b = await w(watcher.updates())
    assert b.name == "B" and b.deleted is True

    await w(watcher.stop())
    got = [entry async for entry in watcher]
    assert got == []
    with pytest.raises(natsrs.errors.TimeoutError):
        await w(watcher.updates(timeout=1))


async def test_watch_options(js_nc: Any) -> None:
    _, obs = await store(js_nc)
    await w(obs.put("A", b"1"))
    await w(obs.put("A", b"22"))
    await w(obs.put("B", b"B"))
    await w(obs.delete("B"))

    current = await w(obs.watch())
    first = [await w(current.updates()) for _ in range(3)]
    assert [(e.name, e.size, e.deleted) for e in first[:2]] == [("A", 2, False), ("B", 0, True)]
    assert first[2] is None

    live = await w(obs.watch(ignore_deletes=True))
    assert (await w(live.updates())).name == "A"
    assert await w(live.updates()) is None

    history = await w(obs.watch(include_history=True))
    sizes = []
    while (entry := await w(history.updates())) is not None:
        sizes.append((entry.name, entry.size))
    # Each metadata write rolls up the ones before: the history is the current state.
    assert sizes == [("A", 2), ("B", 0)]

    updates = await w(obs.watch(updates_only=True))
    with pytest.raises(asyncio.TimeoutError):
        await updates.updates(timeout=0.3)
    await w(obs.put("C", b"C"))
    entry = await w(updates.updates())
    assert entry is not None and entry.name == "C"
    await w(obs.put("D", b"D"))

    async def first(watcher: Any) -> Any:
        async for entry in watcher:
            return entry
        return "ended"

    entry = await w(first(updates))
    assert entry is not None and entry.name == "D"
    for watcher in (current, live, history, updates):
        await w(watcher.stop())


# -- metadata, links, seal ------------------------------------------------------------------


async def test_update_meta_as_nats_py(js_nc: Any) -> None:
    _, obs = await store(js_nc)
    await w(obs.put("C", b"CCC"))
    meta = (await w(obs.get_info("C"))).meta
    meta.description = "changed"
    meta.headers = {"k": "v"}
    updated = await w(obs.update_meta("C", meta))
    info = await w(obs.get_info("C"))
    assert (info.description, info.headers) == ("changed", {"k": "v"})
    assert updated == info
    assert (await w(obs.get("C"))).data == b"CCC"

    await w(obs.delete("C"))
    with pytest.raises(ObjectDeletedError):
        await w(obs.update_meta("C", meta))
    with pytest.raises(ObjectDeletedError):
        await w(obs.update_meta("X", meta))
    await w(obs.put("A", b"A"))
    rename = (await w(obs.get_info("A"))).meta
    rename.name = "Z"
    # nats-py refuses any rename through update_meta.
    with pytest.raises(ObjectAlreadyExists):
        await w(obs.update_meta("A", rename))


async def test_update_metadata_renames(js_nc: Any) -> None:
    _, obs = await store(js_nc)
    data = os.urandom(300_000)
    await w(obs.put("old", data))
    await w(obs.put("taken", b"t"))
    renamed = await w(obs.update_metadata("old", api.ObjectMeta(name="new", description="moved")))
    assert (renamed.name, renamed.description) == ("new", "moved")
    with pytest.raises(ObjectNotFoundError):
        await w(obs.get_info("old"))
    result = await w(obs.get("new"))
    assert result.data == data and result.info.description == "moved"

    with pytest.raises(ObjectAlreadyExists):
        await w(obs.update_metadata("new", api.ObjectMeta(name="taken")))
    # A deleted object's name is free.
    await w(obs.delete("taken"))
    await w(obs.update_metadata("new", api.ObjectMeta(name="taken")))
    assert (await w(obs.get("taken"))).data == data
    with pytest.raises(ObjectNotFoundError):
        await w(obs.update_metadata("missing", api.ObjectMeta(name="x")))


async def test_links(js_nc: Any) -> None:
    js, obs = await store(js_nc)
    _, other = await store(js_nc, "OTHER")
    data = os.urandom(200_000)
    target = await w(other.put("target", data))
    local = await w(obs.put("local", b"here"))

    link = await w(obs.add_link("to-other", target))
    assert link.is_link() and link.options is not None and link.options.link is not None
    assert (link.options.link.bucket, link.options.link.name) == ("OTHER", "target")
    result = await w(obs.get("to-other"))
    assert result.data == data and result.info.name == "target"
    sink = io.BytesIO()
    await w(obs.get("to-other", writeinto=sink))
    assert sink.getvalue() == data

    await w(obs.add_link("to-local", local))
    assert (await w(obs.get("to-local"))).data == b"here"
    # Re-pointing a link is allowed; overwriting an object with a link is not.
    await w(obs.add_link("to-local", target))
    assert (await w(obs.get("to-local"))).data == data
    with pytest.raises(ObjectAlreadyExists):
        await w(obs.add_link("local", target))
    with pytest.raises(Error, match="another link"):
        await w(obs.add_link("chain", link))
    await w(other.delete("target"))
    with pytest.raises(ObjectDeletedError):
        await w(obs.add_link("late", await w(other.info("target"))))
    with pytest.raises(ObjectNotFoundError):
        await w(obs.get("to-other"))

    bucket_link = await w(obs.add_bucket_link("whole", "OTHER"))
    assert bucket_link.options is not None and bucket_link.options.link is not None
    assert bucket_link.options.link.name is None
    with pytest.raises(LinkIsABucketError):
        await w(obs.get("whole"))
    listed = {e.name for e in await w(obs.list())}
    assert listed == {"local", "to-other", "to-local", "whole"}
    await w(js.delete_object_store("OTHER"))
    with pytest.raises(BucketNotFoundError):
        await w(obs.get("to-local"))


async def test_seal(js_nc: Any) -> None:
    js, obs = await store(js_nc)
    await w(obs.put("kept", b"kept"))
    await w(obs.seal())
    assert (await w(obs.status())).sealed is True
    assert (await w(js.stream_info("OBJ_OBJ"))).config.sealed is True
    with pytest.raises(BadRequestError):
        await w(obs.put("new", b"refused"))
    with pytest.raises(ObjectNotFoundError):
        await w(obs.get_info("new"))
    assert (await w(obs.get("kept"))).data == b"kept"


# -- corruption and interrupted uploads --------------------------------------------------------


async def test_a_corrupted_object_raises_on_read(js_nc: Any) -> None:
    js, obs = await store(js_nc)
    data = os.urandom(300_000)
    info = await w(obs.put("obj", data))
    chunk_subject = f"$O.OBJ.C.{info.nuid}"
    # Replace the chunks by a same-sized wrong content.
    await w(js.purge_stream("OBJ_OBJ", subject=chunk_subject))
    wrong = bytearray(data)
    wrong[1000] ^= 0xFF
    for i in range(0, len(wrong), CHUNK):
        await w(js.publish(chunk_subject, bytes(wrong[i : i + CHUNK])))
    with pytest.raises(DigestMismatchError, match="digests do not match"):
        await w(obs.get("obj"))
    with pytest.raises(DigestMismatchError):
        await w(obs.get("obj", writeinto=io.BytesIO()))

    # A chunk too many: the size no longer matches either.
    await w(js.publish(chunk_subject, b"extra"))
    with pytest.raises(DigestMismatchError, match="size"):
        await w(obs.get("obj"))


async def test_an_object_without_its_chunks_raises_at_once(js_nc: Any) -> None:
    js, obs = await store(js_nc)
    info = await w(obs.put("obj", os.urandom(300_000)))
    await w(js.purge_stream("OBJ_OBJ", subject=f"$O.OBJ.C.{info.nuid}"))
    with pytest.raises(DigestMismatchError, match="incomplete"):
        await w(obs.get("obj"), 2)


async def test_bad_metadata_raises(js_nc: Any) -> None:
    from natsrs.js.errors import BadObjectMetaError

    js, obs = await store(js_nc)
    subject = "$O.OBJ.M." + base64.urlsafe_b64encode(b"broken").decode()
    await w(js.publish(subject, b"not json"))
    with pytest.raises(BadObjectMetaError):
        await w(obs.get("broken"))
    meta = {"name": "nonuid", "bucket": "OBJ", "nuid": "", "size": 3}
    await w(
        js.publish(
            "$O.OBJ.M." + base64.urlsafe_b64encode(b"nonuid").decode(), json.dumps(meta).encode()
        )
    )
    with pytest.raises(BadObjectMetaError):
        await w(obs.get("nonuid"))


class FailingReader:
    """Gives ``good`` chunks, then runs ``then`` (an async action) or raises."""

    def __init__(self, good: int, then: Any = None) -> None:
        self.calls = 0
        self.good = good
        self.then = then

    async def read(self, n: int) -> bytes:
        self.calls += 1
        if self.calls > self.good:
            if self.then is None:
                raise OSError("disk gone")
            await self.then()
        return os.urandom(n)


async def test_a_failing_source_leaves_nothing(js_nc: Any) -> None:
    js, obs = await store(js_nc)
    previous = os.urandom(200_000)
    await w(obs.put("obj", previous))
    with pytest.raises(OSError, match="disk gone"):
        await w(obs.put("obj", FailingReader(good=5)))
    # The previous version is untouched, the new chunks purged.
    assert (await w(obs.get("obj"))).data == previous
    assert (await w(js.stream_info("OBJ_OBJ"))).state.messages == chunks_of(200_000) + 1
    with pytest.raises(OSError):
        await w(obs.put("fresh", FailingReader(good=3)))
    with pytest.raises(ObjectNotFoundError):
        await w(obs.get_info("fresh"))


async def test_a_connection_lost_mid_upload_never_leaves_a_complete_object(
    js_nc: Any, js_server: Any
) -> None:
    _, obs = await store(js_nc)
    previous = os.urandom(200_000)
    await w(obs.put("obj", previous))

    async def lose_connection() -> None:
        await js_nc.close()

    with pytest.raises(natsrs.errors.Error):
        await w(obs.put("obj", FailingReader(good=10, then=lose_connection)))
    with pytest.raises(natsrs.errors.Error):
        await w(obs.put("fresh", FailingReader(good=10)))

    nc2 = await w(natsrs.connect(js_server.url))
    try:
        obs2 = await w(nc2.jetstream().object_store("OBJ"))
        assert (await w(obs2.get("obj"))).data == previous
        with pytest.raises(ObjectNotFoundError):
            await w(obs2.get_info("fresh"))
        assert [e.name for e in await w(obs2.list())] == ["obj"]
    finally:
        await w(nc2.close())


async def test_a_cancelled_upload_leaves_nothing(js_nc: Any) -> None:
    js, obs = await store(js_nc)
    stall = asyncio.Event()

    async def wait_forever() -> None:
        stall.set()
        await asyncio.Event().wait()

    task = asyncio.ensure_future(obs.put("obj", FailingReader(good=4, then=wait_forever)))
    await w(stall.wait())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ObjectNotFoundError):
        await w(obs.get_info("obj"))
    # The clean-up task purges the chunks sent before the cancel.
    for _ in range(50):
        if (await w(js.stream_info("OBJ_OBJ"))).state.messages == 0:
            break
        await asyncio.sleep(0.1)
    assert (await w(js.stream_info("OBJ_OBJ"))).state.messages == 0
