"""Bad input raises the documented ``natsrs.errors`` class and leaves the client usable."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import pytest

import natsrs
from helpers import assert_works, connz_entry, next_msg, w
from natsrs import ConnectOptions, HeaderMap, errors
from natsrs._server import NatsServer

if TYPE_CHECKING:
    from conftest import ClientFactory


# -- subjects ------------------------------------------------------------------------------

BAD_SUBJECTS = ["", " ", "a b", "a\tb", "a\r\nb", "a..b", ".a", "a.", "a.>.b"]
BAD_SUBJECT_IDS = ["empty", "space", "inner-space", "tab", "crlf", "a..b", ".a", "a.", "a.>.b"]

SUBJECT_CALLS: dict[str, Callable[[natsrs.Client, str], Awaitable[object]]] = {
    "publish": lambda c, s: c.publish(s, b"x"),
    "publish_with_reply": lambda c, s: c.publish_with_reply(s, "reply.to", b"x"),
    "publish_with_headers": lambda c, s: c.publish_with_headers(s, {"K": "v"}, b"x"),
    "subscribe": lambda c, s: c.subscribe(s),
    "queue_subscribe": lambda c, s: c.queue_subscribe(s, "workers"),
    "request": lambda c, s: c.request(s, b"x", timeout=1.0),
}


@pytest.mark.parametrize("subject", BAD_SUBJECTS, ids=BAD_SUBJECT_IDS)
@pytest.mark.parametrize("operation", sorted(SUBJECT_CALLS))
async def test_invalid_subject_raises_bad_subject(
    client: natsrs.Client, operation: str, subject: str
) -> None:
    with pytest.raises(errors.BadSubjectError):
        await w(SUBJECT_CALLS[operation](client, subject))

    await assert_works(client)


@pytest.mark.parametrize("reply", ["a b", "a\r\nb", "a..b"], ids=["space", "crlf", "a..b"])
async def test_invalid_reply_subject_raises_bad_subject(client: natsrs.Client, reply: str) -> None:
    with pytest.raises(errors.BadSubjectError):
        await w(client.publish("valid", b"x", reply=reply))

    await assert_works(client)


@pytest.mark.parametrize(
    ("subject", "published"),
    [("a.*", "a.x"), ("a.>", "a.x.y"), (">", "x.y"), ("*.b", "x.b"), ("_INBOX.x.y", "_INBOX.x.y")],
)
async def test_wildcard_subjects_are_valid_for_subscribe(
    client: natsrs.Client, subject: str, published: str
) -> None:
    sub = await w(client.subscribe(subject))

    assert sub.subject == subject
    # The server took the subscription: a message on a matching subject reaches it.
    await w(client.publish(published, b"matched"))
    msg = await next_msg(sub)
    assert (msg.subject, msg.payload) == (published, b"matched")
    await assert_works(client)


# What the server received from a client: its /connz payload byte count, read after a
# flush() (a round trip through the server). The payload is far larger than flush()'s own
# probe, so a difference of its size can only be the message itself.
SKIPPED_PAYLOAD = b"s" * 1000


async def received_bytes(server: NatsServer, nc: natsrs.Client) -> int:
    await w(nc.flush())
    count: int = connz_entry(server, nc)["in_bytes"]
    return count


@pytest.mark.parametrize("subject", ["a..b", ".a", "a.", "a.>.b"])
async def test_skip_subject_validation_lets_publish_through(
    nats_server: NatsServer, client_factory: ClientFactory, subject: str
) -> None:
    nc = await client_factory(nats_server.url, ConnectOptions().skip_subject_validation())
    before = await received_bytes(nats_server, nc)

    await w(nc.publish(subject, SKIPPED_PAYLOAD))  # no BadSubjectError

    # The server got the message (it routes none of these subjects but "a.>.b", so a
    # subscriber could not tell), and the connection survived it.
    assert await received_bytes(nats_server, nc) - before >= len(SKIPPED_PAYLOAD)
    await assert_works(nc)


async def test_skip_subject_validation_still_rejects_whitespace(
    nats_server: NatsServer, client_factory: ClientFactory
) -> None:
    # Whitespace would break the protocol line, so it is refused even then.
    nc = await client_factory(nats_server.url, ConnectOptions().skip_subject_validation())
    before = await received_bytes(nats_server, nc)

    with pytest.raises(errors.BadSubjectError):
        await w(nc.publish("a b", SKIPPED_PAYLOAD))

    received = await received_bytes(nats_server, nc) - before
    assert received < len(SKIPPED_PAYLOAD), "the refused message reached the server"
    await assert_works(nc)


# -- queue groups ----------------------------------------------------------------------------

BAD_QUEUES = ["", " ", "a b", "a\tb", "a\r\nb"]
BAD_QUEUE_IDS = ["empty", "space", "inner-space", "tab", "crlf"]


@pytest.mark.parametrize("queue", BAD_QUEUES[1:], ids=BAD_QUEUE_IDS[1:])
async def test_invalid_queue_in_subscribe_raises_bad_queue(
    client: natsrs.Client, queue: str
) -> None:
    with pytest.raises(errors.BadQueueError):
        await w(client.subscribe("jobs", queue=queue))

    await assert_works(client)


async def test_empty_queue_in_subscribe_means_no_queue_group_as_in_nats_py(
    client: natsrs.Client, nats_server: NatsServer
) -> None:
    first = await w(client.subscribe("jobs.plain", queue=""))
    second = await w(client.subscribe("jobs.plain", queue=""))
    assert first.queue == second.queue == ""

    # Not a group: each subscription gets every message, and the server lists no group.
    await w(client.publish("jobs.plain", b"to both"))
    assert (await next_msg(first)).payload == b"to both"
    assert (await next_msg(second)).payload == b"to both"
    listed = nats_server.subsz({"subs": 1}).get("subscriptions_list") or []
    plain = [sub for sub in listed if sub.get("subject") == "jobs.plain"]
    assert len(plain) == 2 and not any(sub.get("qgroup") for sub in plain), plain
    await assert_works(client)


@pytest.mark.parametrize("queue", BAD_QUEUES, ids=BAD_QUEUE_IDS)
async def test_invalid_queue_in_queue_subscribe_raises_bad_queue(
    client: natsrs.Client, queue: str
) -> None:
    with pytest.raises(errors.BadQueueError):
        await w(client.queue_subscribe("jobs", queue))

    await assert_works(client)


# -- headers -------------------------------------------------------------------------------

BAD_HEADER_NAMES = ["a:b", "X-Caf\u00e9", "a b", "tab\tname", "new\nline"]
BAD_HEADER_NAME_IDS = ["colon", "non-ascii", "space", "tab", "newline"]
BAD_HEADER_VALUES = ["a\rb", "a\nb", "a\r\nInjected: yes"]
BAD_HEADER_VALUE_IDS = ["cr", "lf", "crlf-injection"]

HEADER_MAP_CALLS: dict[str, Callable[[str, str], object]] = {
    "constructor": lambda name, value: HeaderMap({name: value}),
    "constructor-list": lambda name, value: HeaderMap({name: ["ok", value]}),
    "insert": lambda name, value: HeaderMap().insert(name, value),
    "append": lambda name, value: HeaderMap().append(name, value),
    "setitem": lambda name, value: HeaderMap().__setitem__(name, value),
}


@pytest.mark.parametrize("name", BAD_HEADER_NAMES, ids=BAD_HEADER_NAME_IDS)
@pytest.mark.parametrize("operation", sorted(HEADER_MAP_CALLS))
def test_header_map_rejects_invalid_name(operation: str, name: str) -> None:
    with pytest.raises(errors.BadHeaderError):
        HEADER_MAP_CALLS[operation](name, "value")


@pytest.mark.parametrize("value", BAD_HEADER_VALUES, ids=BAD_HEADER_VALUE_IDS)
@pytest.mark.parametrize("operation", sorted(HEADER_MAP_CALLS))
def test_header_map_rejects_value_with_cr_or_lf(operation: str, value: str) -> None:
    with pytest.raises(errors.BadHeaderError):
        HEADER_MAP_CALLS[operation]("X-Name", value)


HEADER_CALLS: dict[str, Callable[[natsrs.Client, dict[str, Any]], Awaitable[object]]] = {
    "publish": lambda c, h: c.publish("hdr", b"x", headers=h),
    "publish_with_headers": lambda c, h: c.publish_with_headers("hdr", h, b"x"),
    "publish_with_reply_and_headers": lambda c, h: c.publish_with_reply_and_headers(
        "hdr", "reply.to", h, b"x"
    ),
    "request": lambda c, h: c.request("hdr", b"x", headers=h, timeout=1.0),
}

BAD_HEADER_DICTS = (
    [{name: "v"} for name in BAD_HEADER_NAMES]
    + [{"X-Name": value} for value in BAD_HEADER_VALUES]
    + [{"X-Name": ["ok", "a\r\nb"]}]
)
BAD_HEADER_DICT_IDS = [
    *(f"name-{i}" for i in BAD_HEADER_NAME_IDS),
    *(f"value-{i}" for i in BAD_HEADER_VALUE_IDS),
    "second-value-crlf",
]


@pytest.mark.parametrize("headers", BAD_HEADER_DICTS, ids=BAD_HEADER_DICT_IDS)
@pytest.mark.parametrize("operation", sorted(HEADER_CALLS))
async def test_invalid_dict_headers_raise_bad_header(
    client: natsrs.Client, operation: str, headers: dict[str, Any]
) -> None:
    with pytest.raises(errors.BadHeaderError):
        await w(HEADER_CALLS[operation](client, headers))

    await assert_works(client)


# -- payloads ------------------------------------------------------------------------------

BAD_PAYLOADS: list[object] = ["text", 5, None, 1.5, [1, 2]]
BAD_PAYLOAD_IDS = ["str", "int", "None", "float", "list"]

PAYLOAD_CALLS: dict[str, Callable[[natsrs.Client, Any], Awaitable[object]]] = {
    "publish": lambda c, p: c.publish("payload", p),
    "publish_with_reply": lambda c, p: c.publish_with_reply("payload", "reply.to", p),
    "publish_with_headers": lambda c, p: c.publish_with_headers("payload", {"K": "v"}, p),
    "request": lambda c, p: c.request("payload", p, timeout=1.0),
}


@pytest.mark.parametrize("payload", BAD_PAYLOADS, ids=BAD_PAYLOAD_IDS)
@pytest.mark.parametrize("operation", sorted(PAYLOAD_CALLS))
async def test_payload_of_wrong_type_raises_type_error(
    client: natsrs.Client, operation: str, payload: object
) -> None:
    with pytest.raises(TypeError):
        await w(PAYLOAD_CALLS[operation](client, payload))

    await assert_works(client)


@pytest.mark.parametrize("payload", BAD_PAYLOADS, ids=BAD_PAYLOAD_IDS)
async def test_respond_payload_of_wrong_type_raises_type_error(
    client: natsrs.Client, payload: object
) -> None:
    sub = await w(client.subscribe("svc"))
    await w(client.publish("svc", b"q", reply="reply.to"))
    msg = await next_msg(sub)

    with pytest.raises(TypeError):
        await w(msg.respond(payload))  # type: ignore[arg-type]

    await assert_works(client)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"bytes", b"bytes"),
        (bytearray(b"bytearray"), b"bytearray"),
        (memoryview(b"memoryview"), b"memoryview"),
        (memoryview(b"0123456789")[2:5], b"234"),
        (b"", b""),
    ],
    ids=["bytes", "bytearray", "memoryview", "memoryview-slice", "empty"],
)
async def test_bytes_like_payloads_are_delivered(
    client: natsrs.Client, payload: bytes | bytearray | memoryview, expected: bytes
) -> None:
    sub = await w(client.subscribe("payload"))

    await w(client.publish("payload", payload))

    msg = await next_msg(sub)
    assert msg.payload == expected
    assert type(msg.payload) is bytes


async def test_bytearray_payload_is_copied_at_publish(client: natsrs.Client) -> None:
    sub = await w(client.subscribe("payload"))
    data = bytearray(b"original")

    await w(client.publish("payload", data))
    data[:] = b"changed!"

    assert (await next_msg(sub)).payload == b"original"


async def test_respond_without_reply_subject_raises_no_reply_subject(
    client: natsrs.Client,
) -> None:
    sub = await w(client.subscribe("plain"))
    await w(client.publish("plain", b"no reply"))
    msg = await next_msg(sub)

    with pytest.raises(errors.NoReplySubjectError):
        await w(msg.respond(b"answer"))

    await assert_works(client)


@pytest.mark.parametrize(
    "servers",
    ["nats://127.0.0.1:notaport", "nats://127.0.0.1:99999", ["nats://127.0.0.1:notaport"]],
    ids=["port-not-a-number", "port-out-of-range", "in-a-list"],
)
async def test_unparsable_server_address_raises_invalid_server_address(
    servers: str | list[str],
) -> None:
    with pytest.raises(errors.InvalidServerAddressError):
        await w(natsrs.connect(servers))


# -- the exception tree ----------------------------------------------------------------------


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_class_derives_from_natsrs_error(name: str) -> None:
    cls = getattr(errors, name)

    assert isinstance(cls, type)
    assert issubclass(cls, errors.Error)
    assert issubclass(cls, Exception)


def test_timeout_error_is_builtin_and_asyncio_timeout_error() -> None:
    assert issubclass(errors.TimeoutError, TimeoutError)
    assert issubclass(errors.TimeoutError, asyncio.TimeoutError)
    for cls in (errors.FlushTimeoutError, errors.DrainTimeoutError, errors.ConnectTimeoutError):
        assert issubclass(cls, errors.TimeoutError), cls


@pytest.mark.parametrize(
    "cls",
    [
        errors.BadSubjectError,
        errors.BadQueueError,
        errors.BadHeaderError,
        errors.MaxPayloadError,
        errors.NoReplySubjectError,
        errors.InvalidServerAddressError,
    ],
)
def test_input_errors_are_value_errors(cls: type[errors.Error]) -> None:
    assert issubclass(cls, ValueError)


@pytest.mark.parametrize(
    "cls",
    [
        errors.NoServersError,
        errors.ConnectTimeoutError,
        errors.AuthorizationError,
        errors.TlsError,
        errors.InvalidServerAddressError,
    ],
)
def test_connection_failures_are_connect_errors(cls: type[errors.Error]) -> None:
    assert issubclass(cls, errors.ConnectError)


def test_tls_error_is_an_ssl_error_with_a_readable_message() -> None:
    import ssl

    error = errors.TlsError("invalid peer certificate: UnknownIssuer")
    assert isinstance(error, ssl.SSLError)
    assert isinstance(error, OSError)
    assert isinstance(error, errors.ConnectError)
    assert str(error) == "invalid peer certificate: UnknownIssuer"


def test_bad_queue_error_is_a_bad_subject_error() -> None:
    assert issubclass(errors.BadQueueError, errors.BadSubjectError)


def test_the_nats_py_client_module_names_the_release_it_mirrors() -> None:
    from natsrs.aio import client

    assert client.__version__.count(".") == 2
    assert client.__version__ != natsrs.__version__
