"""Connection events: watch a client connect, (optionally) reconnect, and close.

natsrs reports connection events two ways, and this example uses both:

* ``ConnectOptions.event_callback(cb)``: ``cb(event)`` runs on the event loop for every
  event from the very first connection on (plain functions and coroutines both work).
* ``Client.events()``: an async iterator of the events from its creation on; it never
  drops one and ends after ``CLOSED``.

What it shows:

1. A normal connection in state ``CONNECTED``; the callback prints ``CONNECTED``.
2. ``retry_on_initial_connect()``: ``connect()`` returns at once in state ``PENDING``
   and the engine connects in the background; the callback tells when it is up.
3. ``--watch SECONDS``: print the events of ``Client.events()`` until one reconnect has
   completed or the time is up. Restart the server meanwhile to see ``DISCONNECTED`` then
   ``CONNECTED`` again (the engine reconnects and resubscribes by itself).
4. ``close()``: the stream ends with ``CLOSED``; later calls raise
   ``ConnectionClosedError``.

Run it against any NATS server (``NATS_URL``, default ``nats://127.0.0.1:4222``)::

    python examples/reconnect_events.py
    python examples/reconnect_events.py --watch 30   # then restart nats-server
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time

import natsrs

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
TIMEOUT = 5.0  # seconds; every wait is bounded so the example never hangs


def name_of(value: natsrs.ConnectionState | natsrs.EventKind) -> str:
    return str(value).rsplit(".", 1)[-1]  # "EventKind.CONNECTED" -> "CONNECTED"


def describe(event: natsrs.Event) -> str:
    text = name_of(event.kind)
    if event.sid is not None:
        text += f" (subscription {event.sid})"
    if event.message:
        text += f": {event.message}"
    return text


async def next_event(stream: natsrs.EventStream, timeout: float) -> natsrs.Event | None:
    """The next event of ``stream``, ``None`` when it has ended (after ``CLOSED``)."""

    async def one() -> natsrs.Event:
        return await stream.__anext__()

    try:
        return await asyncio.wait_for(one(), timeout)
    except StopAsyncIteration:
        return None


async def watch(nc: natsrs.Client, events: natsrs.EventStream, seconds: float) -> int:
    """Print events until one reconnect completes or ``seconds`` pass."""
    print(
        f"watching the connection for up to {seconds:g}s: restart the server to see a reconnect",
        flush=True,
    )
    connects = nc.statistics().connects
    deadline = time.monotonic() + seconds
    disconnected = False
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = await next_event(events, left)
        except asyncio.TimeoutError:
            break
        if event is None:
            break
        print(f"  [events()] {describe(event)}", flush=True)
        if event.kind == natsrs.EventKind.DISCONNECTED:
            disconnected = True
        elif event.kind == natsrs.EventKind.CONNECTED and disconnected:
            now = nc.statistics().connects
            print(f"  reconnected (connects: {connects} -> {now})", flush=True)
            return now - connects
    print("  no reconnect while watching", flush=True)
    return 0


async def main(watch_seconds: float) -> int:
    # 1. A normal connection: connect() returns once the server has answered (and
    #    raises NoServersError at once when nothing listens there). The callback sees
    #    every event from the first CONNECTED on.
    closed_seen = asyncio.Event()

    def on_event(event: natsrs.Event) -> None:
        print(f"  [callback] {describe(event)}", flush=True)
        if event.kind == natsrs.EventKind.CLOSED:
            closed_seen.set()

    opts = (
        natsrs.ConnectOptions()
        .name("example-reconnect")
        .connection_timeout(TIMEOUT)
        .event_callback(on_event)
    )
    nc = await opts.connect(NATS_URL)
    events = nc.events()  # from now on, none dropped; ends after CLOSED
    print(f"before: state {name_of(nc.connection_state)}, is_closed {nc.is_closed}")
    info = nc.server_info
    if info is not None:
        print(f"before: server {info.server_name} {info.version} at {info.host}:{info.port}")
    print(f"before: connects {nc.statistics().connects}", flush=True)
    await asyncio.sleep(0)  # let the callback of the first CONNECTED run

    # 2. Connect in the background: connect() returns before the connection is up; an
    #    event callback (set before connect(), so it cannot miss the event) says when.
    up = asyncio.Event()

    def on_background_event(event: natsrs.Event) -> None:
        if event.kind == natsrs.EventKind.CONNECTED:
            up.set()

    started = time.monotonic()
    background = await (
        natsrs.ConnectOptions()
        .retry_on_initial_connect()
        .event_callback(on_background_event)
        .connect(NATS_URL)
    )
    first = name_of(background.connection_state)
    print(f"retry_on_initial_connect: state right after connect(): {first}")
    try:
        await asyncio.wait_for(up.wait(), TIMEOUT)
        took = time.monotonic() - started
        print(f"retry_on_initial_connect: CONNECTED event {took * 1000:.1f} ms later")
    finally:
        await background.close()

    # 3. Optionally watch for a reconnect, then prove the connection still works.
    check = f"examples.reconnect.{secrets.token_hex(4)}"
    if watch_seconds > 0:
        await watch(nc, events, watch_seconds)
        if nc.connection_state == natsrs.ConnectionState.CONNECTED:
            sub = await nc.subscribe(check)
            await nc.publish(check, b"still here")
            msg = await sub.next(timeout=TIMEOUT)
            print(f"after watching: round trip ok ({msg.payload.decode() if msg else 'nothing'})")
        else:
            print(f"after watching: {name_of(nc.connection_state)}, no round trip")

    # 4. Close for good: the stream reports what is left, ending with CLOSED.
    await nc.close()
    while (event := await next_event(events, TIMEOUT)) is not None:
        print(f"  [events()] {describe(event)}")
        if event.kind == natsrs.EventKind.CLOSED:
            break
    await asyncio.wait_for(closed_seen.wait(), TIMEOUT)  # the callback's turn, too
    print(f"after close: state {name_of(nc.connection_state)}, is_closed {nc.is_closed}")
    try:
        await nc.publish(check, b"too late")
    except natsrs.errors.ConnectionClosedError as exc:
        print(f"after close: publish raises ConnectionClosedError ({exc})")
    print("reconnect_events: done")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--watch",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="print connection events for up to SECONDS, or until one reconnect",
    )
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(main(args.watch)))
    except natsrs.errors.ConnectError as exc:
        sys.exit(f"reconnect_events: cannot connect to {NATS_URL}: {type(exc).__name__}: {exc}")
