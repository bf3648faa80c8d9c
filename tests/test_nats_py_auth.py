"""nats-py's credential keywords: token, user and password, nkeys, ``.creds`` in each
form, ``signature_cb``/``user_jwt_cb``.

Everything goes through ``import natsrs as nats`` against real ``nats-server``
processes from the fixtures, one per test on free ports. Every wait is bounded.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import natsrs as nats
from helpers import w
from nats_jwt import OperatorSetup, operator_setup
from nats_py_helpers import (
    Closeable,
    assert_works,
    connect,
    nats_client,
)
from natsrs import nkeys
from natsrs.aio.client import RawCredentials

if TYPE_CHECKING:
    from conftest import ServerFactory

pytestmark = pytest.mark.timeout(60)


# -- connect: authentication and TLS ------------------------------------------------------


async def test_token_and_url_token(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    server = nats_server_factory('authorization { token: "s3cret" }')
    await assert_works(await connect(opened, server.url, token="s3cret", error_cb=None))
    await assert_works(await nats_client(opened, server.url, token="s3cret"))
    await assert_works(await connect(opened, f"nats://s3cret@127.0.0.1:{server.port}"))
    # nats-py's token callback.
    await assert_works(await connect(opened, server.url, token=lambda: "s3cret"))
    with pytest.raises(nats.errors.AuthorizationError):
        await w(nats.connect(server.url, token="wrong", error_cb=None))


async def test_user_password_and_url_credentials(
    nats_server_factory: ServerFactory, opened: list[Closeable]
) -> None:
    server = nats_server_factory("authorization { user: alice, password: pw }")
    await assert_works(await connect(opened, server.url, user="alice", password="pw"))
    await assert_works(await connect(opened, f"nats://alice:pw@127.0.0.1:{server.port}"))
    await assert_works(
        await nats_client(opened, server.url, user=lambda: "alice", password=lambda: "pw")
    )
    with pytest.raises(nats.errors.AuthorizationError):
        await w(nats.connect(server.url, user="alice", password="nope"))
    with pytest.raises(ValueError, match="together"):
        await w(nats.connect(server.url, user="alice"))


async def test_nkeys_seed_file_and_seed_string(
    nats_server_factory: ServerFactory, opened: list[Closeable], tmp_path: Path
) -> None:
    seed, public = nkeys.create("user")
    server = nats_server_factory(f"authorization {{ users = [{{ nkey: {public} }}] }}")
    seed_file = tmp_path / "user.nk"
    seed_file.write_text(seed + "\n")
    await assert_works(await connect(opened, server.url, nkeys_seed=str(seed_file)))
    await assert_works(await nats_client(opened, server.url, nkeys_seed_str=seed))
    with pytest.raises(nats.errors.AuthorizationError):
        await w(nats.connect(server.url, nkeys_seed_str=nkeys.create("user")[0]))
    with pytest.raises(nats.errors.InvalidUserCredentialsError):
        await w(nats.connect(server.url, nkeys_seed=str(tmp_path / "missing.nk")))


@pytest.fixture(scope="module")
def operator() -> OperatorSetup:
    return operator_setup()


async def test_user_credentials_in_each_nats_py_form(
    nats_server_factory: ServerFactory,
    opened: list[Closeable],
    operator: OperatorSetup,
    tmp_path: Path,
) -> None:
    server = nats_server_factory(operator.server_config)
    user = operator.user()
    creds = tmp_path / "user.creds"
    creds.write_text(user.creds())
    jwt_file, seed_file = tmp_path / "user.jwt", tmp_path / "user.nk"
    jwt_file.write_text(user.jwt + "\n")
    seed_file.write_text(user.seed + "\n")
    await assert_works(await connect(opened, server.url, user_credentials=str(creds)))
    await assert_works(await connect(opened, server.url, user_credentials=creds))
    await assert_works(
        await connect(opened, server.url, user_credentials=(str(jwt_file), str(seed_file)))
    )
    await assert_works(
        await nats_client(opened, server.url, user_credentials=RawCredentials(user.creds()))
    )
    stranger = tmp_path / "stranger.creds"
    stranger.write_text(operator_setup().user().creds())
    with pytest.raises(nats.errors.AuthorizationError):
        await w(nats.connect(server.url, user_credentials=str(stranger)))


async def test_signature_cb_and_user_jwt_cb(
    nats_server_factory: ServerFactory, opened: list[Closeable], operator: OperatorSetup
) -> None:
    server = nats_server_factory(operator.server_config)
    user = operator.user()
    nonces: list[str] = []

    def user_jwt_cb() -> bytes:
        return user.jwt.encode()

    def signature_cb(nonce: str) -> bytes:
        # nats-py's contract: the nonce as text in, the base64 signature out.
        nonces.append(nonce)
        return base64.b64encode(nkeys.sign(user.seed, nonce.encode()))

    nc = await connect(opened, server.url, user_jwt_cb=user_jwt_cb, signature_cb=signature_cb)
    await assert_works(nc)
    assert nonces and all(isinstance(n, str) and n for n in nonces)
    # nats-py signs with a seed and takes the JWT from user_jwt_cb when both are given.
    await assert_works(
        await nats_client(opened, server.url, nkeys_seed_str=user.seed, user_jwt_cb=user_jwt_cb)
    )
    with pytest.raises(ValueError, match="signature_cb"):
        await w(nats.connect(server.url, user_jwt_cb=user_jwt_cb))
    with pytest.raises(nats.errors.InvalidUserCredentialsError):
        await w(nats.connect(server.url, nkeys_seed_str="SUnot-a-seed", user_jwt_cb=user_jwt_cb))
