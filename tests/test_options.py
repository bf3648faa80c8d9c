"""ConnectOptions: one test per option, failing when the option is not wired through."""

from __future__ import annotations

import asyncio
import math
import socket
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

import natsrs
from helpers import (
    WAIT,
    assert_no_message,
    assert_works,
    connz_entry,
    next_msg,
    responder,
    until_idle,
    w,
    wait_until,
)
from natsrs import ConnectionState, ConnectOptions, Message
from natsrs._server import NatsServer, free_port
from natsrs.errors import ConnectError, ConnectTimeoutError, MaxPayloadError, NoServersError

if TYPE_CHECKING:
    from conftest import ClientFactory, ServerFactory


# -- options observed by the server or by behaviour ----------------------------------------


async def test_name_is_shown_by_the_server(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    nc = await client_factory(nats_server.url, ConnectOptions().name("orders-service"))

    assert connz_entry(nats_server, nc)["name"] == "orders-service"


async def test_no_echo_suppresses_own_messages_only(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    quiet = await client_factory(nats_server.url, ConnectOptions().no_echo())
    other = await client_factory(nats_server.url)
    own_sub = await w(quiet.subscribe("echo.test"))
    other_sub = await w(other.subscribe("echo.test"))
    await w(quiet.flush())
    await w(other.flush())

    await w(quiet.publish("echo.test", b"mine"))
    await w(quiet.flush())
    assert (await next_msg(other_sub)).payload == b"mine"  # it was published
    await assert_no_message(own_sub)  # but not echoed back

    await w(other.publish("echo.test", b"yours"))
    assert (await next_msg(own_sub)).payload == b"yours"


async def test_without_no_echo_own_messages_come_back(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    nc = await client_factory(nats_server.url, ConnectOptions().no_echo(False))
    sub = await w(nc.subscribe("echo.test"))

    await w(nc.publish("echo.test", b"mine"))

    assert (await next_msg(sub)).payload == b"mine"


async def test_custom_inbox_prefix_is_used_for_request_replies(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    requester = await client_factory(
        nats_server.url, ConnectOptions().custom_inbox_prefix("_MY_INBOX")
    )
    service = await client_factory(nats_server.url)
    reply_subjects: list[str | None] = []

    def handler(msg: Message) -> bytes:
        reply_subjects.append(msg.reply)
        return b"ok"

    async with responder(service, "svc", handler):
        reply = await w(requester.request("svc", b"?"))

    assert reply.payload == b"ok"
    assert len(reply_subjects) == 1
    assert reply_subjects[0] is not None and reply_subjects[0].startswith("_MY_INBOX.")
    assert requester.new_inbox().startswith("_MY_INBOX.")


async def test_small_subscription_capacity_drops_messages_for_a_paused_reader(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    published = 500
    slow = await client_factory(nats_server.url, ConnectOptions().subscription_capacity(8))
    roomy = await client_factory(nats_server.url)  # default capacity: the control
    publisher = await client_factory(nats_server.url)
    slow_sub = await w(slow.subscribe("flood"))
    roomy_sub = await w(roomy.subscribe("flood"))
    await w(slow.flush())
    await w(roomy.flush())

    # Nobody reads while the flood arrives.
    for i in range(published):
        await w(publisher.publish("flood", str(i).encode()))
    await w(publisher.flush())
    # A PING/PONG on each subscriber connection: every MSG before it has been read.
    await w(slow.flush())
    await w(roomy.flush())

    slow_received = await w(until_idle(slow_sub), 4 * WAIT)
    roomy_received = await w(until_idle(roomy_sub), 4 * WAIT)

    assert len(roomy_received) == published
    assert 0 < len(slow_received) < published
    # The slow subscription keeps working once its reader catches up.
    await w(publisher.publish("flood", b"after"))
    assert (await next_msg(slow_sub)).payload == b"after"


@pytest.mark.parametrize("form", ["tuple", "string"])
async def test_local_address_is_the_clients_source_address(
    nats_server: NatsServer, client_factory: ClientFactory, form: str
) -> None:
    port = free_port()
    address: str | tuple[str, int] = ("127.0.0.1", port) if form == "tuple" else f"127.0.0.1:{port}"

    nc = await client_factory(nats_server.url, ConnectOptions().local_address(address))

    entry = connz_entry(nats_server, nc)
    assert (entry["ip"], entry["port"]) == ("127.0.0.1", port)


async def test_connection_timeout_bounds_a_silent_server() -> None:
    # A listener that accepts TCP (the kernel completes the handshake) but never
    # sends INFO.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"nats://127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()

        with pytest.raises(ConnectError):
            await w(ConnectOptions().connection_timeout(0.5).connect(url))

        assert time.monotonic() - started < 0.5 + 2.5


async def test_connection_timeout_raises_connect_timeout_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"nats://127.0.0.1:{listener.getsockname()[1]}"

        with pytest.raises(ConnectTimeoutError) as caught:
            await w(ConnectOptions().connection_timeout(timedelta(milliseconds=300)).connect(url))

    assert isinstance(caught.value, NoServersError)
    assert isinstance(caught.value, TimeoutError)


async def test_max_payload_from_server_config_rejects_larger_messages(
    nats_server_factory: ServerFactory, client_factory: ClientFactory
) -> None:
    server = nats_server_factory("max_payload: 131072")
    nc = await client_factory(server.url)
    info = nc.server_info
    assert info is not None
    assert nc.max_payload == info.max_payload == 131072
    sub = await w(nc.subscribe("big"))

    with pytest.raises(MaxPayloadError):
        await w(nc.publish("big", bytes(131073)))

    await w(nc.publish("big", bytes(131072)))  # exactly the limit is allowed
    assert len((await next_msg(sub)).payload) == 131072
    await assert_works(nc)


async def test_request_larger_than_max_payload_raises_max_payload(
    nats_server_factory: ServerFactory, client_factory: ClientFactory
) -> None:
    server = nats_server_factory("max_payload: 131072")
    nc = await client_factory(server.url)
    # A subscriber (kept referenced), so only the size can fail the request.
    sub = await w(nc.subscribe("big"))

    with pytest.raises(MaxPayloadError):
        await w(nc.request("big", bytes(131073), timeout=1.0))

    await assert_works(nc)
    assert sub.subject == "big"


async def test_concurrent_requests_share_one_multiplexed_inbox_subscription(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    requester = await client_factory(nats_server.url)
    service = await client_factory(nats_server.url)

    async with responder(service, "svc.echo"):
        replies = await w(
            asyncio.gather(*(requester.request("svc.echo", str(i).encode()) for i in range(100))),
            3 * WAIT,
        )

    assert [r.payload for r in replies] == [f"re:{i}".encode() for i in range(100)]
    subjects = connz_entry(nats_server, requester, subs=1).get("subscriptions_list", [])
    assert len(subjects) == 1, subjects
    assert subjects[0].startswith("_INBOX.")


async def test_request_timeout_option_sets_the_default_request_timeout(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    nc = await client_factory(nats_server.url, ConnectOptions().request_timeout(0.2))
    silent = await w(nc.subscribe("silent"))  # never answers; kept: dropping unsubscribes
    await w(nc.flush())

    started = time.monotonic()
    with pytest.raises(natsrs.errors.TimeoutError):
        await w(nc.request("silent", b"?"))

    assert time.monotonic() - started < 2.0
    assert nc.timeout == pytest.approx(0.2)
    assert silent.subject == "silent"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(0.25, 0.25), (2, 2.0), (timedelta(milliseconds=250), 0.25), (timedelta(minutes=1), 60.0)],
    ids=["float", "int", "timedelta-ms", "timedelta-min"],
)
async def test_request_timeout_accepts_float_and_timedelta(
    nats_server: NatsServer, client_factory: ClientFactory, value: float, seconds: float
) -> None:
    nc = await client_factory(nats_server.url, ConnectOptions().request_timeout(value))

    assert nc.timeout == pytest.approx(seconds)


async def test_all_durations_as_timedelta_connect(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    options = (
        ConnectOptions()
        .ping_interval(timedelta(seconds=30))
        .connection_timeout(timedelta(seconds=2))
        .request_timeout(timedelta(seconds=3))
    )

    nc = await client_factory(nats_server.url, options)

    assert nc.timeout == pytest.approx(3.0)
    await assert_works(nc)


DURATION_SETTERS = ["ping_interval", "connection_timeout", "request_timeout"]


@pytest.mark.parametrize("setter", DURATION_SETTERS)
@pytest.mark.parametrize("value", [1.5, 1, timedelta(seconds=1, milliseconds=500)])
def test_duration_setters_accept_numbers_and_timedelta(setter: str, value: object) -> None:
    options = ConnectOptions()

    assert getattr(options, setter)(value) is options


@pytest.mark.parametrize("setter", DURATION_SETTERS)
@pytest.mark.parametrize(
    "value",
    [-1.0, -0.001, math.nan, math.inf, 1e20, timedelta(seconds=-1)],
    ids=["negative", "slightly-negative", "nan", "inf", "too-large", "negative-timedelta"],
)
def test_invalid_duration_raises_value_error_at_the_setter(setter: str, value: object) -> None:
    with pytest.raises(ValueError):
        getattr(ConnectOptions(), setter)(value)


@pytest.mark.parametrize("setter", ["ping_interval", "connection_timeout"])
@pytest.mark.parametrize("value", [0, 0.0, timedelta(0)], ids=["int", "float", "timedelta"])
def test_zero_duration_raises_value_error_where_it_must_be_positive(
    setter: str, value: object
) -> None:
    with pytest.raises(ValueError):
        getattr(ConnectOptions(), setter)(value)


@pytest.mark.parametrize("setter", DURATION_SETTERS)
def test_duration_of_wrong_type_raises_type_error(setter: str) -> None:
    with pytest.raises(TypeError):
        getattr(ConnectOptions(), setter)("5")


@pytest.mark.parametrize(
    ("setter", "value"),
    [
        ("subscription_capacity", 0),
        ("client_capacity", 0),
        ("read_buffer_capacity", 0),
        ("read_buffer_capacity", 65536),
        ("local_address", "not an address"),
    ],
)
def test_invalid_setter_values_raise_value_error(setter: str, value: object) -> None:
    with pytest.raises(ValueError):
        getattr(ConnectOptions(), setter)(value)


MAX_CAPACITY = 1 << 24
"""The documented bound of subscription_capacity and client_capacity."""


@pytest.mark.parametrize("setter", ["subscription_capacity", "client_capacity"])
def test_capacity_accepts_up_to_its_bound(setter: str) -> None:
    options = ConnectOptions()
    assert getattr(options, setter)(MAX_CAPACITY) is options
    assert f"{setter}={MAX_CAPACITY}" in repr(options)


@pytest.mark.parametrize("setter", ["subscription_capacity", "client_capacity"])
@pytest.mark.parametrize("value", [MAX_CAPACITY + 1, 2**64, 2**200, -1, -(2**70)], ids=str)
def test_capacity_out_of_range_is_a_value_error_naming_the_option(setter: str, value: int) -> None:
    with pytest.raises(ValueError, match=setter):
        getattr(ConnectOptions(), setter)(value)


@pytest.mark.parametrize("setter", ["subscription_capacity", "client_capacity", "max_reconnects"])
def test_count_of_wrong_type_raises_type_error(setter: str) -> None:
    with pytest.raises(TypeError):
        getattr(ConnectOptions(), setter)(1.5)


@pytest.mark.parametrize("value", [-1, -(2**70), 2**200], ids=str)
def test_max_reconnects_out_of_range_is_a_value_error(value: int) -> None:
    with pytest.raises(ValueError, match="max_reconnects"):
        ConnectOptions().max_reconnects(value)


def test_max_reconnects_takes_zero_and_none() -> None:
    options = ConnectOptions().max_reconnects(0)
    assert "max_reconnects=0" in repr(options)
    assert "max_reconnects=None" in repr(options.max_reconnects(None))


@pytest.mark.parametrize("port", [-1, 65536, 70000, 2**80], ids=str)
def test_local_address_port_out_of_range_is_a_value_error(port: int) -> None:
    with pytest.raises(ValueError, match="port"):
        ConnectOptions().local_address(("127.0.0.1", port))


@pytest.mark.parametrize("setter", ["ping_interval", "connection_timeout", "request_timeout"])
@pytest.mark.parametrize("value", [1e-12, 4e-10, timedelta(microseconds=0.0001)], ids=str)
def test_duration_below_a_nanosecond_is_refused_where_zero_is(setter: str, value: object) -> None:
    """It would round to a zero period, which the engine's timers cannot take."""
    with pytest.raises(ValueError):
        getattr(ConnectOptions(), setter)(value)


@pytest.mark.parametrize("setter", ["ping_interval", "connection_timeout", "request_timeout"])
def test_duration_of_one_nanosecond_is_accepted(setter: str) -> None:
    options = ConnectOptions()
    assert getattr(options, setter)(1e-9) is options


MAX_INBOX_PREFIX = 1936
"""The documented bound of custom_inbox_prefix (the subject limit, 2000, less an inbox's
own tokens)."""


def test_inbox_prefix_over_its_bound_is_a_value_error_that_says_the_limit() -> None:
    ConnectOptions().custom_inbox_prefix("I" * MAX_INBOX_PREFIX)
    with pytest.raises(ValueError, match=str(MAX_INBOX_PREFIX)):
        ConnectOptions().custom_inbox_prefix("I" * (MAX_INBOX_PREFIX + 1))


async def test_request_with_the_longest_inbox_prefix_and_subject_works(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    """The bounds keep every line of a request under the server's max_control_line."""
    prefix = "P" * MAX_INBOX_PREFIX
    subject = "S" * 2000
    requester = await client_factory(nats_server.url, ConnectOptions().custom_inbox_prefix(prefix))
    service = await client_factory(nats_server.url)
    async with responder(service, subject, lambda msg: b"ok"):
        reply = await w(requester.request(subject, b"?", headers={"h": "v"}))
        old_style = await w(requester.request(subject, b"?", old_style=True))
    assert reply.payload == old_style.payload == b"ok"
    await w(requester.flush())
    assert requester.statistics().connects == 1, "the server dropped the connection"


# -- server lists ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "urls"),
    [
        ("nats://a:1", ["nats://a:1"]),
        ("nats://a:1,nats://b:2", ["nats://a:1", "nats://b:2"]),
        ("nats://a:1, nats://b:2 ,", ["nats://a:1", "nats://b:2"]),
        ("a:1,b:2", ["a:1", "b:2"]),
        ("nats://dave:hunter2,x@h:1", ["nats://dave:hunter2,x@h:1"]),
        ("dave:hunter2,x@h:1", ["dave:hunter2,x@h:1"]),
        (
            "nats://u:p,w@h:1,tls://v:q,,z@h2:2",
            ["nats://u:p,w@h:1", "tls://v:q,,z@h2:2"],
        ),
        ("nats://h1:1,nats://u:p,w@h2:2", ["nats://h1:1", "nats://u:p,w@h2:2"]),
        ("a:1,nats://u:p@h2:2,b:3", ["a:1", "nats://u:p@h2:2", "b:3"]),
        ("nats://u:p@h:1/x,y:2", ["nats://u:p@h:1/x", "y:2"]),
    ],
)
def test_a_server_string_is_split_at_the_commas_between_urls(given: str, urls: list[str]) -> None:
    """A comma in a URL's userinfo (a password) belongs to the URL."""
    assert natsrs._natsrs._server_list(given) == urls


def test_setters_return_the_same_options_for_chaining() -> None:
    options = ConnectOptions()

    chained = (
        options.name("svc")
        .no_echo()
        .retry_on_initial_connect(False)
        .max_reconnects(3)
        .max_reconnects(None)
        .ignore_discovered_servers()
        .retain_servers_order()
        .skip_subject_validation(False)
        .subscription_capacity(1024)
        .client_capacity(256)
        .custom_inbox_prefix("_X")
        .read_buffer_capacity(65535)
        .local_address(("127.0.0.1", 0))
        .require_tls(False)
    )

    assert chained is options


def test_repr_shows_the_settings() -> None:
    options = ConnectOptions().name("repr-check").no_echo().request_timeout(1.5)

    text = repr(options)

    assert "ConnectOptions" in text
    assert "repr-check" in text
    assert "no_echo" in text


# -- natsrs.connect ----------------------------------------------------------------------


async def test_connect_keywords_are_builder_options(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    nc = await client_factory(nats_server.url, name="kw-client", no_echo=True)
    sub = await w(nc.subscribe("kw"))
    await w(nc.publish("kw", b"own"))
    await w(nc.flush())

    assert connz_entry(nats_server, nc)["name"] == "kw-client"
    await assert_no_message(sub)


@pytest.mark.parametrize("keyword", ["bogus", "connect", "_private", "__init__"])
def test_connect_with_unknown_keyword_raises_type_error(keyword: str) -> None:
    with pytest.raises(TypeError, match=keyword):
        natsrs.connect("nats://127.0.0.1:1", **{keyword: True})


def test_default_url_is_localhost_4222() -> None:
    assert natsrs.DEFAULT_URL == "nats://127.0.0.1:4222"


async def test_connect_without_address_dials_the_default_url() -> None:
    dialed = asyncio.Event()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        dialed.set()
        writer.close()

    try:
        listener = await asyncio.start_server(on_connect, "127.0.0.1", 4222)
    except OSError:
        pytest.skip("127.0.0.1:4222 is in use")
    async with listener:
        with pytest.raises(ConnectError):
            await w(ConnectOptions().connection_timeout(1.0).connect())
        assert dialed.is_set()


async def test_connect_to_closed_port_raises_no_servers_quickly() -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()

    with pytest.raises(NoServersError):
        await w(natsrs.connect(url))

    assert time.monotonic() - started < 2.0


async def test_retry_on_initial_connect_returns_at_once_and_delivers_once_server_starts(
    nats_server_factory: ServerFactory, client_factory: ClientFactory
) -> None:
    server = nats_server_factory(start=False)  # ports reserved, nothing listening yet

    started = time.monotonic()
    nc = await client_factory(server.url, ConnectOptions().retry_on_initial_connect())
    assert time.monotonic() - started < 1.0
    assert nc.connection_state != ConnectionState.CONNECTED

    sub = await w(nc.subscribe("early"))
    for i in range(3):
        await w(nc.publish("early", str(i).encode()))
    server.start()

    received = [(await next_msg(sub, 3 * WAIT)).payload for _ in range(3)]
    assert received == [b"0", b"1", b"2"]
    await wait_until(lambda: nc.connection_state == ConnectionState.CONNECTED)


# -- async-nats's `ConnectOptions::with_*` constructors ---------------------------------
# The auth servers and checks are test_auth.py's (its fixtures are imported here).

from test_auth import (  # noqa: E402
    PASSWORD,
    TOKEN,
    assert_refused,
    nkey_server,  # noqa: F401 (fixture)
    nkey_user,  # noqa: F401 (fixture)
    operator,  # noqa: F401 (fixture)
    operator_server,  # noqa: F401 (fixture)
    token_server,  # noqa: F401 (fixture)
    user_server,  # noqa: F401 (fixture)
)

if TYPE_CHECKING:
    from pathlib import Path

    from nats_jwt import OperatorSetup


def test_with_constructors_return_new_options_with_the_credential_set(tmp_path: Path) -> None:
    first = ConnectOptions.with_token(TOKEN)
    second = ConnectOptions.with_token(TOKEN)
    assert isinstance(first, ConnectOptions) and first is not second
    assert TOKEN not in repr(first)
    assert repr(first) == repr(ConnectOptions().token(TOKEN))
    assert repr(ConnectOptions.with_user_and_password("alice", PASSWORD)) == repr(
        ConnectOptions().user_and_password("alice", PASSWORD)
    )
    # The setters' checks apply: malformed input fails at the constructor.
    with pytest.raises(natsrs.errors.InvalidCredentialsError):
        ConnectOptions.with_nkey("not-a-seed")
    with pytest.raises(natsrs.errors.InvalidCredentialsError):
        ConnectOptions.with_jwt("not-a-jwt", lambda nonce: nonce)
    with pytest.raises(natsrs.errors.InvalidCredentialsError):
        ConnectOptions.with_credentials("not a creds file")
    with pytest.raises(natsrs.errors.InvalidCredentialsError):
        ConnectOptions.with_credentials_file(tmp_path / "missing.creds")
    with pytest.raises(TypeError):
        ConnectOptions.with_auth_callback("not callable")  # type: ignore[arg-type]


async def test_with_token_and_user_and_password_connect(
    token_server: NatsServer,  # noqa: F811
    user_server: NatsServer,  # noqa: F811
) -> None:
    await assert_works(await ConnectOptions.with_token(TOKEN).connect(token_server.url))
    await assert_refused(ConnectOptions.with_token("wrong-token").connect(token_server.url))
    opts = ConnectOptions.with_user_and_password("alice", PASSWORD)
    await assert_works(await opts.connect(user_server.url))
    await assert_refused(
        ConnectOptions.with_user_and_password("alice", "wrong").connect(user_server.url)
    )


async def test_with_nkey_connects(
    nkey_server: NatsServer,  # noqa: F811
    nkey_user: tuple[str, str],  # noqa: F811
) -> None:
    seed, _ = nkey_user
    await assert_works(await ConnectOptions.with_nkey(seed).connect(nkey_server.url))


async def test_with_jwt_credentials_and_credentials_file_connect(
    operator_server: NatsServer,  # noqa: F811
    operator: OperatorSetup,  # noqa: F811
    tmp_path: Path,
) -> None:
    user = operator.user()

    async def sign(nonce: bytes) -> bytes:
        return natsrs.nkeys.sign(user.seed, nonce)

    await assert_works(await ConnectOptions.with_jwt(user.jwt, sign).connect(operator_server.url))
    creds = user.creds()
    await assert_works(await ConnectOptions.with_credentials(creds).connect(operator_server.url))
    path = tmp_path / "user.creds"
    path.write_text(creds)
    await assert_works(
        await ConnectOptions.with_credentials_file(path).connect(operator_server.url)
    )
    await assert_works(
        await ConnectOptions.with_credentials_file(str(path)).connect(operator_server.url)
    )


async def test_with_auth_callback_connects(
    token_server: NatsServer,  # noqa: F811
) -> None:
    nonces: list[bytes] = []

    async def auth(nonce: bytes) -> natsrs.Auth:
        nonces.append(nonce)
        return natsrs.Auth(token=TOKEN)

    await assert_works(await ConnectOptions.with_auth_callback(auth).connect(token_server.url))
    assert nonces
