"""ws:// and wss:// through a nats-server websocket listener."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme

import natsrs
from natsrs._server import free_port

if TYPE_CHECKING:
    from conftest import ServerFactory

WAIT = 10.0
MIB = 1024 * 1024


async def exercise(nc: natsrs.Client) -> None:
    sub = await nc.subscribe("ws.data")
    await nc.publish("ws.data", b"small")
    big = bytes(range(256)) * (MIB // 256)
    await nc.publish("ws.data", big)
    first = await asyncio.wait_for(sub.next(), WAIT)
    second = await asyncio.wait_for(sub.next(), WAIT)
    assert first is not None and first.payload == b"small"
    assert second is not None and second.payload == big

    service = await nc.subscribe("ws.echo")

    async def respond() -> None:
        async for msg in service:
            await msg.respond(msg.payload[::-1])

    responder = asyncio.ensure_future(respond())
    reply = await asyncio.wait_for(nc.request("ws.echo", b"abc"), WAIT)
    assert reply.payload == b"cba"
    responder.cancel()
    await nc.close()


async def test_plain_websocket(nats_server_factory: ServerFactory) -> None:
    port = free_port()
    nats_server_factory(
        f'max_payload: {2 * MIB}\nwebsocket {{ listen: "127.0.0.1:{port}", no_tls: true }}\n'
    )
    await exercise(await natsrs.connect(f"ws://127.0.0.1:{port}"))


async def test_websocket_over_tls(nats_server_factory: ServerFactory, tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = tmp_path / "ca.pem"
    cert_path = tmp_path / "cert.pem"
    key_path = tmp_path / "key.pem"
    ca_path.write_bytes(ca.cert_pem.bytes())
    cert_path.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key_path.write_bytes(leaf.private_key_pem.bytes())
    port = free_port()
    nats_server_factory(
        f"max_payload: {2 * MIB}\n"
        f'websocket {{ listen: "127.0.0.1:{port}"\n'
        f'  tls {{ cert_file: "{cert_path}", key_file: "{key_path}" }} }}\n'
    )
    opts = natsrs.ConnectOptions().add_root_certificates(ca_path)
    await exercise(await opts.connect(f"wss://127.0.0.1:{port}"))
    # The same listener refuses an unknown CA.
    with pytest.raises(natsrs.errors.TlsError):
        await asyncio.wait_for(natsrs.connect(f"wss://127.0.0.1:{port}"), WAIT)
