"""TLS against nats-server with certificates made at test time (trustme)."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import natsrs
from helpers import assert_works, w
from natsrs.errors import ConnectError, TlsError
from pki import Pki, stranger_ca_pem

if TYPE_CHECKING:
    from conftest import ServerFactory
    from natsrs._server import NatsServer


@pytest.fixture
def tls_server(nats_server_factory: ServerFactory, pki: Pki) -> NatsServer:
    return nats_server_factory(pki.server_config())


def tls_url(server: NatsServer, host: str = "127.0.0.1") -> str:
    return f"tls://{host}:{server.port}"


async def refused(connecting: object) -> ConnectError:
    with pytest.raises(ConnectError) as info:
        await w(connecting)  # type: ignore[arg-type]
    return info.value


async def test_the_right_ca_connects(tls_server: NatsServer, pki: Pki) -> None:
    opts = natsrs.ConnectOptions().add_root_certificates(pki.ca_path)
    await assert_works(await w(opts.connect(tls_url(tls_server))), close=True)
    # require_tls with a nats:// URL upgrades too.
    opts = natsrs.ConnectOptions().add_root_certificates(pki.ca_path).require_tls()
    await assert_works(await w(opts.connect(tls_server.url)), close=True)


async def test_several_certificates_in_one_root_file(
    tls_server: NatsServer, pki: Pki, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(stranger_ca_pem() + pki.ca.cert_pem.bytes())
    opts = natsrs.ConnectOptions().add_root_certificates(bundle)
    await assert_works(await w(opts.connect(tls_url(tls_server))), close=True)


async def test_verification_is_on_by_default_and_an_unknown_ca_fails(
    tls_server: NatsServer, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    other.write_bytes(stranger_ca_pem())
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
    cert, key = pki.issue("elsewhere", "elsewhere.invalid")
    server = nats_server_factory(pki.server_config(cert=cert, key=key))
    opts = natsrs.ConnectOptions().add_root_certificates(pki.ca_path)
    error = await refused(opts.connect(tls_url(server)))
    assert isinstance(error, TlsError)
    assert "NotValidForName" in str(error) or "not valid for name" in str(error).lower()
    # The same certificate verifies when the expected name is overridden.
    config = natsrs.TlsConfig(ca=pki.ca_path, server_name="elsewhere.invalid")
    await assert_works(
        await w(natsrs.ConnectOptions().tls(config).connect(tls_url(server))), close=True
    )


async def test_expired_certificate_fails_naming_the_cause(
    nats_server_factory: ServerFactory, pki: Pki
) -> None:
    past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    cert, key = pki.issue(
        "expired", "127.0.0.1", not_before=past - datetime.timedelta(days=30), not_after=past
    )
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
    await assert_works(await w(with_cert.connect(tls_url(server))), close=True)
    config = natsrs.TlsConfig(
        ca=pki.ca_path.read_bytes(), cert=pki.client_cert, key=pki.client_key.read_bytes()
    )
    await assert_works(
        await w(natsrs.ConnectOptions().tls(config).connect(tls_url(server))), close=True
    )


async def test_ip_address_san_and_dns_san(tls_server: NatsServer, pki: Pki) -> None:
    opts = natsrs.ConnectOptions().add_root_certificates(pki.ca_path)
    await assert_works(await w(opts.connect(tls_url(tls_server, "127.0.0.1"))), close=True)
    await assert_works(await w(opts.connect(tls_url(tls_server, "localhost"))), close=True)


async def test_tls_first_succeeds_only_with_tls_first(
    nats_server_factory: ServerFactory, pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config(handshake_first=True))
    plain = natsrs.ConnectOptions().add_root_certificates(pki.ca_path).connection_timeout(1)
    await refused(plain.connect(tls_url(server)))
    first = natsrs.ConnectOptions().add_root_certificates(pki.ca_path).tls_first()
    await assert_works(await w(first.connect(tls_url(server))), close=True)


async def test_verification_off_only_when_asked_by_name(
    tls_server: NatsServer, tmp_path: Path
) -> None:
    await refused(natsrs.ConnectOptions().tls(natsrs.TlsConfig()).connect(tls_url(tls_server)))
    insecure = natsrs.TlsConfig(danger_accept_invalid_certs=True)
    assert "danger_accept_invalid_certs=True" in repr(insecure)
    await assert_works(
        await w(natsrs.ConnectOptions().tls(insecure).connect(tls_url(tls_server))), close=True
    )


async def test_ssl_context_carries_its_ca_and_verification_settings(
    tls_server: NatsServer, pki: Pki
) -> None:
    context = pki.context()
    await assert_works(await w(natsrs.connect(tls_url(tls_server), tls=context)), close=True)

    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    await assert_works(await w(natsrs.connect(tls_url(tls_server), tls=unverified)), close=True)

    # A context that trusts nothing relevant still verifies.
    strict = ssl.create_default_context(cadata=stranger_ca_pem().decode())
    error = await refused(natsrs.connect(tls_url(tls_server), tls=strict))
    assert isinstance(error, TlsError)


async def test_ssl_context_without_hostname_check_verifies_the_chain_only(
    nats_server_factory: ServerFactory, pki: Pki
) -> None:
    cert, key = pki.issue("elsewhere", "elsewhere.invalid")
    server = nats_server_factory(pki.server_config(cert=cert, key=key))
    context = pki.context()
    context.check_hostname = False
    await assert_works(await w(natsrs.connect(tls_url(server), tls=context)), close=True)


async def test_ssl_context_mtls_failure_says_how_to_pass_the_client_certificate(
    nats_server_factory: ServerFactory, pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config(verify_clients=True))
    context = pki.context()
    context.load_cert_chain(pki.client_cert, pki.client_key)
    error = await refused(natsrs.connect(tls_url(server), tls=context))
    assert "add_client_certificate" in str(error)
    opts = (
        natsrs.ConnectOptions().tls(context).add_client_certificate(pki.client_cert, pki.client_key)
    )
    await assert_works(await w(opts.connect(tls_url(server))), close=True)


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
