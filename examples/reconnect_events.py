"""Connection state: watch a client connect, (optionally) reconnect, and close.

natsrs has no connection event callbacks yet (disconnected / reconnected / closed
handlers are planned), so this example reads ``Client.connection_state`` and
``Client.statistics().connects`` instead, which is what the API offers today.

What it shows:

1. A normal connection in state ``CONNECTED``.
2. ``retry_on_initial_connect()``: ``connect()`` returns at once in state ``PENDING``
   and the engine connects in the background.
3. ``--watch SECONDS``: poll the state and print every change until one reconnect has
   completed or the time is up. Restart the server meanwhile to see ``DISCONNECTED`` then
   ``CONNECTED`` again (the engine reconnects and resubscribes by itself).
4. ``close()``: state ``CLOSED``; later calls raise ``ConnectionClosedError``.

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
POLL = 0.02  # seconds between two looks at the connection state


def state_name(state: natsrs.ConnectionState) -> str:
    return str(state).rsplit(".", 1)[-1]  # "ConnectionState.CONNECTED" -> "CONNECTED"


async def wait_for_state(nc: natsrs.Client, wanted: natsrs.ConnectionState) -> float:
    """Poll until ``nc`` is in state ``wanted``; returns the seconds it took."""
    started = time.monotonic()
    while nc.connection_state != wanted:
        if time.monotonic() - started > TIMEOUT:
            raise TimeoutError(f"still {state_name(nc.connection_state)} after {TIMEOUT:g}s")
        await asyncio.sleep(POLL)
    return time.monotonic() - started


async def watch(nc: natsrs.Client, seconds: float) -> int:
    """Print state changes until one reconnect completes or ``seconds`` pass."""
    print(f"watching the connection for up to {seconds:g}s: restart the server to see a reconnect")
    connects = nc.statistics().connects
    last = nc.connection_state
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(POLL)
        state = nc.connection_state
        if state != last:
            print(f"  state {state_name(last)} -> {state_name(state)}")
            last = state
        now = nc.statistics().connects
        if now > connects and state == natsrs.ConnectionState.CONNECTED:
            print(f"  reconnected (connects: {connects} -> {now})")
            return now - connects
    print("  no reconnect while watching")
    return 0


async def main(watch_seconds: float) -> int:
    # 1. A normal connection: connect() returns once the server has answered (and
    #    raises NoServersError at once when nothing listens there).
    opts = natsrs.ConnectOptions().name("example-reconnect").connection_timeout(TIMEOUT)
    nc = await opts.connect(NATS_URL)
    print(f"before: state {state_name(nc.connection_state)}, is_closed {nc.is_closed}")
    info = nc.server_info
    if info is not None:
        print(f"before: server {info.server_name} {info.version} at {info.host}:{info.port}")
    print(f"before: connects {nc.statistics().connects}")

    # 2. Connect in the background: connect() returns before the connection is up.
    background = await natsrs.ConnectOptions().retry_on_initial_connect().connect(NATS_URL)
    first = state_name(background.connection_state)
    print(f"retry_on_initial_connect: state right after connect(): {first}")
    try:
        took = await wait_for_state(background, natsrs.ConnectionState.CONNECTED)
        print(f"retry_on_initial_connect: CONNECTED {took * 1000:.1f} ms later")
    finally:
        await background.close()

    # 3. Optionally watch for a reconnect, then prove the connection still works.
    check = f"examples.reconnect.{secrets.token_hex(4)}"
    if watch_seconds > 0:
        await watch(nc, watch_seconds)
        if nc.connection_state == natsrs.ConnectionState.CONNECTED:
            sub = await nc.subscribe(check)
            await nc.publish(check, b"still here")
            msg = await sub.next(timeout=TIMEOUT)
            print(f"after watching: round trip ok ({msg.payload.decode() if msg else 'nothing'})")
        else:
            print(f"after watching: {state_name(nc.connection_state)}, no round trip")

    # 4. Close for good.
    await nc.close()
    print(f"after close: state {state_name(nc.connection_state)}, is_closed {nc.is_closed}")
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
        help="watch the connection state for up to SECONDS, or until one reconnect",
    )
    args = parser.parse_args()
    try:
        sys.exit(asyncio.run(main(args.watch)))
    except natsrs.errors.ConnectError as exc:
        sys.exit(f"reconnect_events: cannot connect to {NATS_URL}: {type(exc).__name__}: {exc}")
