"""Publish/subscribe: a wildcard subscriber receives what a publisher sends.

Run it against any NATS server (``NATS_URL``, default ``nats://127.0.0.1:4222``)::

    python -m natsrs server --port 4222 &      # or any nats-server
    python examples/pubsub.py
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import natsrs

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
TIMEOUT = 5.0  # seconds; every wait is bounded so the example never hangs
COUNT = 5


async def main() -> int:
    # A random prefix keeps concurrent runs (and other users of the server) apart.
    prefix = f"examples.pubsub.{secrets.token_hex(4)}"
    nc = await natsrs.connect(NATS_URL, name="example-pubsub", connection_timeout=TIMEOUT)
    async with nc:  # closes the connection on the way out
        info = nc.server_info
        print(f"connected to {NATS_URL} (nats-server {info.version if info else '?'})")

        # `>` matches one or more trailing tokens: every sensor under the prefix.
        sub = await nc.subscribe(f"{prefix}.sensor.>")
        # End the subscription by itself after COUNT messages, so `async for` stops.
        await sub.unsubscribe_after(COUNT)
        print(f"subscribed to {sub.subject}")

        for i in range(COUNT):
            await nc.publish(f"{prefix}.sensor.{i}.temperature", f"{20 + i / 10:.1f} C".encode())
        await nc.flush()  # publish only queues a message; flush waits until it is written
        print(f"published {COUNT} messages")

        received: list[natsrs.Message] = []

        async def receive() -> None:
            async for msg in sub:
                received.append(msg)
                short = msg.subject[len(prefix) + 1 :]
                print(f"  received #{len(received)} on {short}: {msg.payload.decode()}")

        await asyncio.wait_for(receive(), TIMEOUT)

        stats = nc.statistics()
        print(f"statistics: out {stats.out_messages} msgs, in {stats.in_messages} msgs")
    print(f"pubsub: published {COUNT}, received {len(received)} messages")
    return 0 if len(received) == COUNT else 1


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except natsrs.errors.ConnectError as exc:
        sys.exit(f"pubsub: cannot connect to {NATS_URL}: {type(exc).__name__}: {exc}")
