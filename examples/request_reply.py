"""Request/reply: a service answers requests that a client sends.

The service and the client use separate connections, as two programs would. The
service joins a queue group, so more instances could share the load. After the service
drains, a request finds no responders and fails fast instead of timing out.

Run it against any NATS server (``NATS_URL``, default ``nats://127.0.0.1:4222``)::

    python examples/request_reply.py
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import natsrs

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
TIMEOUT = 5.0  # seconds; every wait is bounded so the example never hangs
WORDS = ("hello", "nats", "natsrs", "request/reply")


async def server_round_trip(nc: natsrs.Client) -> None:
    """Return once the server has processed everything ``nc`` sent before the call.

    ``flush()`` only writes the connection's buffer out. The server handles a connection's
    messages in order, so a message to ourselves coming back proves our subscriptions are
    in place before another connection publishes.
    """
    inbox = nc.new_inbox()
    probe = await nc.subscribe(inbox)
    await nc.publish(inbox)
    await probe.next(timeout=TIMEOUT)
    await probe.unsubscribe()


async def serve(sub: natsrs.Subscriber) -> int:
    """The service: answer each request with its payload upper-cased; returns the count."""
    handled = 0
    async for msg in sub:
        await msg.respond(msg.payload.upper())
        handled += 1
    return handled  # the loop ends when the subscription is drained


async def main() -> int:
    subject = f"examples.upper.{secrets.token_hex(4)}"
    service_nc = await natsrs.connect(NATS_URL, name="example-service", connection_timeout=TIMEOUT)
    client_nc = await natsrs.connect(NATS_URL, name="example-client", connection_timeout=TIMEOUT)
    try:
        sub = await service_nc.subscribe(subject, queue="upper-service")
        await server_round_trip(service_nc)  # subscribed before the client asks
        service = asyncio.ensure_future(serve(sub))
        print(f"service: listening on {subject} (queue group upper-service)")

        for word in WORDS:
            reply = await client_nc.request(subject, word.encode(), timeout=TIMEOUT)
            print(f"client:  {word!r} -> {reply.payload.decode()!r}")

        await sub.drain()  # stop taking requests; the ones in flight are still answered
        handled = await asyncio.wait_for(service, TIMEOUT)
        print(f"service: drained after {handled} requests")

        try:
            await client_nc.request(subject, b"anyone?", timeout=TIMEOUT)
            print("client:  unexpected reply after the service stopped")
            return 1
        except natsrs.errors.NoRespondersError:
            print("client:  no responders once the service is gone (NoRespondersError)")
    finally:
        await client_nc.close()
        await service_nc.close()
    print(f"request_reply: {len(WORDS)} requests answered by the service")
    return 0 if handled == len(WORDS) else 1


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except natsrs.errors.ConnectError as exc:
        sys.exit(f"request_reply: cannot connect to {NATS_URL}: {type(exc).__name__}: {exc}")
