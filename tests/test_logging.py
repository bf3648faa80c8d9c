"""Engine records reach Python's logging under the natsrs logger, scrubbed of secrets."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

import natsrs
from helpers import SLOW_WAIT, assert_works, w
from natsrs import nkeys

if TYPE_CHECKING:
    from conftest import ServerFactory


async def test_engine_records_reach_the_natsrs_logger_without_secrets(
    nats_server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    token = "log-scan-token-8a7f"
    password = "log-scan-password-19c2"
    seed, public = nkeys.create("user")
    token_server = nats_server_factory(f'authorization {{ token: "{token}" }}')
    user_server = nats_server_factory(
        f'authorization {{ users = [{{ user: "ann", password: "{password}" }}] }}'
    )
    nkey_server = nats_server_factory(f"authorization {{ users = [{{ nkey: {public} }}] }}")
    caplog.set_level(5, logger="natsrs")  # below DEBUG: the engine's trace records too

    clients = [
        await natsrs.connect(token_server.url, token=token),
        await natsrs.connect(f"nats://ann:{password}@127.0.0.1:{user_server.port}"),
        await natsrs.connect(nkey_server.url, nkey=seed),
    ]
    for nc in clients:
        events = nc.events()
        await nc.force_reconnect()
        while (await w(events.__anext__(), SLOW_WAIT)).kind != natsrs.EventKind.CONNECTED:
            pass
        await assert_works(nc)
    with pytest.raises(natsrs.errors.AuthorizationError):
        await w(natsrs.connect(token_server.url, token="log-scan-wrong-77"), SLOW_WAIT)
    for nc in clients:
        await nc.close()

    records = [r for r in caplog.records if r.name == "natsrs"]
    levels = {r.levelno for r in records}
    assert {5, logging.DEBUG} <= levels, "trace and debug records arrive with their levels"
    assert any(r.levelno >= logging.INFO for r in records)
    text = "\n".join(r.getMessage() for r in records)
    for secret in (token, password, seed, "log-scan-wrong-77"):
        assert secret not in text


async def test_records_below_the_logger_level_are_not_produced(
    nats_server_factory: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = nats_server_factory()
    caplog.set_level(logging.WARNING, logger="natsrs")
    nc = await natsrs.connect(server.url)
    await assert_works(nc, close=True)
    assert not [r for r in caplog.records if r.name == "natsrs" and r.levelno < logging.WARNING]


@pytest.mark.parametrize(
    ("config", "url_auth", "keywords", "secret"),
    [
        ('authorization { token: "t!k" }', "t!k@", {}, "t!k"),
        ('authorization { token: "~&~" }', "", {"token": "~&~"}, "~&~"),
        (
            'authorization { users = [{ user: "amy", password: "#~#" }] }',
            "",
            {"user_and_password": ("amy", "#~#")},
            "#~#",
        ),
        ('authorization { users = [{ user: "al", password: "p" }] }', "al:p@", {}, '"p"'),
    ],
    ids=["url-token", "token", "password", "one-character-password"],
)
async def test_short_secrets_are_scrubbed_from_every_record(
    nats_server_factory: ServerFactory,
    caplog: pytest.LogCaptureFixture,
    config: str,
    url_auth: str,
    keywords: dict[str, object],
    secret: str,
) -> None:
    """Secrets under 4 characters too: the engine renders them as `password: Some("...")`,
    `auth_token: Some("...")` or a URL's `username: "..."` at DEBUG and TRACE."""
    server = nats_server_factory(config)
    caplog.set_level(5, logger="natsrs")
    natsrs.refresh_log_level()
    try:
        nc = await w(natsrs.connect(f"nats://{url_auth}127.0.0.1:{server.port}", **keywords))
        await w(nc.flush())
        await w(nc.close())
    finally:
        caplog.set_level(logging.WARNING, logger="natsrs")
        natsrs.refresh_log_level()
    records = [r for r in caplog.records if r.name == "natsrs"]
    text = "\n".join(r.getMessage() for r in records)
    assert any(r.levelno == 5 for r in records), "the engine's TRACE records were captured"
    assert "CONNECT" in text, "the record of the CONNECT (with the credentials) was captured"
    assert secret not in text
