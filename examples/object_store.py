"""Object Store: files of any size in a bucket, streamed in chunks, checked on read.

A report is written to a temporary file and put into a bucket straight from the open
file (never read whole into memory); a watcher sees it arrive. It is read back into
another file chunk by chunk and as ``bytes``, both checked against the SHA-256 digest
the store recorded. A link makes it readable under a second name, its description is
updated, a small text object joins it, the bucket is listed, one object is deleted, and
the bucket is sealed (no more changes) and then deleted.

Run it against a server with JetStream enabled (``NATS_URL``, default
``nats://127.0.0.1:4222``)::

    python -m natsrs server --port 4222 --jetstream &      # or nats-server -js
    python examples/object_store.py
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import sys
import tempfile

import natsrs
from natsrs.js import api
from natsrs.js.errors import BadRequestError, ObjectNotFoundError, ServiceUnavailableError

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
TIMEOUT = 5.0  # seconds; every wait is bounded so the example never hangs
REPORT_SIZE = 1024 * 1024 + 1000  # a little over 1 MiB: nine chunks of 128 KiB


def write_report(path: str) -> bytes:
    """A deterministic 'report' file; returns its SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        line = 0
        written = 0
        while written < REPORT_SIZE:
            text = f"line {line}: all systems nominal\n".encode()[: REPORT_SIZE - written]
            f.write(text)
            digest.update(text)
            written += len(text)
            line += 1
    return digest.digest()


def same_file(path: str, sha: bytes) -> bool:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(64 * 1024):
            digest.update(block)
    return digest.digest() == sha


async def main() -> int:
    with tempfile.TemporaryDirectory(prefix="natsrs-object-store-") as tmp:
        return await run(tmp)


async def run(tmp: str) -> int:
    bucket = f"example_files_{secrets.token_hex(4)}"
    source = os.path.join(tmp, "report.txt")
    copy = os.path.join(tmp, "report-copy.txt")
    sha = await asyncio.to_thread(write_report, source)

    nc = await natsrs.connect(NATS_URL, name="example-object-store", connection_timeout=TIMEOUT)
    async with nc:  # closes the connection on the way out
        js = nc.jetstream(timeout=TIMEOUT)
        obs = await js.create_object_store(bucket, description="example files")
        print(f"created object store {bucket}")
        try:
            watcher = await obs.watch()
            # The bucket is empty: the watcher says so with None first.
            assert await watcher.updates(timeout=TIMEOUT) is None

            meta = api.ObjectMeta(description="daily report", headers={"Kind": "report"})
            # Streamed from the open file, chunk by chunk (the reads run in a thread).
            with open(source, "rb") as f:  # noqa: ASYNC230
                info = await obs.put("reports/today.txt", f, meta=meta)
            print(f"put {info.name}: {info.size} bytes in {info.chunks} chunks, {info.digest}")

            seen = await watcher.updates(timeout=TIMEOUT)
            print(f"watcher saw {seen.name if seen else None}")
            await watcher.stop()

            # Into a file, chunk by chunk; the digest is checked once all is read.
            with open(copy, "wb") as f:  # noqa: ASYNC230
                result = await obs.get("reports/today.txt", writeinto=f)
            copied = await asyncio.to_thread(same_file, copy, sha)
            print(f"read into a file: {result.info.size} bytes, same: {copied}")

            # A link: the same object under a second name (async-nats's add_link).
            await obs.add_link("latest", result.info)
            latest = await obs.get("latest")
            linked = hashlib.sha256(latest.data or b"").digest() == sha
            print(f"via link 'latest': {len(latest.data or b'')} bytes, same: {linked}")

            meta = result.info.meta
            meta.description = "daily report (checked)"
            await obs.update_meta("reports/today.txt", meta)
            print(f"description now: {(await obs.get_info('reports/today.txt')).description}")

            await obs.put("notes.txt", "remember to rotate the logs")
            await obs.delete("notes.txt")
            try:
                await obs.get("notes.txt")
            except ObjectNotFoundError:
                print("notes.txt deleted")

            names = [entry.name for entry in await obs.list(ignore_deletes=True)]
            print(f"objects: {', '.join(names)}")

            await obs.seal()
            status = await obs.status()
            print(f"sealed: {status.sealed}, {status.size} bytes stored")
            try:
                await obs.put("late.txt", b"too late")
            except BadRequestError:
                print("put after seal refused")
        finally:
            deleted = await js.delete_object_store(bucket)
            print(f"deleted object store {bucket}: {deleted}")
    print(f"object_store: stored, read back and checked: {copied and linked}")
    return 0 if copied and linked else 1


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except natsrs.errors.ConnectError as exc:
        sys.exit(f"object_store: cannot connect to {NATS_URL}: {type(exc).__name__}: {exc}")
    except ServiceUnavailableError:
        sys.exit(
            f"object_store: JetStream is not enabled on {NATS_URL} (start nats-server with -js)"
        )
