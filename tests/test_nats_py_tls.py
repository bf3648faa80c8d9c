"""nats-py's TLS keywords: an ``ssl.SSLContext``, ``tls://`` URLs, ``tls_hostname``,
``tls_handshake_first``.

Everything goes through ``import natsrs as nats`` against real ``nats-server``
processes from the fixtures, one per test on free ports. Every wait is bounded.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import pytest

import natsrs
import natsrs as nats
from helpers import w
from nats_py_helpers import (
    WAIT,
    Closeable,
    Recorder,
    assert_works,
    connect,
    nats_client,
)

if TYPE_CHECKING:
    from conftest import ServerFactory
    from pki import Pki

pytestmark = pytest.mark.timeout(60)


async def test_tls_context_and_tls_url(
    nats_server_factory: ServerFactory, opened: list[Closeable], pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config())
    url = f"tls://127.0.0.1:{server.port}"
    await assert_works(await connect(opened, url, tls=pki.context(), error_cb=None))
    await assert_works(await nats_client(opened, url, tls=pki.context()))
    with pytest.raises(nats.errors.SecureConnFailedError):
        await w(nats.connect(url, tls=ssl.create_default_context(), connect_timeout=2))


async def test_tls_hostname_verifies_the_certificate_against_that_name(
    nats_server_factory: ServerFactory, opened: list[Closeable], pki: Pki
) -> None:
    cert, key = pki.issue("internal", "nats.internal.example")
    server = nats_server_factory(pki.server_config(cert=cert, key=key))
    url = f"tls://127.0.0.1:{server.port}"
    with pytest.raises(nats.errors.TlsError):
        await w(nats.connect(url, tls=pki.context(), connect_timeout=2))
    await assert_works(
        await connect(opened, url, tls=pki.context(), tls_hostname="nats.internal.example")
    )
    with pytest.raises(nats.errors.TlsError):
        await w(nats.connect(url, tls=pki.context(), tls_hostname="other.example"))
    with pytest.raises(ValueError, match="server_name"):
        await w(nats.connect(url, tls=natsrs.TlsConfig(), tls_hostname="x.example"))


async def test_tls_handshake_first(
    nats_server_factory: ServerFactory, opened: list[Closeable], pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config(handshake_first=True))
    url = f"tls://127.0.0.1:{server.port}"
    await assert_works(
        await connect(opened, url, tls=pki.context(), tls_handshake_first=True, error_cb=None)
    )


def client_context(pki: Pki) -> ssl.SSLContext:
    """As nats-py's own TLS tests make theirs: the CA, then ``load_cert_chain``."""
    context = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH)
    context.load_verify_locations(pki.ca_path)
    context.load_cert_chain(certfile=pki.client_cert, keyfile=pki.client_key)
    return context


async def test_tls_context_with_a_client_certificate_meets_a_verifying_server(
    nats_server_factory: ServerFactory, opened: list[Closeable], pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config(verify_clients=True))
    url = f"tls://127.0.0.1:{server.port}"
    await assert_works(await connect(opened, url, tls=client_context(pki), error_cb=None))
    await assert_works(await nats_client(opened, url, tls=client_context(pki)))
    # Without the certificate the server refuses, and the error names what is missing.
    with pytest.raises(nats.errors.TlsError, match="load_cert_chain"):
        await w(nats.connect(url, tls=pki.context(), connect_timeout=2, allow_reconnect=False))


async def test_tls_hostname_keeps_the_contexts_client_certificate(
    nats_server_factory: ServerFactory, opened: list[Closeable], pki: Pki
) -> None:
    cert, key = pki.issue("internal", "nats.internal.example")
    server = nats_server_factory(pki.server_config(cert=cert, key=key, verify_clients=True))
    url = f"tls://127.0.0.1:{server.port}"
    await assert_works(
        await nats_client(
            opened, url, tls=client_context(pki), tls_hostname="nats.internal.example"
        )
    )


async def test_tls_reconnect_between_servers_that_verify_clients(
    nats_server_factory: ServerFactory, opened: list[Closeable], pki: Pki
) -> None:
    tls = pki.server_config(verify_clients=True)
    first = nats_server_factory(tls + "authorization { user: foo, password: bar }")
    second = nats_server_factory(tls + "authorization { user: hoge, password: fuga }")
    rec = Recorder()
    nc = await nats_client(
        opened,
        [f"nats://foo:bar@127.0.0.1:{first.port}", f"nats://hoge:fuga@127.0.0.1:{second.port}"],
        tls=client_context(pki),
        dont_randomize=True,
        reconnect_time_wait=0.2,
        **rec.callbacks(),
    )
    replies = 0

    async def worker(msg: nats.aio.msg.Msg) -> None:
        nonlocal replies
        replies += 1
        await msg.respond(f"reply {replies}".encode())

    await w(nc.subscribe("compat.tls.work", cb=worker))
    assert (await w(nc.request("compat.tls.work", b"help", timeout=WAIT))).data == b"reply 1"
    assert nc.connected_url is not None and nc.connected_url.port == first.port

    first.stop()
    await rec.wait_for("reconnected")
    assert nc.connected_url is not None and nc.connected_url.port == second.port
    assert (await w(nc.request("compat.tls.work", b"help", timeout=WAIT))).data == b"reply 2"
    assert nc.stats["reconnects"] == 1
    await w(nc.close())
    assert rec.calls.count("disconnected") == 2 and rec.calls.count("closed") == 1
