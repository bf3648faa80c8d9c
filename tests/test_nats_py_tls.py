"""nats-py's TLS keywords: an ``ssl.SSLContext``, ``tls://`` URLs, ``tls_hostname``,
``tls_handshake_first``.

Everything goes through ``import natsrs as nats`` against real ``nats-server``
processes from the fixtures, one per test on free ports. Every wait is bounded.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme

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

pytestmark = pytest.mark.timeout(60)


class Pki:
    """A CA and server certificates made now (trustme)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca = trustme.CA()
        self.ca_path = directory / "ca.pem"
        self.ca_path.write_bytes(self.ca.cert_pem.bytes())

    def server_config(self, *names: str, handshake_first: bool = False) -> str:
        leaf = self.ca.issue_cert(*names)
        cert = self.dir / f"{names[0]}-cert.pem"
        key = self.dir / f"{names[0]}-key.pem"
        cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        key.write_bytes(leaf.private_key_pem.bytes())
        first = "\n  handshake_first: true" if handshake_first else ""
        return f'tls {{\n  cert_file: "{cert}"\n  key_file: "{key}"\n  timeout: 2{first}\n}}\n'

    def context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    directory = tmp_path / "pki"
    directory.mkdir()
    return Pki(directory)


async def test_tls_context_and_tls_url(
    nats_server_factory: ServerFactory, opened: list[Closeable], pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config("127.0.0.1", "localhost"))
    url = f"tls://127.0.0.1:{server.port}"
    await assert_works(await connect(opened, url, tls=pki.context(), error_cb=None))
    await assert_works(await nats_client(opened, url, tls=pki.context()))
    with pytest.raises(nats.errors.SecureConnFailedError):
        await w(nats.connect(url, tls=ssl.create_default_context(), connect_timeout=2))


async def test_tls_hostname_verifies_the_certificate_against_that_name(
    nats_server_factory: ServerFactory, opened: list[Closeable], pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config("nats.internal.example"))
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
    server = nats_server_factory(pki.server_config("127.0.0.1", handshake_first=True))
    url = f"tls://127.0.0.1:{server.port}"
    await assert_works(
        await connect(opened, url, tls=pki.context(), tls_handshake_first=True, error_cb=None)
    )
