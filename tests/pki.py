"""Certificates for the TLS tests, made at test time (trustme) and written as PEM files.

One :class:`Pki` per test (the ``pki`` fixture in ``conftest.py``): a CA, a server
certificate for ``127.0.0.1`` and ``localhost``, and a client certificate, all under the
test's own temporary directory.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import trustme

SERVER_NAMES = ("127.0.0.1", "localhost")


def stranger_ca_pem() -> bytes:
    """The certificate of a CA made now and trusted by nothing in the test."""
    return trustme.CA().cert_pem.bytes()


class Pki:
    """A CA, a server certificate for 127.0.0.1/localhost, and a client certificate."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.ca = trustme.CA()
        self.ca_path = self.write("ca.pem", self.ca.cert_pem.bytes())
        self.server_cert, self.server_key = self.issue("server", *SERVER_NAMES)
        self.client_cert, self.client_key = self.issue("client", "client@natsrs.test")

    def write(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(data)
        return path

    def write_pair(self, name: str, cert: trustme.LeafCert) -> tuple[Path, Path]:
        """``<name>-cert.pem`` (the chain) and ``<name>-key.pem``."""
        chain = b"".join(blob.bytes() for blob in cert.cert_chain_pems)
        return (
            self.write(f"{name}-cert.pem", chain),
            self.write(f"{name}-key.pem", cert.private_key_pem.bytes()),
        )

    def issue(self, name: str, *identities: str, **options: Any) -> tuple[Path, Path]:
        """A certificate from this CA for ``identities``, written as ``name``'s pair.

        ``options`` go to :meth:`trustme.CA.issue_cert` (``not_before``, ``not_after``).
        """
        return self.write_pair(name, self.ca.issue_cert(*identities, **options))

    def server_config(
        self,
        *,
        cert: Path | None = None,
        key: Path | None = None,
        verify_clients: bool = False,
        handshake_first: bool = False,
    ) -> str:
        """A nats-server ``tls { ... }`` block (the server certificate unless given)."""
        lines = [
            f'cert_file: "{cert or self.server_cert}"',
            f'key_file: "{key or self.server_key}"',
            f'ca_file: "{self.ca_path}"',
            "timeout: 2",
        ]
        if verify_clients:
            lines.append("verify: true")
        if handshake_first:
            lines.append("handshake_first: true")
        return "tls {\n  " + "\n  ".join(lines) + "\n}\n"

    def context(self) -> ssl.SSLContext:
        """An ``ssl`` context that trusts this CA."""
        return ssl.create_default_context(cafile=str(self.ca_path))
