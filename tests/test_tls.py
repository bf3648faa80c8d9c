"""TLS against nats-server with certificates made at test time (trustme)."""

from __future__ import annotations

import _ssl
import datetime
import ssl
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import natsrs
from helpers import assert_works, w
from natsrs import _ssl_context
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


def client_context(pki: Pki, pair: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    """nats-py's way: a context trusting the CA, with ``load_cert_chain``."""
    context = pki.context()
    cert, key = pair or (pki.client_cert, pki.client_key)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.parametrize("key_type", [trustme.KeyType.ECDSA, trustme.KeyType.RSA], ids=str)
async def test_ssl_context_presents_the_client_certificate_it_loaded(
    nats_server_factory: ServerFactory, pki: Pki, key_type: trustme.KeyType
) -> None:
    server = nats_server_factory(pki.server_config(verify_clients=True))
    context = client_context(pki, pki.issue("typed", "client@natsrs.test", key_type=key_type))
    await assert_works(await w(natsrs.connect(tls_url(server), tls=context)), close=True)
    opts = natsrs.ConnectOptions().tls(context)
    await assert_works(await w(opts.connect(tls_url(server))), close=True)


async def test_ssl_context_sends_the_chain_loaded_with_the_certificate(
    nats_server_factory: ServerFactory, pki: Pki
) -> None:
    # The server trusts only the root, so it needs the intermediate from the client.
    intermediate = pki.ca.create_child_ca()
    pair = pki.write_pair("chained", intermediate.issue_cert("client@natsrs.test"))
    server = nats_server_factory(pki.server_config(verify_clients=True))
    context = client_context(pki, pair)
    assert "cert=<2 certificate(s)>" in repr(natsrs.TlsConfig.from_ssl_context(context))
    await assert_works(await w(natsrs.connect(tls_url(server), tls=context)), close=True)


async def test_ssl_context_without_a_client_certificate_is_refused_saying_so(
    nats_server_factory: ServerFactory, pki: Pki
) -> None:
    server = nats_server_factory(pki.server_config(verify_clients=True))
    error = await refused(natsrs.connect(tls_url(server), tls=pki.context()))
    assert isinstance(error, TlsError)
    assert "load_cert_chain" in str(error)


async def test_where_a_context_cannot_be_read_add_client_certificate_completes_it(
    nats_server_factory: ServerFactory, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on an interpreter where the context's OpenSSL cannot be reached.
    monkeypatch.setattr(_ssl_context, "_openssl", lambda: None)
    server = nats_server_factory(pki.server_config(verify_clients=True))
    context = client_context(pki)
    assert "cert=<unreadable>" in repr(natsrs.ConnectOptions().tls(context))
    error = await refused(natsrs.connect(tls_url(server), tls=context))
    assert isinstance(error, TlsError)
    assert "add_client_certificate" in str(error)
    opts = (
        natsrs.ConnectOptions().tls(context).add_client_certificate(pki.client_cert, pki.client_key)
    )
    await assert_works(await w(opts.connect(tls_url(server))), close=True)


def test_client_identity_reads_back_what_load_cert_chain_loaded(pki: Pki) -> None:
    assert _ssl_context.client_identity(pki.context()) == ([], None)
    identity = _ssl_context.client_identity(client_context(pki))
    assert identity is not None
    chain, key = identity
    assert key is not None
    pem = pki.client_cert.read_bytes()
    assert chain == [ssl.PEM_cert_to_DER_cert(pem.decode())]
    loaded = serialization.load_der_private_key(bytes(key), password=None)
    certificate = x509.load_der_x509_certificate(chain[0])
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    assert loaded.public_key().public_bytes(der, public) == certificate.public_key().public_bytes(
        der, public
    )


def test_client_identity_reads_nothing_it_cannot_trust(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Disguised(ssl.SSLContext):
        """Reports options its SSL_CTX does not have, as a foreign layout would."""

        @property  # type: ignore[override]
        def options(self) -> int:
            return 0x7FFF_FFFF

    disguised = Disguised(ssl.PROTOCOL_TLS_CLIENT)
    disguised.load_cert_chain(pki.client_cert, pki.client_key)
    assert _ssl_context.client_identity(disguised) is None
    with monkeypatch.context() as patched:
        patched.setattr(sys.implementation, "name", "pypy")
        assert _ssl_context._load() is None
    with monkeypatch.context() as patched:
        patched.delattr(_ssl, "__file__")
        assert _ssl_context._load() is None


def test_the_key_is_wiped_once_copied(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    real = _ssl_context._openssl()
    assert real is not None
    handed: list[bytearray] = []

    class Recording:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def private_key(self, key: int) -> bytearray:
            out = real.private_key(key)
            handed.append(out)
            return out

    monkeypatch.setattr(_ssl_context, "_openssl", lambda: Recording())
    natsrs.ConnectOptions().tls(client_context(pki))
    assert len(handed) == 1 and len(handed[0]) > 0
    assert not any(handed[0])


def test_repr_shows_that_a_context_has_a_key_never_the_key(pki: Pki) -> None:
    context = client_context(pki)
    key = serialization.load_pem_private_key(pki.client_key.read_bytes(), password=None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pem_body = [line for line in pki.client_key.read_text().splitlines() if "-----" not in line]
    for text in (
        repr(natsrs.ConnectOptions().tls(context)),
        repr(natsrs.TlsConfig.from_ssl_context(context)),
        repr(natsrs.TlsConfig.from_ssl_context(context, server_name="nats.example")),
    ):
        assert "key=<set>" in text
        assert "PRIVATE KEY" not in text
        assert pkcs8.hex() not in text and str(pkcs8)[2:40] not in text
        assert not any(line in text for line in pem_body)


def test_tls_config_from_ssl_context_rejects_bad_input(pki: Pki) -> None:
    with pytest.raises(TypeError):
        natsrs.TlsConfig.from_ssl_context("not a context")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="server name"):
        natsrs.TlsConfig.from_ssl_context(pki.context(), server_name="bad name!")


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
