"""``JetStreamManager`` (``nc.jsm()``) against a real JetStream server, over both clients
(``natsrs.connect()``'s and ``natsrs.NATS()``), as nats-py's code uses it.

Every test has its own server on free ports (the ``js_server`` fixture); every wait is
bounded.
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

import pytest

import natsrs
import natsrs as nats
from helpers import WAIT, next_msg, w
from natsrs._server import NatsServer
from natsrs.js import api
from natsrs.js.errors import (
    APIError,
    BadRequestError,
    ConsumerInvalidResetError,
    NotFoundError,
    ServiceUnavailableError,
)
from natsrs.js.manager import JetStreamManager

pytestmark = pytest.mark.timeout(120)

UTC = datetime.timezone.utc


@pytest.fixture
def jsm(js_nc: Any) -> JetStreamManager:
    """``nc.jsm()`` of either client."""
    manager = js_nc.jsm()
    assert isinstance(manager, JetStreamManager)
    return manager


async def _put(nc: Any, subject: str, data: bytes, headers: dict[str, str] | None = None) -> int:
    """Publish into a stream and wait for its acknowledgement; the sequence."""
    reply = await w(nc.request(subject, data, timeout=WAIT, headers=headers))
    ack = api.PubAck.from_response(json.loads(reply.data))
    return ack.seq


async def _monitor(js_server: NatsServer) -> tuple[natsrs.Client, natsrs.Subscriber]:
    """Another client subscribed to every API request (the server answers them; this
    sees which subjects were asked)."""
    mon = await w(natsrs.connect(js_server.url))
    sub = await w(mon.subscribe("$JS.API.>"))
    await w(mon.flush())
    return mon, sub


# -- the manager itself ----------------------------------------------------------------------


async def test_jsm_comes_from_both_clients(js_nc: Any) -> None:
    manager = js_nc.jsm(prefix="$JS.hub.API", timeout=1.5)
    assert isinstance(manager, JetStreamManager)
    assert (manager._prefix, manager._timeout) == ("$JS.hub.API", 1.5)
    # The hub domain does not exist here: nobody answers its prefix.
    with pytest.raises(ServiceUnavailableError):
        await w(manager.account_info())
    info = await w(js_nc.jsm().account_info())
    assert isinstance(info, api.AccountInfo)


async def test_account_info_counts_streams_and_consumers(jsm: JetStreamManager) -> None:
    before = await w(jsm.account_info())
    assert isinstance(before.limits, api.AccountLimits)
    assert isinstance(before.api, api.APIStats) and before.api.errors == 0
    assert (before.streams, before.consumers) == (0, 0)
    await w(jsm.add_stream(name="S", subjects=["a"]))
    await w(jsm.add_consumer("S", durable_name="d"))
    after = await w(jsm.account_info())
    assert (after.streams, after.consumers) == (1, 1)
    assert after.api.total > before.api.total


async def test_account_info_without_jetstream_is_service_unavailable(nc: Any) -> None:
    with pytest.raises(ServiceUnavailableError) as info:
        await w(JetStreamManager(nc).account_info())
    assert isinstance(info.value, APIError) and isinstance(info.value, nats.errors.Error)


async def test_requests_wait_the_manager_s_timeout(js_nc: Any, js_server: NatsServer) -> None:
    # A subscriber that never answers stands in for a JetStream that does not reply.
    silent = await w(natsrs.connect(js_server.url))
    try:
        sub = await w(silent.subscribe("$JS.silent.API.>"))
        await w(silent.flush())
        manager = JetStreamManager(js_nc, prefix="$JS.silent.API", timeout=0.3)
        with pytest.raises(nats.errors.TimeoutError):
            await w(manager.account_info())
        assert (await next_msg(sub)).subject == "$JS.silent.API.INFO"
    finally:
        await w(silent.close())


# -- streams ---------------------------------------------------------------------------------


async def test_add_stream_from_config_and_keywords(jsm: JetStreamManager) -> None:
    config = api.StreamConfig(name="ORDERS", subjects=["orders.>"], max_age=3600)
    info = await w(
        jsm.add_stream(config, storage=api.StorageType.MEMORY, max_msgs=100, description="d")
    )
    assert info.did_create is True
    assert info.config.name == "ORDERS" and info.config.subjects == ["orders.>"]
    assert info.config.storage is api.StorageType.MEMORY
    assert info.config.max_age == 3600.0 and info.config.max_msgs == 100
    assert info.config.description == "d"
    assert info.state.messages == 0
    assert isinstance(info.created, datetime.datetime) and info.created.tzinfo is not None
    assert config.max_msgs is None  # the config given is not changed

    # The same configuration again is accepted; a different one is refused.
    again = await w(jsm.add_stream(info.config))
    assert again.config.max_msgs == 100
    with pytest.raises(BadRequestError) as refused:
        await w(jsm.add_stream(name="ORDERS", subjects=["other"]))
    assert refused.value.code == 400 and refused.value.err_code == 10058


async def test_update_stream_changes_the_config(jsm: JetStreamManager) -> None:
    info = await w(jsm.add_stream(name="S", subjects=["a"]))
    updated = await w(jsm.update_stream(info.config, max_msgs=5, subjects=["a", "b"]))
    assert updated.config.max_msgs == 5 and updated.config.subjects == ["a", "b"]
    assert (await w(jsm.stream_info("S"))).config.max_msgs == 5
    with pytest.raises(NotFoundError) as missing:
        await w(jsm.update_stream(name="NOPE", subjects=["z"]))
    assert missing.value.err_code == 10059


async def test_missing_stream_is_not_found_404_10059(jsm: JetStreamManager) -> None:
    with pytest.raises(NotFoundError) as info:
        await w(jsm.stream_info("NOPE"))
    err = info.value
    assert (err.code, err.err_code) == (404, 10059)
    assert err.description == "stream not found"
    assert str(err) == "nats: NotFoundError: code=404 err_code=10059 description='stream not found'"
    assert isinstance(err, nats.errors.JetStreamAPIError)
    with pytest.raises(NotFoundError):
        await w(jsm.delete_stream("NOPE"))
    with pytest.raises(NotFoundError):
        await w(jsm.purge_stream("NOPE"))


@pytest.mark.parametrize("name", ["", "a.b", "a*", "a>", "a b", "a\tb", "a\nb", "a/b", None])
async def test_bad_stream_names_raise_before_sending(
    jsm: JetStreamManager, js_server: NatsServer, name: Any
) -> None:
    await w(jsm.add_stream(name="GOOD", subjects=["g"]))
    mon, sub = await _monitor(js_server)
    try:
        calls = [
            lambda: jsm.add_stream(name=name, subjects=["x"]),
            lambda: jsm.update_stream(name=name, subjects=["x"]),
            lambda: jsm.stream_info(name),
            lambda: jsm.delete_stream(name),
            lambda: jsm.purge_stream(name),
            lambda: jsm.add_consumer(name, durable_name="c"),
            lambda: jsm.consumer_info(name, "c"),
            lambda: jsm.consumers_info(name),
            lambda: jsm.get_msg(name, 1),
            lambda: jsm.delete_msg(name, 1),
            lambda: jsm.consumer_info("GOOD", name),
            lambda: jsm.delete_consumer("GOOD", name),
            lambda: jsm.pause_consumer("GOOD", name, "2099-01-01T00:00:00Z"),
        ]
        if name:
            # An empty consumer name is no name (an ephemeral consumer), as in nats-py.
            calls.append(lambda: jsm.add_consumer("GOOD", name=name))
            calls.append(lambda: jsm.add_consumer("GOOD", durable_name=name))
        for call in calls:
            with pytest.raises(ValueError, match="name"):
                await w(call())
        # The first request the server sees is the one after them.
        await w(jsm.stream_info("GOOD"))
        assert (await next_msg(sub)).subject == "$JS.API.STREAM.INFO.GOOD"
    finally:
        await w(mon.close())


async def test_delete_stream(jsm: JetStreamManager) -> None:
    await w(jsm.add_stream(name="S", subjects=["a"]))
    assert await w(jsm.delete_stream("S")) is True
    with pytest.raises(NotFoundError):
        await w(jsm.stream_info("S"))


async def test_stream_info_subjects_filter(jsm: JetStreamManager, js_nc: Any) -> None:
    await w(jsm.add_stream(name="S", subjects=["a.>"]))
    for subject in ("a.x", "a.x", "a.y", "a.z.1"):
        await _put(js_nc, subject, b"m")
    plain = await w(jsm.stream_info("S"))
    assert plain.state.messages == 4 and plain.state.subjects is None
    assert (plain.state.first_seq, plain.state.last_seq) == (1, 4)
    filtered = await w(jsm.stream_info("S", subjects_filter="a.*"))
    assert filtered.state.subjects == {"a.x": 2, "a.y": 1}


async def test_find_stream_name_by_subject(jsm: JetStreamManager) -> None:
    await w(jsm.add_stream(name="ONE", subjects=["one.>"]))
    await w(jsm.add_stream(name="TWO", subjects=["two"]))
    assert await w(jsm.find_stream_name_by_subject("one.x.y")) == "ONE"
    assert await w(jsm.find_stream_name_by_subject("two")) == "TWO"
    with pytest.raises(NotFoundError):
        await w(jsm.find_stream_name_by_subject("three"))


async def test_streams_are_listed_in_pages_of_256(jsm: JetStreamManager) -> None:
    names = [f"S{i:03d}" for i in range(260)]
    for name in names:
        await w(jsm.add_stream(name=name, subjects=[f"p.{name}"], storage="memory"))

    first = await w(jsm.streams_info())
    rest = await w(jsm.streams_info(offset=256))
    assert len(first) == 256 and len(rest) == 4
    assert all(isinstance(info, api.StreamInfo) for info in first + rest)
    assert sorted(info.config.name or "" for info in first + rest) == names

    page = await w(jsm.streams_info_iterator(offset=256))
    assert (page.offset, page.total) == (256, 260)
    assert sorted(info.config.name or "" for info in page) == sorted(
        info.config.name or "" for info in rest
    )

    assert sorted(await w(jsm.stream_names(), 30)) == names
    assert await w(jsm.stream_names(subject="p.S007")) == ["S007"]


# -- purge -----------------------------------------------------------------------------------


async def _filled(jsm: JetStreamManager, nc: Any) -> None:
    await w(jsm.add_stream(name="S", subjects=["a", "b"]))
    for i in range(10):
        await _put(nc, "a" if i % 2 == 0 else "b", b"%d" % i)  # seq i+1


async def test_purge_everything(jsm: JetStreamManager, js_nc: Any) -> None:
    await _filled(jsm, js_nc)
    assert await w(jsm.purge_stream("S")) is True
    state = (await w(jsm.stream_info("S"))).state
    assert (state.messages, state.first_seq, state.last_seq) == (0, 11, 10)


async def test_purge_up_to_a_sequence(jsm: JetStreamManager, js_nc: Any) -> None:
    await _filled(jsm, js_nc)
    assert await w(jsm.purge_stream("S", seq=7)) is True
    state = (await w(jsm.stream_info("S"))).state
    assert (state.messages, state.first_seq) == (4, 7)


async def test_purge_a_subject(jsm: JetStreamManager, js_nc: Any) -> None:
    await _filled(jsm, js_nc)
    assert await w(jsm.purge_stream("S", subject="a")) is True
    info = await w(jsm.stream_info("S", subjects_filter=">"))
    assert info.state.subjects == {"b": 5}


async def test_purge_keeping_the_last(jsm: JetStreamManager, js_nc: Any) -> None:
    await _filled(jsm, js_nc)
    assert await w(jsm.purge_stream("S", keep=3)) is True
    state = (await w(jsm.stream_info("S"))).state
    assert (state.messages, state.first_seq) == (3, 8)
    assert await w(jsm.purge_stream("S", subject="b", keep=1)) is True
    info = await w(jsm.stream_info("S", subjects_filter=">"))
    assert info.state.subjects == {"a": 1, "b": 1}
    with pytest.raises(BadRequestError):
        await w(jsm.purge_stream("S", seq=9, keep=1))


# -- consumers -------------------------------------------------------------------------------


async def test_add_consumer_chooses_nats_py_s_subject(
    jsm: JetStreamManager, js_server: NatsServer
) -> None:
    await w(jsm.add_stream(name="S", subjects=["a.>"]))
    mon, sub = await _monitor(js_server)
    try:
        cases = [
            ({"name": "n1", "filter_subject": "a.x"}, "$JS.API.CONSUMER.CREATE.S.n1.a.x"),
            ({"name": "n2", "filter_subject": ">"}, "$JS.API.CONSUMER.CREATE.S.n2"),
            ({"name": "n3", "durable_name": "n3"}, "$JS.API.CONSUMER.CREATE.S.n3"),
            ({"durable_name": "d1"}, "$JS.API.CONSUMER.DURABLE.CREATE.S.d1"),
            ({}, "$JS.API.CONSUMER.CREATE.S"),
        ]
        for params, subject in cases:
            info = await w(jsm.add_consumer("S", **params))
            request = await next_msg(sub)
            assert request.subject == subject, params
            body = json.loads(request.data)
            assert body["stream_name"] == "S"
            assert info.stream_name == "S"
            if "name" in params:
                assert info.name == params["name"]
        assert len(await w(jsm.consumers_info("S"))) == 5
    finally:
        await w(mon.close())


async def test_consumer_config_round_trips_through_the_server(jsm: JetStreamManager) -> None:
    await w(jsm.add_stream(name="S", subjects=["a.>"]))
    start = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    config = api.ConsumerConfig(
        durable_name="d",
        deliver_policy=api.DeliverPolicy.BY_START_TIME,
        opt_start_time=start,
        ack_wait=2.5,
        max_deliver=3,
        filter_subjects=["a.x", "a.y"],
        inactive_threshold=60,
        metadata={"team": "t"},
        description="desc",
    )
    info = await w(jsm.add_consumer("S", config))
    assert info.name == "d" and info.config.durable_name == "d"
    assert info.config.ack_wait == 2.5 and info.config.max_deliver == 3
    assert info.config.deliver_policy is api.DeliverPolicy.BY_START_TIME
    assert info.config.opt_start_time == start
    assert info.config.ack_policy is api.AckPolicy.EXPLICIT
    assert info.config.filter_subjects == ["a.x", "a.y"]
    assert info.config.inactive_threshold == 60.0
    assert info.config.metadata is not None and info.config.metadata["team"] == "t"
    assert info.delivered is not None and info.ack_floor is not None
    assert info.created.tzinfo is not None

    # The server makes the first backoff delay the ack wait.
    backoff = await w(jsm.add_consumer("S", durable_name="b", backoff=[0.5, 2.0], max_deliver=3))
    assert backoff.config.backoff == [0.5, 2.0] and backoff.config.ack_wait == 0.5


async def test_consumer_info_list_and_delete(jsm: JetStreamManager) -> None:
    await w(jsm.add_stream(name="S", subjects=["a"]))
    for i in range(3):
        await w(jsm.add_consumer("S", durable_name=f"c{i}"))
    info = await w(jsm.consumer_info("S", "c1"))
    assert (info.name, info.stream_name, info.num_pending) == ("c1", "S", 0)
    every = await w(jsm.consumers_info("S"))
    assert sorted(c.name for c in every) == ["c0", "c1", "c2"]
    assert len(await w(jsm.consumers_info("S", offset=2))) == 1
    assert await w(jsm.delete_consumer("S", "c1")) is True
    with pytest.raises(NotFoundError) as missing:
        await w(jsm.consumer_info("S", "c1"))
    assert (missing.value.code, missing.value.err_code) == (404, 10014)
    with pytest.raises(NotFoundError):
        await w(jsm.delete_consumer("S", "c1"))
    with pytest.raises(NotFoundError):
        await w(jsm.add_consumer("NOPE", durable_name="c"))


async def test_pause_and_resume_a_consumer(jsm: JetStreamManager) -> None:
    await w(jsm.add_stream(name="S", subjects=["a"]))
    await w(jsm.add_consumer("S", durable_name="c"))
    until = datetime.datetime.now(UTC) + datetime.timedelta(hours=1)
    paused = await w(jsm.pause_consumer("S", "c", until))
    assert isinstance(paused, api.ConsumerPause) and paused.paused is True
    assert paused.pause_until is not None
    assert api.Base._parse_utc_iso(paused.pause_until) == until
    info = await w(jsm.consumer_info("S", "c"))
    assert info.paused is True
    assert info.pause_remaining is not None and info.pause_remaining > 0

    resumed = await w(jsm.resume_consumer("S", "c"))
    assert resumed.paused is False
    assert not (await w(jsm.consumer_info("S", "c"))).paused

    # nats-py's form: an RFC 3339 string.
    again = await w(jsm.pause_consumer("S", "c", "2099-01-01T00:00:00Z"))
    assert again.paused is True
    with pytest.raises(NotFoundError):
        await w(jsm.pause_consumer("S", "nope", "2099-01-01T00:00:00Z"))


async def test_reset_a_consumer(jsm: JetStreamManager, js_nc: Any) -> None:
    await w(jsm.add_stream(name="S", subjects=["a"]))
    for i in range(8):
        await _put(js_nc, "a", b"%d" % i)
    await w(
        jsm.add_consumer(
            "S",
            durable_name="c",
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=4,
        )
    )
    reset = await w(jsm.reset_consumer("S", "c", seq=6))
    assert isinstance(reset, api.ConsumerReset)
    assert reset.reset_seq == 6 and reset.info.name == "c"
    assert reset.info.num_pending == 3
    with pytest.raises(ConsumerInvalidResetError) as below:
        await w(jsm.reset_consumer("S", "c", seq=2))
    assert below.value.err_code == 10204 and isinstance(below.value, BadRequestError)


# -- messages --------------------------------------------------------------------------------


async def test_get_msg_reads_the_stored_message_and_headers(
    jsm: JetStreamManager, js_nc: Any
) -> None:
    await w(jsm.add_stream(name="S", subjects=["a.>"]))
    seq = await _put(js_nc, "a.1", b"payload", headers={"X-One": "1", "X-Two": "two words"})
    await _put(js_nc, "a.2", b"")

    msg = await w(jsm.get_msg("S", seq))
    assert (msg.subject, msg.seq, msg.data) == ("a.1", seq, b"payload")
    assert msg.headers == {"X-One": "1", "X-Two": "two words"}
    assert msg.header is msg.headers and msg.sequence == seq
    # hdrs is the header block as the server encoded it (nats-py keeps it so too).
    assert msg.hdrs is not None
    assert base64.b64decode(msg.hdrs).startswith(b"NATS/1.0\r\n")
    assert isinstance(msg.time, datetime.datetime) and msg.time.tzinfo is not None

    empty = await w(jsm.get_msg("S", seq + 1))
    assert empty.data is None and empty.headers is None  # nats-py's reading

    last = await w(jsm.get_last_msg("S", "a.1"))
    assert (last.seq, last.data) == (seq, b"payload")

    with pytest.raises(NotFoundError) as missing:
        await w(jsm.get_msg("S", 99))
    assert (missing.value.code, missing.value.err_code) == (404, 10037)
    with pytest.raises(NotFoundError):
        await w(jsm.get_last_msg("S", "a.none"))


async def test_get_msg_by_subject_and_next(jsm: JetStreamManager, js_nc: Any) -> None:
    await w(jsm.add_stream(name="S", subjects=["a.>"], allow_direct=True))
    for i in range(6):
        await _put(js_nc, f"a.{i % 2}", b"%d" % i)  # a.0: 1 3 5, a.1: 2 4 6
    for direct in (False, True):
        assert (await w(jsm.get_msg("S", subject="a.0", direct=direct))).seq == 5
        nxt = await w(jsm.get_msg("S", seq=3, subject="a.1", next=True, direct=direct))
        assert (nxt.seq, nxt.subject, nxt.data) == (4, "a.1", b"3")
        with pytest.raises(NotFoundError):
            await w(jsm.get_msg("S", seq=7, subject="a.1", next=True, direct=direct))


async def test_direct_get_reads_headers_from_the_reply(
    jsm: JetStreamManager, js_nc: Any, js_server: NatsServer
) -> None:
    await w(jsm.add_stream(name="S", subjects=["a.>"], allow_direct=True))
    seq = await _put(js_nc, "a.1", b"payload", headers={"X-One": "1"})
    mon, sub = await _monitor(js_server)
    try:
        msg = await w(jsm.get_msg("S", seq, direct=True))
        assert (await next_msg(sub)).subject == "$JS.API.DIRECT.GET.S"
        assert (msg.subject, msg.seq, msg.data, msg.stream) == ("a.1", seq, b"payload", "S")
        assert msg.headers is not None
        assert msg.headers["X-One"] == "1"
        assert msg.headers["Nats-Sequence"] == str(seq) and msg.headers["Nats-Stream"] == "S"
        assert isinstance(msg.time, datetime.datetime) and msg.time.tzinfo is not None

        last = await w(jsm.get_last_msg("S", "a.1", direct=True))
        assert (await next_msg(sub)).subject == "$JS.API.DIRECT.GET.S.a.1"
        assert (last.seq, last.data) == (seq, b"payload")

        with pytest.raises(NotFoundError) as missing:
            await w(jsm.get_msg("S", 42, direct=True))
        assert missing.value.code == 404
    finally:
        await w(mon.close())


async def test_direct_get_without_allow_direct_has_no_responders(
    jsm: JetStreamManager, js_nc: Any
) -> None:
    await w(jsm.add_stream(name="S", subjects=["a"]))
    await _put(js_nc, "a", b"x")
    # nats-py sends direct gets outside its API error mapping: no responders stays so.
    with pytest.raises(nats.errors.NoRespondersError):
        await w(jsm.get_msg("S", 1, direct=True))


async def test_delete_msg(jsm: JetStreamManager, js_nc: Any) -> None:
    await w(jsm.add_stream(name="S", subjects=["a"]))
    for i in range(3):
        await _put(js_nc, "a", b"%d" % i)
    assert await w(jsm.delete_msg("S", 2)) is True
    with pytest.raises(NotFoundError):
        await w(jsm.get_msg("S", 2))
    state = (await w(jsm.stream_info("S"))).state
    assert (state.messages, state.num_deleted) == (2, 1)
    with pytest.raises(BadRequestError):
        await w(jsm.delete_msg("S", 2))
