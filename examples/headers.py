"""Headers: attach metadata to messages, read it back, and answer with headers.

NATS headers are multi-valued and case-preserving. natsrs takes them as a dict (a value
may be a list for several values) or as a ``natsrs.HeaderMap``, and gives them back as a
``HeaderMap`` on ``Message.headers``.

Run it against any NATS server (``NATS_URL``, default ``nats://127.0.0.1:4222``)::

    python examples/headers.py
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import natsrs

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
TIMEOUT = 5.0  # seconds; every wait is bounded so the example never hangs


async def answer_one(sub: natsrs.Subscriber) -> None:
    """A tiny service: reply once, echoing the request's trace id in a response header."""
    msg = await sub.next(timeout=TIMEOUT)
    if msg is None:
        return
    trace = (msg.headers.get("X-Trace-Id") if msg.headers is not None else None) or "none"
    await msg.respond(b"done", headers={"X-Trace-Id": trace, "X-Served-By": "headers-example"})


async def main() -> int:
    prefix = f"examples.headers.{secrets.token_hex(4)}"
    nc = await natsrs.connect(NATS_URL, name="example-headers", connection_timeout=TIMEOUT)
    async with nc:
        # 1. Publish with a dict: a list gives one header several values.
        sub = await nc.subscribe(f"{prefix}.orders")
        await nc.publish(
            f"{prefix}.orders",
            b'{"order": 42}',
            headers={"Content-Type": "application/json", "X-Tags": ["new", "priority"]},
        )
        msg = await sub.next(timeout=TIMEOUT)
        assert msg is not None and msg.headers is not None
        # Received headers are a dict of each name's first value, as with nats-py.
        print(f"received {msg.payload.decode()} with headers {dict(sorted(msg.headers.items()))}")
        print(f"X-Tags has every value in order: {msg.headers.get_all('X-Tags')}")

        # 2. Build a HeaderMap by hand: append adds a value, insert replaces them all.
        headers = natsrs.HeaderMap()
        headers.append("X-Trace-Id", "trace-1")
        headers.append("X-Hop", "gateway")
        headers.append("X-Hop", "router")
        headers.insert("X-Trace-Id", "trace-2")
        print(f"HeaderMap: {headers.to_dict()}")

        # 3. Request with headers; the service answers with headers of its own.
        service_sub = await nc.subscribe(f"{prefix}.svc")
        service = asyncio.ensure_future(answer_one(service_sub))
        reply = await nc.request(f"{prefix}.svc", b"work", headers=headers, timeout=TIMEOUT)
        await asyncio.wait_for(service, TIMEOUT)
        reply_headers = reply.headers.to_dict() if reply.headers is not None else {}
        print(
            f"reply {reply.payload.decode()!r} with headers {dict(sorted(reply_headers.items()))}"
        )

        # 4. Invalid names and values are refused before anything is sent.
        try:
            natsrs.HeaderMap({"Bad Name": "spaces are not allowed in names"})
        except natsrs.errors.BadHeaderError as exc:
            print(f"invalid header name rejected: BadHeaderError ({exc})")
        try:
            await nc.publish(f"{prefix}.orders", b"", headers={"X-Ok": "line\r\nbreak"})
        except natsrs.errors.BadHeaderError as exc:
            print(f"invalid header value rejected: BadHeaderError ({exc})")
    print("headers: done")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except natsrs.errors.ConnectError as exc:
        sys.exit(f"headers: cannot connect to {NATS_URL}: {type(exc).__name__}: {exc}")
