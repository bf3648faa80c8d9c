"""Key-Value: a bucket of settings, optimistic updates, a watcher, history and keys.

A bucket keeps the last few revisions of each key. A watcher started first gets the
current values, a ``None`` once it has them all, then every change as it happens. An
update names the revision it read: a stale one is refused (``KeyWrongLastSequenceError``)
and the writer reads again and retries. ``create`` refuses a key that has a value. A
delete leaves a marker that watchers see; ``history`` lists a key's revisions and
``keys`` the keys that have a value. The bucket is deleted at the end.

Run it against a server with JetStream enabled (``NATS_URL``, default
``nats://127.0.0.1:4222``)::

    python -m natsrs server --port 4222 --jetstream &      # or nats-server -js
    python examples/kv.py
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import natsrs
from natsrs.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, ServiceUnavailableError
from natsrs.js.kv import KeyValue

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
TIMEOUT = 5.0  # seconds; every wait is bounded so the example never hangs
HISTORY = 5


def show(entry: KeyValue.Entry | None) -> str:
    if entry is None:
        return "(initial values done)"
    what = entry.operation or (entry.value or b"").decode()
    return f"{entry.key} = {what} (revision {entry.revision})"


async def watch(watcher: KeyValue.KeyWatcher, count: int) -> list[str]:
    """The next ``count`` updates, each within TIMEOUT."""
    return [show(await watcher.updates(timeout=TIMEOUT)) for _ in range(count)]


async def main() -> int:
    # A random bucket name keeps concurrent runs (and other users of the server) apart.
    bucket = f"EXAMPLE_SETTINGS_{secrets.token_hex(4).upper()}"
    nc = await natsrs.connect(NATS_URL, name="example-kv", connection_timeout=TIMEOUT)
    async with nc:  # closes the connection on the way out
        js = nc.jetstream(timeout=TIMEOUT)
        kv = await js.create_key_value(bucket=bucket, history=HISTORY)
        print(f"created bucket {bucket} (history {HISTORY})")
        try:
            await kv.put("color", b"blue")
            await kv.put("size", b"10")

            # Started now: the two current values, then None, then what changes.
            watcher = await kv.watchall()
            for line in await watch(watcher, 3):
                print(f"watch: {line}")

            # An optimistic update: read, change, write with the revision read.
            entry = await kv.get("size")
            await kv.put("size", b"11")  # another writer gets there first
            try:
                await kv.update("size", b"20", last=entry.revision)
            except KeyWrongLastSequenceError as err:
                print(f"stale update refused: {err}")
                entry = await kv.get("size")
                revision = await kv.update("size", b"20", last=entry.revision)
                print(f"retried on revision {entry.revision}: size = 20 (revision {revision})")

            try:
                await kv.create("color", b"red")
            except KeyWrongLastSequenceError:
                print("create refused: color already has a value")

            await kv.delete("color")
            try:
                await kv.get("color")
            except KeyNotFoundError as err:
                print(f"color after delete: not found ({err.op} marker)")
            revision = await kv.create("color", b"green")  # a deleted key can be created
            print(f"created color again: revision {revision}")

            for line in await watch(watcher, 4):
                print(f"watch: {line}")
            await watcher.stop()

            history = await kv.history("color")
            print(
                "color history: "
                + ", ".join(e.operation or (e.value or b"").decode() for e in history)
            )
            keys = sorted(await kv.keys())
            status = await kv.status()
            print(f"keys: {', '.join(keys)}; {status.values} entries kept")
        finally:
            await js.delete_key_value(bucket)
            print(f"deleted bucket {bucket}")
    ok = keys == ["color", "size"] and len(history) == 3
    print(f"kv: {'done' if ok else 'unexpected result'}")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except natsrs.errors.ConnectError as exc:
        sys.exit(f"kv: cannot connect to {NATS_URL}: {type(exc).__name__}: {exc}")
    except ServiceUnavailableError:
        sys.exit(f"kv: JetStream is not enabled on {NATS_URL} (start nats-server with -js)")
