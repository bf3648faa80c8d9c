"""Authentication with a ``.creds`` file (a user JWT and its NKey seed).

A server in operator mode (decentralized JWT auth) accepts a user whose JWT was signed
by an account it trusts; the client proves it holds the user's seed by signing the
server's nonce. natsrs reads and checks the file up front and signs in Rust.

The creds file is the first argument, else ``$NATS_CREDS``::

    python examples/auth_creds.py ~/.nats/user.creds
    NATS_CREDS=user.creds NATS_URL=nats://127.0.0.1:4222 python examples/auth_creds.py

Without one it prints its usage and exits with status 2.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys

import natsrs

NATS_URL = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
TIMEOUT = 5.0  # seconds; every wait is bounded so the example never hangs
USAGE = "usage: auth_creds.py CREDS_FILE  (or set NATS_CREDS)"


async def main(creds: str) -> int:
    # credentials_file() reads and checks the file now (InvalidCredentialsError if not).
    opts = (
        natsrs.ConnectOptions()
        .name("example-auth-creds")
        .connection_timeout(TIMEOUT)
        .credentials_file(creds)
    )
    nc = await opts.connect(NATS_URL)
    async with nc:
        info = nc.server_info
        auth = info.auth_required if info else "?"
        print(f"connected to {NATS_URL} with {os.path.basename(creds)} (auth_required: {auth})")

        subject = f"examples.auth.{secrets.token_hex(4)}"
        sub = await nc.subscribe(subject)
        await nc.publish(subject, b"signed in")
        msg = await sub.next(timeout=TIMEOUT)
        print(f"round trip: {msg.payload.decode() if msg else 'nothing'}")
    print("auth_creds: done")
    return 0 if msg is not None else 1


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("NATS_CREDS", "")
    if not path or path in ("-h", "--help"):
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    try:
        sys.exit(asyncio.run(main(path)))
    except natsrs.errors.InvalidCredentialsError as exc:
        sys.exit(f"auth_creds: bad creds file {path}: {exc}")
    except natsrs.errors.ConnectError as exc:
        sys.exit(f"auth_creds: cannot connect to {NATS_URL}: {type(exc).__name__}: {exc}")
