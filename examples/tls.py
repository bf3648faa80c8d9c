"""TLS, with a client certificate (mutual TLS) when the server asks for one.

Settings come from the environment (each one optional):

* ``NATS_CA``: PEM file of the CA that signed the server's certificate (default: the
  platform's trust store);
* ``NATS_CERT`` and ``NATS_KEY``: the client certificate chain and its private key, for
  a server with ``verify: true`` in its ``tls {}`` block.

``natsrs.TlsConfig`` checks the files when it is made (``ValueError`` on a bad path or
PEM); passing it to ``ConnectOptions.tls()`` makes TLS required, so a ``nats://`` URL is
upgraded too::

    NATS_URL=tls://127.0.0.1:4222 NATS_CA=ca.pem NATS_CERT=client-cert.pem \\
        NATS_KEY=client-key.pem python examples/tls.py
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import natsrs

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
TIMEOUT = 5.0  # seconds; every wait is bounded so the example never hangs


def tls_config() -> natsrs.TlsConfig:
    ca = os.environ.get("NATS_CA") or None
    cert = os.environ.get("NATS_CERT") or None
    key = os.environ.get("NATS_KEY") or None
    print(f"tls: ca {ca or '(system store)'}, client certificate {'yes' if cert else 'no'}")
    return natsrs.TlsConfig(ca=ca, cert=cert, key=key)


async def main() -> int:
    opts = natsrs.ConnectOptions().name("example-tls").connection_timeout(TIMEOUT).tls(tls_config())
    nc = await opts.connect(NATS_URL)
    async with nc:
        info = nc.server_info
        tls_required = info.tls_required if info else "?"
        print(f"connected to {NATS_URL} (server tls_required: {tls_required})")

        subject = f"examples.tls.{secrets.token_hex(4)}"
        sub = await nc.subscribe(subject)
        await nc.publish(subject, b"encrypted")
        msg = await sub.next(timeout=TIMEOUT)
        print(f"round trip: {msg.payload.decode() if msg else 'nothing'}")
    print("tls: done")
    return 0 if msg is not None else 1


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except ValueError as exc:
        sys.exit(f"tls: bad TLS settings: {exc}")
    except natsrs.errors.ConnectError as exc:
        sys.exit(f"tls: cannot connect to {NATS_URL}: {type(exc).__name__}: {exc}")
