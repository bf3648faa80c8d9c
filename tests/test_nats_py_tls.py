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
    Closeable,
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
