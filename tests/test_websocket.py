"""ws:// and wss:// through a nats-server websocket listener."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

import natsrs
from helpers import SLOW_WAIT, w
from natsrs._server import free_port

if TYPE_CHECKING:
    from conftest import ServerFactory
    from pki import Pki

MIB = 1024 * 1024


async def exercise(nc: natsrs.Client) -> None:
    sub = await nc.subscribe("ws.data")
    await nc.publish("ws.data", b"small")
    big = bytes(range(256)) * (MIB // 256)
    await nc.publish("ws.data", big)
    first = await w(sub.next(), SLOW_WAIT)
    second = await w(sub.next(), SLOW_WAIT)
    assert first is not None and first.payload == b"small"
    assert second is not None and second.payload == big

    service = await nc.subscribe("ws.echo")

    async def respond() -> None:
        async for msg in service:
            await msg.respond(msg.payload[::-1])

    responder = asyncio.ensure_future(respond())
    reply = await w(nc.request("ws.echo", b"abc"), SLOW_WAIT)
    assert reply.payload == b"cba"
    responder.cancel()
    await nc.close()


async def test_plain_websocket(nats_server_factory: ServerFactory) -> None:
    port = free_port()
    nats_server_factory(
        f'max_payload: {2 * MIB}\nwebsocket {{ listen: "127.0.0.1:{port}", no_tls: true }}\n'
    )
    await exercise(await w(natsrs.connect(f"ws://127.0.0.1:{port}"), SLOW_WAIT))


async def test_websocket_over_tls(nats_server_factory: ServerFactory, pki: Pki) -> None:
    port = free_port()
    nats_server_factory(
        f"max_payload: {2 * MIB}\n"
        f'websocket {{ listen: "127.0.0.1:{port}"\n'
        f"  {pki.server_config()} }}\n"
    )
    opts = natsrs.ConnectOptions().add_root_certificates(pki.ca_path)
    await exercise(await w(opts.connect(f"wss://127.0.0.1:{port}"), SLOW_WAIT))
    # The same listener refuses an unknown CA.
    with pytest.raises(natsrs.errors.TlsError):
        await w(natsrs.connect(f"wss://127.0.0.1:{port}"), SLOW_WAIT)
