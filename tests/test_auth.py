"""Every authentication method, against a nats-server configured for it."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import natsrs
from helpers import assert_works, w
from nats_jwt import OperatorSetup, operator_setup
from natsrs import nkeys
from natsrs.errors import AuthorizationError, InvalidCredentialsError

if TYPE_CHECKING:
    from conftest import ServerFactory
    from natsrs._server import NatsServer

TOKEN = "s3cr3t-t0ken-value"
PASSWORD = "pa55-w0rd-value"


async def assert_refused(connecting: object, *secrets: str) -> AuthorizationError:
    started = time.monotonic()
    with pytest.raises(AuthorizationError) as info:
        await w(connecting)  # type: ignore[arg-type]
    assert time.monotonic() - started < 2.0, "a refused connect must fail fast, not retry"
    for secret in secrets:
        assert secret not in str(info.value) and secret not in repr(info.value)
    return info.value


@pytest.fixture
def token_server(nats_server_factory: ServerFactory) -> NatsServer:
    return nats_server_factory(f'authorization {{ token: "{TOKEN}" }}')


@pytest.fixture
def user_server(nats_server_factory: ServerFactory) -> NatsServer:
    return nats_server_factory(
        f'authorization {{ users = [{{ user: "alice", password: "{PASSWORD}" }}] }}'
    )


@pytest.fixture
def nkey_user() -> tuple[str, str]:
    return nkeys.create("user")


@pytest.fixture
def nkey_server(nats_server_factory: ServerFactory, nkey_user: tuple[str, str]) -> NatsServer:
    return nats_server_factory(f"authorization {{ users = [{{ nkey: {nkey_user[1]} }}] }}")


@pytest.fixture
def operator() -> OperatorSetup:
    return operator_setup()


@pytest.fixture
def operator_server(nats_server_factory: ServerFactory, operator: OperatorSetup) -> NatsServer:
    return nats_server_factory(operator.server_config)


async def test_token_connects_and_a_wrong_or_missing_token_is_refused(
    token_server: NatsServer,
) -> None:
    await assert_works(await w(natsrs.connect(token_server.url, token=TOKEN)), close=True)
    await assert_works(
        await w(natsrs.ConnectOptions().token(TOKEN).connect(token_server.url)), close=True
    )
    await assert_refused(natsrs.connect(token_server.url, token="wrong-token"), "wrong-token")
    await assert_refused(natsrs.connect(token_server.url))


async def test_user_and_password_connect_and_a_wrong_password_is_refused(
    user_server: NatsServer,
) -> None:
    await assert_works(
        await w(natsrs.connect(user_server.url, user_and_password=("alice", PASSWORD))), close=True
    )
    opts = natsrs.ConnectOptions().user_and_password("alice", PASSWORD)
    await assert_works(await w(opts.connect(user_server.url)), close=True)
    wrong = natsrs.ConnectOptions().user_and_password("alice", "not-the-password")
    await assert_refused(wrong.connect(user_server.url), "not-the-password")


async def test_credentials_in_the_url_are_used(
    user_server: NatsServer, token_server: NatsServer
) -> None:
    await assert_works(
        await w(natsrs.connect(f"nats://alice:{PASSWORD}@127.0.0.1:{user_server.port}")),
        close=True,
    )
    await assert_works(
        await w(natsrs.connect(f"nats://{TOKEN}@127.0.0.1:{token_server.port}")), close=True
    )
    await assert_refused(
        natsrs.connect(f"nats://alice:bad-url-password@127.0.0.1:{user_server.port}"),
        "bad-url-password",
    )


async def test_nkey_seed_signs_the_nonce(
    nkey_server: NatsServer, nkey_user: tuple[str, str]
) -> None:
    seed, _ = nkey_user
    await assert_works(await w(natsrs.connect(nkey_server.url, nkey=seed)), close=True)
    other_seed, _ = nkeys.create("user")
    await assert_refused(natsrs.connect(nkey_server.url, nkey=other_seed), other_seed)


def test_malformed_seed_jwt_and_creds_fail_when_set(tmp_path: Path) -> None:
    opts = natsrs.ConnectOptions()
    for bad in ("", "SUnotaseed", nkeys.create("account")[0]):
        with pytest.raises(InvalidCredentialsError) as info:
            opts.nkey(bad)
        assert not bad or bad not in str(info.value)
    with pytest.raises(InvalidCredentialsError):
        opts.jwt("not-a-jwt", lambda nonce: nonce)
    with pytest.raises(InvalidCredentialsError):
        opts.credentials("garbage that is no creds file")
    bad_file = tmp_path / "bad.creds"
    bad_file.write_text("-----BEGIN NATS USER JWT-----\nnope\n")
    with pytest.raises(InvalidCredentialsError):
        opts.credentials_file(bad_file)
    with pytest.raises(InvalidCredentialsError):
        opts.credentials_file(tmp_path / "missing.creds")
    assert "auth=None" in repr(opts)


async def test_jwt_with_sync_and_async_sign_callbacks(
    operator_server: NatsServer, operator: OperatorSetup
) -> None:
    user = operator.user()
    loop_thread = threading.get_ident()
    calls: list[int] = []

    def sign(nonce: bytes) -> bytes:
        calls.append(threading.get_ident())
        return nkeys.sign(user.seed, nonce)

    async def sign_async(nonce: bytes) -> bytes:
        await asyncio.sleep(0)
        calls.append(threading.get_ident())
        return nkeys.sign(user.seed, nonce)

    await assert_works(
        await w(natsrs.connect(operator_server.url, jwt=(user.jwt, sign))), close=True
    )
    await assert_works(
        await w(natsrs.ConnectOptions().jwt(user.jwt, sign_async).connect(operator_server.url)),
        close=True,
    )
    assert calls == [loop_thread, loop_thread], "callbacks run on the loop that connected"


async def test_exception_in_sign_callback_is_the_connect_errors_cause(
    operator_server: NatsServer, operator: OperatorSetup
) -> None:
    user = operator.user()

    def broken(nonce: bytes) -> bytes:
        raise LookupError("key vault unavailable")

    error = await assert_refused(natsrs.connect(operator_server.url, jwt=(user.jwt, broken)))
    assert isinstance(error.__cause__, LookupError)
    assert str(error.__cause__) == "key vault unavailable"


async def test_credentials_text_and_file(
    operator_server: NatsServer, operator: OperatorSetup, tmp_path: Path
) -> None:
    user = operator.user()
    await assert_works(
        await w(natsrs.connect(operator_server.url, credentials=user.creds())), close=True
    )
    path = tmp_path / "user.creds"
    path.write_text(user.creds())
    opts = natsrs.ConnectOptions().credentials_file(path)
    assert user.seed not in repr(opts) and user.jwt not in repr(opts)
    await assert_works(await w(opts.connect(operator_server.url)), close=True)
    # Signed by another operator's account: the server refuses it.
    stranger = operator_setup().user()
    await assert_refused(natsrs.connect(operator_server.url, credentials=stranger.creds()))


async def test_auth_callback_for_each_server_kind(
    token_server: NatsServer,
    user_server: NatsServer,
    nkey_server: NatsServer,
    nkey_user: tuple[str, str],
    operator_server: NatsServer,
    operator: OperatorSetup,
) -> None:
    seed, public = nkey_user
    jwt_user = operator.user()
    nonces: list[bytes] = []

    async def token_auth(nonce: bytes) -> natsrs.Auth:
        return natsrs.Auth(token=TOKEN)

    def user_auth(nonce: bytes) -> natsrs.Auth:
        return natsrs.Auth(username="alice", password=PASSWORD)

    async def nkey_auth(nonce: bytes) -> natsrs.Auth:
        nonces.append(nonce)
        return natsrs.Auth(nkey=public, signature=nkeys.sign(seed, nonce))

    async def jwt_auth(nonce: bytes) -> natsrs.Auth:
        return natsrs.Auth(jwt=jwt_user.jwt, signature=nkeys.sign(jwt_user.seed, nonce))

    await assert_works(
        await w(natsrs.connect(token_server.url, auth_callback=token_auth)), close=True
    )
    await assert_works(
        await w(natsrs.connect(user_server.url, auth_callback=user_auth)), close=True
    )
    await assert_works(
        await w(natsrs.connect(nkey_server.url, auth_callback=nkey_auth)), close=True
    )
    await assert_works(
        await w(natsrs.connect(operator_server.url, auth_callback=jwt_auth)), close=True
    )
    assert nonces and all(nonces), "the server's nonce reaches the callback"

    async def wrong(nonce: bytes) -> natsrs.Auth:
        return natsrs.Auth(token="callback-wrong-token")

    await assert_refused(
        natsrs.connect(token_server.url, auth_callback=wrong), "callback-wrong-token"
    )

    async def raises(nonce: bytes) -> natsrs.Auth:
        raise PermissionError("no credentials for you")

    error = await assert_refused(natsrs.connect(token_server.url, auth_callback=raises))
    assert isinstance(error.__cause__, PermissionError)

    async def returns_garbage(nonce: bytes) -> str:
        return "not an Auth"

    error = await assert_refused(natsrs.connect(token_server.url, auth_callback=returns_garbage))
    assert isinstance(error.__cause__, TypeError)


async def test_secrets_never_appear_in_repr_errors_or_logs(
    token_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    seed, _ = nkeys.create("user")
    caplog.set_level(logging.DEBUG)
    opts = natsrs.ConnectOptions().token(TOKEN).user_and_password("alice", PASSWORD).nkey(seed)
    auth = natsrs.Auth(username="alice", password=PASSWORD, token=TOKEN, signature=b"sig")
    texts = [repr(opts), str(opts), repr(auth), str(auth)]
    wrong = natsrs.ConnectOptions().token("leaky-wrong-token")
    with pytest.raises(AuthorizationError) as info:
        await w(wrong.connect(token_server.url))
    texts += [str(info.value), repr(info.value)]
    with pytest.raises(AuthorizationError) as url_info:
        await w(natsrs.connect(f"nats://leaky-user:leaky-pass@127.0.0.1:{token_server.port}"))
    texts += [str(url_info.value), repr(url_info.value), caplog.text]
    for text in texts:
        for secret in (TOKEN, PASSWORD, seed, "leaky-wrong-token", "leaky-pass"):
            assert secret not in text
