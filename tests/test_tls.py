"""TLS against nats-server with certificates made at test time (trustme)."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trustme

import natsrs
from natsrs.errors import ConnectError, TlsError

if TYPE_CHECKING:
    from conftest import ServerFactory
    from natsrs._server import NatsServer

WAIT = 5.0


class Pki:
    """A CA, a server certificate for 127.0.0.1/localhost, and a client certificate."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca = trustme.CA()
        self.ca_path = self.write("ca.pem", self.ca.cert_pem.bytes())
        server = self.ca.issue_cert("127.0.0.1", "localhost")
        self.server_cert, self.server_key = self.write_pair("server", server)
        client = self.ca.issue_cert("client@natsrs.test")
        self.client_cert, self.client_key = self.write_pair("client", client)

    def write(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        path.write_bytes(data)
        return path

    def write_pair(self, name: str, cert: trustme.LeafCert) -> tuple[Path, Path]:
        chain = b"".join(blob.bytes() for blob in cert.cert_chain_pems)
        return (
            self.write(f"{name}-cert.pem", chain),
            self.write(f"{name}-key.pem", cert.private_key_pem.bytes()),
        )

    def server_config(
        self,
        *,
        cert: Path | None = None,
        key: Path | None = None,
        verify_clients: bool = False,
        handshake_first: bool = False,
    ) -> str:
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


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    directory = tmp_path / "pki"
    directory.mkdir()
    return Pki(directory)


@pytest.fixture
def tls_server(nats_server_factory: ServerFactory, pki: Pki) -> NatsServer:
    return nats_server_factory(pki.server_config())


def tls_url(server: NatsServer, host: str = "127.0.0.1") -> str:
    return f"tls://{host}:{server.port}"


async def assert_works(nc: natsrs.Client) -> None:
    sub = await nc.subscribe("tls.check")
    await nc.publish("tls.check", b"secure")
    msg = await asyncio.wait_for(sub.next(), WAIT)
    assert msg is not None and msg.payload == b"secure"
    await nc.close()


async def refused(connecting: object) -> ConnectError:
    with pytest.raises(ConnectError) as info:
        await asyncio.wait_for(connecting, WAIT)  # type: ignore[arg-type]
    return info.value


async def test_the_right_ca_connects(tls_server: NatsServer, pki: Pki) -> None:
    opts = natsrs.ConnectOptions().add_root_certificates(pki.ca_path)
    await assert_works(await opts.connect(tls_url(tls_server)))
    # require_tls with a nats:// URL upgrades too.
    opts = natsrs.ConnectOptions().add_root_certificates(pki.ca_path).require_tls()
    await assert_works(await opts.connect(tls_server.url))


async def test_several_certificates_in_one_root_file(
    tls_server: NatsServer, pki: Pki, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(trustme.CA().cert_pem.bytes() + pki.ca.cert_pem.bytes())
    opts = natsrs.ConnectOptions().add_root_certificates(bundle)
    await assert_works(await opts.connect(tls_url(tls_server)))


async def test_verification_is_on_by_default_and_an_unknown_ca_fails(
    tls_server: NatsServer, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_bytes(trustme.CA().cert_pem.bytes())
    error = await refused(
        natsrs.ConnectOptions().add_root_certificates(other).connect(tls_url(tls_server))
    )
    assert isinstance(error, TlsError)
    assert "UnknownIssuer" in str(error) or "unknown issuer" in str(error).lower()
    # No CA at all: the platform store does not know the test CA either.
    error = await refused(natsrs.connect(tls_url(tls_server)))
    assert isinstance(error, TlsError)


async def test_wrong_hostname_fails_naming_the_cause(
    nats_server_factory: ServerFactory, pki: Pki
) -> None:
    cert, key = pki.write_pair("elsewhere", pki.ca.issue_cert("elsewhere.invalid"))
    server = nats_server_factory(pki.server_config(cert=cert, key=key))
    opts = natsrs.ConnectOptions().add_root_certificates(pki.ca_path)
    error = await refused(opts.connect(tls_url(server)))
    assert isinstance(error, TlsError)
    assert "NotValidForName" in str(error) or "not valid for name" in str(error).lower()
    # The same certificate verifies when the expected name is overridden.
    config = natsrs.TlsConfig(ca=pki.ca_path, server_name="elsewhere.invalid")
    await assert_works(await natsrs.ConnectOptions().tls(config).connect(tls_url(server)))


async def test_expired_certificate_fails_naming_the_cause(
    nats_server_factory: ServerFactory, pki: Pki
) -> None:
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    expired = pki.ca.issue_cert(
        "127.0.0.1", not_before=past - datetime.timedelta(days=30), not_after=past
    )
    cert, key = pki.write_pair("expired", expired)
    server = nats_server_factory(pki.server_config(cert=cert, key=key))
    opts = natsrs.ConnectOptions().add_root_certificates(pki.ca_path)
    error = await refused(opts.connect(tls_url(server)))
    assert isinstance(error, TlsError)
    assert "Expired" in str(error) or "expired" in str(error).lower()


async def test_mutual_tls_requires_the_client_certificate(
    nats_server_factory: ServerFactory, pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config(verify_clients=True))
    without = natsrs.ConnectOptions().add_root_certificates(pki.ca_path)
    await refused(without.connect(tls_url(server)))
    with_cert = (
        natsrs.ConnectOptions()
        .add_root_certificates(pki.ca_path)
        .add_client_certificate(pki.client_cert, pki.client_key)
    )
    await assert_works(await with_cert.connect(tls_url(server)))
    config = natsrs.TlsConfig(
        ca=pki.ca_path.read_bytes(), cert=pki.client_cert, key=pki.client_key.read_bytes()
    )
    await assert_works(await natsrs.ConnectOptions().tls(config).connect(tls_url(server)))


async def test_ip_address_san_and_dns_san(tls_server: NatsServer, pki: Pki) -> None:
    opts = natsrs.ConnectOptions().add_root_certificates(pki.ca_path)
    await assert_works(await opts.connect(tls_url(tls_server, "127.0.0.1")))
    await assert_works(await opts.connect(tls_url(tls_server, "localhost")))


async def test_tls_first_succeeds_only_with_tls_first(
    nats_server_factory: ServerFactory, pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config(handshake_first=True))
    plain = natsrs.ConnectOptions().add_root_certificates(pki.ca_path).connection_timeout(1)
    await refused(plain.connect(tls_url(server)))
    first = natsrs.ConnectOptions().add_root_certificates(pki.ca_path).tls_first()
    await assert_works(await first.connect(tls_url(server)))


async def test_verification_off_only_when_asked_by_name(
    tls_server: NatsServer, tmp_path: Path
) -> None:
    await refused(natsrs.ConnectOptions().tls(natsrs.TlsConfig()).connect(tls_url(tls_server)))
    insecure = natsrs.TlsConfig(danger_accept_invalid_certs=True)
    assert "danger_accept_invalid_certs=True" in repr(insecure)
    await assert_works(await natsrs.ConnectOptions().tls(insecure).connect(tls_url(tls_server)))


async def test_ssl_context_carries_its_ca_and_verification_settings(
    tls_server: NatsServer, pki: Pki
) -> None:
    context = ssl.create_default_context(cafile=str(pki.ca_path))
    await assert_works(await natsrs.connect(tls_url(tls_server), tls=context))

    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    await assert_works(await natsrs.connect(tls_url(tls_server), tls=unverified))

    # A context that trusts nothing relevant still verifies.
    strict = ssl.create_default_context(cadata=trustme.CA().cert_pem.bytes().decode())
    error = await refused(natsrs.connect(tls_url(tls_server), tls=strict))
    assert isinstance(error, TlsError)


async def test_ssl_context_without_hostname_check_verifies_the_chain_only(
    nats_server_factory: ServerFactory, pki: Pki
) -> None:
    cert, key = pki.write_pair("elsewhere", pki.ca.issue_cert("elsewhere.invalid"))
    server = nats_server_factory(pki.server_config(cert=cert, key=key))
    context = ssl.create_default_context(cafile=str(pki.ca_path))
    context.check_hostname = False
    await assert_works(await natsrs.connect(tls_url(server), tls=context))


async def test_ssl_context_mtls_failure_says_how_to_pass_the_client_certificate(
    nats_server_factory: ServerFactory, pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config(verify_clients=True))
    context = ssl.create_default_context(cafile=str(pki.ca_path))
    context.load_cert_chain(pki.client_cert, pki.client_key)
    error = await refused(natsrs.connect(tls_url(server), tls=context))
    assert "add_client_certificate" in str(error)
    opts = (
        natsrs.ConnectOptions().tls(context).add_client_certificate(pki.client_cert, pki.client_key)
    )
    await assert_works(await opts.connect(tls_url(server)))


def test_tls_config_rejects_bad_input(tmp_path: Path, pki: Pki) -> None:
    with pytest.raises(ValueError):
        natsrs.TlsConfig(ca=tmp_path / "missing.pem")
    with pytest.raises(ValueError):
        natsrs.TlsConfig(ca=b"not pem")
    with pytest.raises(ValueError):
        natsrs.TlsConfig(cert=pki.client_cert)
    with pytest.raises(TypeError):
        natsrs.ConnectOptions().tls("not a config")
    with pytest.raises(ValueError):
        natsrs.ConnectOptions().add_root_certificates(tmp_path / "missing.pem")
