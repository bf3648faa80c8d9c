"""``natsrs.js.api`` and ``natsrs.js.errors``: nats-py's JetStream data classes and errors.

Pure Python, no server: responses shaped as the server sends them are read with
``from_response`` and written back with ``as_dict``. Where nats-py is installed its own
classes are the reference for names, fields, defaults, bases and messages.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import enum
import inspect
import json
import os
import subprocess
import sys
from typing import Any

import pytest

import natsrs
import natsrs as nats
from natsrs.js import api
from natsrs.js import errors as js_errors

UTC = datetime.timezone.utc
NS = 1_000_000_000


def _public(module: Any) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_")
        and getattr(value, "__module__", module.__name__) == module.__name__
        and (isinstance(value, type) or name.isupper())
    }


# -- nats-py's surface -----------------------------------------------------------------------


def test_api_has_every_public_name_field_and_default_of_nats_py() -> None:
    theirs_module = pytest.importorskip("nats.js.api")
    theirs = _public(theirs_module)
    assert len(theirs) > 50  # the reading works at all
    for name, their in theirs.items():
        ours = getattr(api, name, None)
        assert ours is not None, f"natsrs.js.api lacks {name}"
        assert name in api.__all__, name
        if not isinstance(their, type):
            assert ours == their, name
        elif issubclass(their, enum.Enum):
            assert {m.name: m.value for m in ours} == {m.name: m.value for m in their}, name
            assert issubclass(ours, str), name
        elif dataclasses.is_dataclass(their) and dataclasses.fields(their):
            their_fields = [(f.name, f.default) for f in dataclasses.fields(their)]
            if dataclasses.is_dataclass(ours):
                our_fields = [(f.name, f.default) for f in dataclasses.fields(ours)]
            else:
                # An extension class (PubAck): its constructor's parameters.
                parameters = inspect.signature(ours).parameters.values()
                our_fields = [
                    (p.name, dataclasses.MISSING if p.default is p.empty else p.default)
                    for p in parameters
                ]
            assert our_fields == their_fields, name


def test_errors_have_every_class_and_base_of_nats_py() -> None:
    theirs_module = pytest.importorskip("nats.js.errors")
    nats_errors = pytest.importorskip("nats.errors")
    theirs = {
        name: cls
        for name, cls in vars(theirs_module).items()
        if isinstance(cls, type) and issubclass(cls, Exception)
    }
    assert "KeyDeletedError" in theirs
    for name, cls in theirs.items():
        ours = getattr(js_errors, name, None)
        assert ours is not None, f"natsrs.js.errors lacks {name}"
        for base_name, base in theirs.items():
            if issubclass(cls, base):
                assert issubclass(ours, getattr(js_errors, base_name)), (name, base_name)
        if issubclass(cls, nats_errors.TimeoutError):
            assert issubclass(ours, natsrs.errors.TimeoutError), name


def test_error_messages_are_nats_py_s() -> None:
    theirs = pytest.importorskip("nats.js.errors")
    cases: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = [
        ("Error", (), {}),
        ("Error", ("what went wrong",), {}),
        ("APIError", (), {"code": 400, "err_code": 10058, "description": "stream name in use"}),
        ("NotFoundError", (), {"code": 404, "err_code": 10059, "description": "not found"}),
        ("ServiceUnavailableError", (), {}),
        ("NoStreamResponseError", (), {}),
        ("TooManyStalledMsgsError", (), {}),
        ("FetchTimeoutError", (), {}),
        ("ConsumerSequenceMismatchError", (10, 3, 7), {}),
        ("KeyDeletedError", (), {}),
        ("KeyNotFoundError", (), {}),
        ("KeyNotFoundError", (), {"message": "expected 'a', but got 'b'"}),
        ("KeyWrongLastSequenceError", ("wrong last sequence: 4",), {}),
        ("NoKeysError", (), {}),
        ("KeyHistoryTooLargeError", (), {}),
        ("InvalidKeyError", ("bad key",), {}),
        ("InvalidBucketNameError", (), {}),
        ("ObjectNotFoundError", (), {}),
        ("ObjectAlreadyExists", (), {}),
        ("KeyValueLimitMarkerTTLNotSupportedError", (), {}),
    ]
    for name, args, kwargs in cases:
        ours = getattr(js_errors, name)(*args, **kwargs)
        assert str(ours) == str(getattr(theirs, name)(*args, **kwargs)), name


# -- errors ----------------------------------------------------------------------------------


def test_jetstream_errors_are_in_natsrs_error_tree() -> None:
    e = natsrs.errors
    assert js_errors.Error is e.JetStreamError
    assert js_errors.APIError is e.JetStreamAPIError
    assert issubclass(e.JetStreamError, e.Error)
    assert issubclass(e.JetStreamAPIError, e.JetStreamError)
    assert {"JetStreamError", "JetStreamAPIError", "MsgAlreadyAckdError"} <= set(e.__all__)
    for name in js_errors.__all__:
        cls = getattr(js_errors, name)
        assert issubclass(cls, e.Error), name
        if name != "FetchTimeoutError":
            assert issubclass(cls, e.JetStreamError), name
    assert issubclass(js_errors.FetchTimeoutError, TimeoutError)
    assert js_errors.MsgAlreadyAckdError is e.MsgAlreadyAckdError
    assert js_errors.NotJSMessageError is e.NotJSMessageError
    assert str(e.MsgAlreadyAckdError("m")) == "nats: message was already acknowledged: m"
    assert str(e.NotJSMessageError()) == "nats: not a JetStream message"


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (503, js_errors.ServiceUnavailableError),
        (500, js_errors.ServerError),
        (404, js_errors.NotFoundError),
        (400, js_errors.BadRequestError),
        (409, js_errors.APIError),
    ],
)
def test_from_error_raises_the_class_of_the_code(code: int, cls: type[Exception]) -> None:
    err = {"code": code, "err_code": 10000 + code, "description": "some text"}
    with pytest.raises(js_errors.APIError) as info:
        js_errors.APIError.from_error(err)
    assert type(info.value) is cls
    assert info.value.code == code
    assert info.value.err_code == 10000 + code
    assert info.value.description == "some text"
    assert info.value.stream is None and info.value.seq is None
    # nats-py's class names, APIError for the base.
    name = "APIError" if cls is js_errors.APIError else cls.__name__
    assert str(info.value) == (
        f"nats: {name}: code={code} err_code={10000 + code} description='some text'"
    )
    # The base in natsrs.errors is the same entry point.
    with pytest.raises(cls):
        natsrs.errors.JetStreamAPIError.from_error(err)


def test_from_error_ignores_fields_a_newer_server_adds() -> None:
    err = {"code": 404, "err_code": 10059, "description": "d", "stream": "S", "seq": 3, "x": 1}
    with pytest.raises(js_errors.NotFoundError) as info:
        js_errors.APIError.from_error(err)
    assert (info.value.stream, info.value.seq) == ("S", 3)


def test_from_error_is_typed_by_code_not_description() -> None:
    with pytest.raises(js_errors.APIError) as info:
        js_errors.APIError.from_error({"code": 400, "description": "stream not found"})
    assert type(info.value) is js_errors.BadRequestError


class _StatusMsg:
    def __init__(self, headers: dict[str, str] | None, status: int | None = None) -> None:
        self.headers = headers
        self.status = status
        self.description = None if headers is None else headers.get("Description")
        self.data = b""


def test_from_msg_reads_the_status_from_headers_or_the_message() -> None:
    with pytest.raises(js_errors.ServiceUnavailableError):
        js_errors.APIError.from_msg(_StatusMsg({"Status": "503"}))
    with pytest.raises(js_errors.APIError) as info:
        js_errors.APIError.from_msg(_StatusMsg({"Status": "408", "Description": "timeout"}))
    assert (type(info.value), info.value.code) == (js_errors.APIError, 408)
    assert info.value.description == "timeout"
    # natsrs's own Message keeps the status out of the headers.
    with pytest.raises(js_errors.APIError) as info:
        js_errors.APIError.from_msg(_StatusMsg({}, status=409))
    assert info.value.code == 409
    with pytest.raises(js_errors.APIError) as info:
        js_errors.APIError.from_msg(_StatusMsg(None))
    assert info.value.code is None


def test_kv_errors_keep_their_entry_and_api_fields() -> None:
    deleted = js_errors.KeyDeletedError(entry="e", op="DEL")
    assert (deleted.entry, deleted.op, deleted.code) == ("e", "DEL", None)
    assert isinstance(deleted, js_errors.NotFoundError)
    assert isinstance(deleted, js_errors.KeyValueError)
    wrong = js_errors.KeyWrongLastSequenceError(description="wrong last sequence: 1")
    assert isinstance(wrong, js_errors.BadRequestError)
    assert wrong.description == "wrong last sequence: 1"
    mismatch = js_errors.ConsumerSequenceMismatchError(10, 3, 7)
    assert "(4 sequences behind)" in str(mismatch)
    assert mismatch.stream_resume_sequence == 10


# -- durations, times, enums -----------------------------------------------------------------


def _stream_config_response() -> dict[str, Any]:
    return {
        "name": "ORDERS",
        "subjects": ["orders.>"],
        "retention": "workqueue",
        "max_consumers": -1,
        "max_msgs": 1000,
        "max_bytes": -1,
        "discard": "new",
        "max_age": 90 * NS,
        "max_msgs_per_subject": -1,
        "max_msg_size": -1,
        "storage": "memory",
        "num_replicas": 1,
        "duplicate_window": 120 * NS,
        "compression": "s2",
        "placement": {"cluster": "c1", "tags": ["a"], "future_field": 1},
        "sources": [
            {
                "name": "UP",
                "opt_start_time": "2024-05-06T07:08:09.123456789Z",
                "external": {"api": "$JS.hub.API", "deliver": ""},
                "subject_transforms": [{"src": "a.>", "dest": "b.>"}],
            }
        ],
        "republish": {"src": ">", "dest": "repub.>"},
        "subject_transform": {"src": "orders.*", "dest": "o.{{wildcard(1)}}"},
        "consumer_limits": {"inactive_threshold": 5 * NS, "max_ack_pending": 10},
        "subject_delete_marker_ttl": 2 * NS,
        "metadata": {"owner": "team"},
        "a_field_from_a_newer_server": {"nested": True},
    }


def test_stream_config_reads_durations_times_enums_and_nested_classes() -> None:
    resp = _stream_config_response()
    before = copy.deepcopy(resp)
    config = api.StreamConfig.from_response(resp)
    assert resp == before  # the response is not modified
    assert config.max_age == 90.0 and config.duplicate_window == 120.0
    assert config.subject_delete_marker_ttl == 2.0
    assert config.retention is api.RetentionPolicy.WORK_QUEUE
    assert config.discard is api.DiscardPolicy.NEW
    assert config.storage is api.StorageType.MEMORY
    assert config.compression is api.StoreCompression.S2
    assert config.placement == api.Placement(cluster="c1", tags=["a"])
    assert config.republish == api.RePublish(src=">", dest="repub.>")
    assert config.consumer_limits == api.StreamConsumerLimits(5.0, 10)
    assert config.subject_transform == api.SubjectTransform("orders.*", "o.{{wildcard(1)}}")
    assert config.sources is not None
    source = config.sources[0]
    assert source.external == api.ExternalStream(api="$JS.hub.API", deliver="")
    assert source.subject_transforms == [api.SubjectTransform("a.>", "b.>")]
    assert source.opt_start_time == datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert config.metadata == {"owner": "team"}


def test_stream_config_writes_the_wire_form_and_reads_it_back() -> None:
    config = api.StreamConfig.from_response(_stream_config_response())
    wire = config.as_dict()
    json.dumps(wire)  # every value is JSON
    assert wire["max_age"] == 90 * NS and wire["duplicate_window"] == 120 * NS
    assert wire["subject_delete_marker_ttl"] == 2 * NS
    assert wire["retention"] == "workqueue" and wire["storage"] == "memory"
    assert wire["consumer_limits"] == {"inactive_threshold": 5 * NS, "max_ack_pending": 10}
    sources = wire["sources"]
    assert isinstance(sources, list)
    assert sources[0]["opt_start_time"] == "2024-05-06T07:08:09.123456Z"
    assert sources[0]["subject_transforms"] == [{"src": "a.>", "dest": "b.>"}]
    assert "a_field_from_a_newer_server" not in wire
    assert api.StreamConfig.from_response(json.loads(json.dumps(wire))) == config


def test_durations_are_seconds_here_and_whole_nanoseconds_on_the_wire() -> None:
    wire = api.StreamConfig(name="S", max_age=0.3, duplicate_window=1.5).as_dict()
    assert wire["max_age"] == 300_000_000  # not 299999999
    assert wire["duplicate_window"] == 1_500_000_000
    # nats-py sends 0 (the server's "not set") for max_age and the consumer's timers,
    # and leaves subject_delete_marker_ttl out unless it is above 0.
    plain = api.StreamConfig(name="S").as_dict()
    assert plain["max_age"] == 0 and plain["duplicate_window"] == 0
    assert "subject_delete_marker_ttl" not in plain
    zero_ttl = api.StreamConfig(name="S", subject_delete_marker_ttl=0).as_dict()
    assert "subject_delete_marker_ttl" not in zero_ttl
    consumer = api.ConsumerConfig(ack_wait=2.5, backoff=[1, 0.25]).as_dict()
    assert consumer["ack_wait"] == 2_500_000_000
    assert consumer["idle_heartbeat"] == 0 and consumer["inactive_threshold"] == 0
    assert consumer["backoff"] == [NS, 250_000_000]
    assert "backoff" not in api.ConsumerConfig(backoff=[]).as_dict()
    read = api.ConsumerConfig.from_response({"ack_wait": 30 * NS, "backoff": [NS, 2 * NS]})
    assert (read.ack_wait, read.backoff) == (30.0, [1.0, 2.0])
    kv = api.KeyValueConfig(bucket="b", ttl=60, limit_marker_ttl=5).as_dict()
    assert kv["ttl"] == 60 * NS and "limit_marker_ttl" not in kv
    assert api.KeyValueConfig(bucket="b").as_dict()["ttl"] == 0
    assert api.ObjectStoreConfig(bucket="o", ttl=1).as_dict()["ttl"] == NS
    assert api.KeyValueConfig.from_response({"bucket": "b", "ttl": 3 * NS}).ttl == 3.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (
            "2024-01-02T03:04:05.123456789Z",
            datetime.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        ),
        ("2024-01-02T03:04:05.5Z", datetime.datetime(2024, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
        (
            "2024-01-02T05:04:05.25+02:00",
            datetime.datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=UTC),
        ),
        ("2024-01-01T22:04:05-05:00", datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", datetime.datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_times_read_as_aware_utc_datetimes(text: str, expected: datetime.datetime) -> None:
    seq = api.SequenceInfo.from_response({"consumer_seq": 1, "stream_seq": 2, "last_active": text})
    assert seq.last_active == expected
    assert seq.last_active is not None and seq.last_active.tzinfo is not None
    assert seq.last_active.utcoffset() == datetime.timedelta(0)


def test_times_write_as_rfc3339_utc() -> None:
    naive = datetime.datetime(2024, 1, 2, 3, 4, 5)
    east = datetime.datetime(
        2024, 1, 2, 5, 4, 5, 250000, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    assert api.ConsumerConfig(opt_start_time=naive).as_dict()["opt_start_time"] == (
        "2024-01-02T03:04:05Z"
    )
    assert api.ConsumerConfig(opt_start_time=east).as_dict()["opt_start_time"] == (
        "2024-01-02T03:04:05.250000Z"
    )
    assert api.Base._to_utc_iso("2030-01-01T00:00:00Z") == "2030-01-01T00:00:00Z"


def test_enums_are_str_with_the_server_values() -> None:
    values = {
        api.RetentionPolicy: {"limits", "interest", "workqueue"},
        api.StorageType: {"file", "memory"},
        api.DiscardPolicy: {"old", "new"},
        api.StoreCompression: {"none", "s2"},
        api.PersistMode: {"default", "async"},
        api.AckPolicy: {"none", "all", "explicit", "flow_control"},
        api.ReplayPolicy: {"instant", "original"},
        api.DeliverPolicy: {
            "all",
            "last",
            "new",
            "by_start_sequence",
            "by_start_time",
            "last_per_subject",
        },
    }
    for cls, expected in values.items():
        assert {m.value for m in cls} == expected, cls
        for member in cls:
            assert member == member.value and str(member) == member.value
            assert f"{member}" == member.value
            assert json.dumps(member) == json.dumps(member.value)
    assert api.Header.MSG_ID == "Nats-Msg-Id" and api.Header.STATUS == "Status"
    assert api.StatusCode.NO_MESSAGES == "404"
    assert {"Nats-Msg-Id": "x"}[api.Header.MSG_ID] == "x"


def test_unknown_enum_values_stay_strings() -> None:
    config = api.ConsumerConfig.from_response(
        {"deliver_policy": "by_start_sequence", "ack_policy": "some_future_policy"}
    )
    assert config.deliver_policy is api.DeliverPolicy.BY_START_SEQUENCE
    assert config.ack_policy == "some_future_policy"
    assert config.as_dict()["ack_policy"] == "some_future_policy"


# -- whole responses -------------------------------------------------------------------------


def _consumer_info_response() -> dict[str, Any]:
    return {
        "type": "io.nats.jetstream.api.v1.consumer_info_response",
        "stream_name": "ORDERS",
        "name": "worker",
        "created": "2024-03-04T05:06:07.891011121Z",
        "ts": "2024-03-04T05:06:08Z",
        "config": {
            "durable_name": "worker",
            "name": "worker",
            "deliver_policy": "all",
            "ack_policy": "explicit",
            "ack_wait": 30 * NS,
            "max_deliver": -1,
            "filter_subject": "orders.new",
            "replay_policy": "instant",
            "max_waiting": 512,
            "max_ack_pending": 1000,
            "num_replicas": 0,
            "inactive_threshold": 5 * NS,
            "idle_heartbeat": 0,
            "priority_policy": "none",
        },
        "delivered": {"consumer_seq": 4, "stream_seq": 9, "last_active": "2024-03-04T05:06:08Z"},
        "ack_floor": {"consumer_seq": 3, "stream_seq": 8},
        "num_ack_pending": 1,
        "num_redelivered": 0,
        "num_waiting": 2,
        "num_pending": 5,
        "cluster": {
            "leader": "n1",
            "leader_since": "2024-03-04T05:00:00.5Z",
            "replicas": [{"name": "n2", "current": True, "active": 12345, "unknown": 1}],
        },
        "paused": False,
        "priority_groups": [{"group": "g"}],
    }


def test_consumer_info_reads_a_whole_response_and_round_trips() -> None:
    info = api.ConsumerInfo.from_response(_consumer_info_response())
    assert info.created == datetime.datetime(2024, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    assert info.config.ack_wait == 30.0 and info.config.inactive_threshold == 5.0
    assert info.config.ack_policy is api.AckPolicy.EXPLICIT
    assert info.delivered == api.SequenceInfo(
        4, 9, datetime.datetime(2024, 3, 4, 5, 6, 8, tzinfo=UTC)
    )
    assert info.ack_floor == api.SequenceInfo(3, 8)
    assert info.cluster is not None and info.cluster.replicas is not None
    assert info.cluster.replicas[0] == api.PeerInfo(name="n2", current=True, active=12345)
    assert info.cluster.leader_since == datetime.datetime(2024, 3, 4, 5, 0, 0, 500000, tzinfo=UTC)
    wire = info.as_dict()
    json.dumps(wire)
    assert wire["created"] == "2024-03-04T05:06:07.891011Z"
    assert api.ConsumerInfo.from_response(json.loads(json.dumps(wire))) == info


def test_stream_info_and_state_read_and_round_trip() -> None:
    resp = {
        "config": _stream_config_response(),
        "created": "2024-01-01T00:00:00.000000001Z",
        "state": {
            "messages": 3,
            "bytes": 120,
            "first_seq": 1,
            "first_ts": "2024-01-01T00:00:01Z",
            "last_seq": 4,
            "consumer_count": 1,
            "deleted": [2],
            "num_deleted": 1,
            "num_subjects": 2,
            "subjects": {"orders.a": 2, "orders.b": 1},
            "lost": {"msgs": [7], "bytes": 10},
        },
        "sources": [{"name": "UP", "lag": 0, "active": 5000, "error": None, "external": None}],
        "cluster": {"leader": "n1"},
        "did_create": True,
        "ts": "2024-01-01T00:00:02Z",
    }
    info = api.StreamInfo.from_response(resp)
    assert info.state.subjects == {"orders.a": 2, "orders.b": 1}
    assert info.state.lost == api.LostStreamData(msgs=[7], bytes=10)
    assert info.sources == [api.StreamSourceInfo(name="UP", lag=0, active=5000)]
    assert info.created == datetime.datetime(2024, 1, 1, tzinfo=UTC)
    assert info.cluster == api.ClusterInfo(leader="n1")
    assert api.StreamInfo.from_response(json.loads(json.dumps(info.as_dict()))) == info

    page = api.StreamsListIterator(0, 2, [resp, resp])
    assert (page.offset, page.total) == (0, 2)
    assert [i.config.name for i in page] == ["ORDERS", "ORDERS"]
    assert list(page) == []


def test_account_info_reads_limits_api_and_tiers() -> None:
    limits = {
        "max_memory": -1,
        "max_storage": -1,
        "max_streams": 10,
        "max_consumers": -1,
        "max_ack_pending": -1,
        "memory_max_stream_bytes": -1,
        "storage_max_stream_bytes": -1,
        "max_bytes_required": False,
        "max_future": 1,
    }
    resp = {
        "memory": 1,
        "storage": 2,
        "reserved_memory": 0,
        "streams": 3,
        "consumers": 4,
        "limits": limits,
        "domain": "hub",
        "api": {"level": 1, "total": 10, "errors": 1},
        "tiers": {
            "R1": {"memory": 1, "storage": 2, "streams": 3, "consumers": 4, "limits": limits}
        },
    }
    info = api.AccountInfo.from_response(resp)
    assert info.api == api.APIStats(total=10, errors=1, level=1)
    assert info.limits.max_streams == 10
    assert info.tiers is not None and isinstance(info.tiers["R1"], api.Tier)
    assert info.tiers["R1"].limits == info.limits
    assert api.AccountInfo.from_response(json.loads(json.dumps(info.as_dict()))) == info


def test_pub_ack_renames_the_batch_fields_both_ways() -> None:
    ack = api.PubAck.from_response({"stream": "S", "seq": 5, "batch": "b1", "count": 3, "x": 1})
    assert (ack.batch_id, ack.batch_size) == ("b1", 3)
    assert ack.as_dict() == {"stream": "S", "seq": 5, "batch": "b1", "count": 3}
    counter = api.PubAck.from_response({"stream": "S", "seq": 6, "val": "42"})
    assert counter.val == "42" and counter.duplicate is None


def test_consumer_pause_and_reset_read() -> None:
    pause = api.ConsumerPause.from_response(
        {"paused": True, "pause_until": "2030-01-01T00:00:00Z", "pause_remaining": 5}
    )
    assert pause.paused and pause.pause_until == "2030-01-01T00:00:00Z"
    resp = {**_consumer_info_response(), "reset_seq": 7}
    reset = api.ConsumerReset.from_response(resp)
    assert "reset_seq" in resp
    assert reset.reset_seq == 7 and reset.info.name == "worker"


def test_object_store_classes() -> None:
    info = api.ObjectInfo.from_response(
        {
            "name": "file.txt",
            "bucket": "B",
            "nuid": "N",
            "size": 10,
            "chunks": 1,
            "digest": "SHA-256=abc",
            "mtime": "2024-01-01T00:00:00Z",
            "options": {"link": {"bucket": "other", "name": "x"}, "max_chunk_size": 128},
            "headers": {"A": ["1"]},
            "newer": True,
        }
    )
    assert info.is_link()
    assert info.options is not None and info.options.link == api.ObjectLink("other", "x")
    assert info.meta == api.ObjectMeta(name="file.txt", headers={"A": ["1"]}, options=info.options)
    assert info.deleted is False and info.mtime == "2024-01-01T00:00:00Z"
    assert not api.ObjectInfo(name="n", bucket="b", nuid="u").is_link()
    assert api.ObjectMeta.from_response(
        {"name": "n", "options": {"max_chunk_size": 1}}
    ).options == (api.ObjectMetaOptions(max_chunk_size=1))


def test_raw_stream_msg_names() -> None:
    msg = api.RawStreamMsg.from_response(
        {"subject": "a", "seq": 3, "data": "aGk=", "time": "2024-01-01T00:00:00Z", "new": 1}
    )
    assert msg.sequence == 3 and msg.header is None
    assert msg.time == datetime.datetime(2024, 1, 1, tzinfo=UTC)


def test_evolve_copies_with_changes() -> None:
    config = api.StreamConfig(name="S", subjects=["a"])
    changed = config.evolve(max_msgs=5, storage=api.StorageType.MEMORY)
    assert (changed.name, changed.max_msgs, changed.storage) == ("S", 5, api.StorageType.MEMORY)
    assert config.max_msgs is None
    with pytest.raises(TypeError):
        config.evolve(not_a_field=1)


def test_stream_config_refuses_bad_compression_and_metadata() -> None:
    with pytest.raises(ValueError, match="compression"):
        api.StreamConfig(name="S", compression="zstd").as_dict()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metadata"):
        api.StreamConfig(name="S", metadata=["a"]).as_dict()  # type: ignore[arg-type]


def test_the_package_is_reachable_as_nats_js() -> None:
    assert nats.js.api is api and nats.js.errors is js_errors
    assert nats.js.JetStreamManager.__name__ == "JetStreamManager"
    with pytest.raises(AttributeError):
        nats.not_a_module  # noqa: B018


def test_import_natsrs_loads_jetstream_only_when_used() -> None:
    code = (
        "import sys, natsrs as nats\n"
        "assert 'natsrs.js' not in sys.modules\n"
        "print(nats.js.api.StreamConfig.__name__, nats.js.errors.NotFoundError.__name__)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["StreamConfig", "NotFoundError"]


def test_request_bodies_are_nats_py_s() -> None:
    theirs = pytest.importorskip("nats.js.api")
    start = datetime.datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)
    stream = {
        "name": "S",
        "subjects": ["a.>"],
        "max_age": 1.5,
        "duplicate_window": 2,
        "max_msgs": 10,
        "allow_direct": True,
        "metadata": {"k": "v"},
        "subject_delete_marker_ttl": 4,
    }
    consumer = {
        "durable_name": "d",
        "ack_wait": 2.5,
        "backoff": [1, 2],
        "opt_start_time": start,
        "filter_subjects": ["a.x"],
        "max_deliver": 4,
    }
    pairs = [
        (api.StreamConfig(**stream), theirs.StreamConfig(**stream)),
        (api.StreamConfig(name="S"), theirs.StreamConfig(name="S")),
        (api.ConsumerConfig(**consumer), theirs.ConsumerConfig(**consumer)),
        (api.ConsumerConfig(), theirs.ConsumerConfig()),
        (api.KeyValueConfig(bucket="b", ttl=5), theirs.KeyValueConfig(bucket="b", ttl=5)),
        (api.ObjectStoreConfig(bucket="o"), theirs.ObjectStoreConfig(bucket="o")),
    ]
    for ours, their in pairs:
        assert json.dumps(ours.as_dict(), sort_keys=True) == json.dumps(
            their.as_dict(), sort_keys=True
        ), type(ours).__name__
    # And a server's answer reads to the same request body.
    resp = _stream_config_response()
    ours_read = api.StreamConfig.from_response(copy.deepcopy(resp)).as_dict()
    their_read = theirs.StreamConfig.from_response(copy.deepcopy(resp)).as_dict()
    assert json.dumps(ours_read, sort_keys=True) == json.dumps(their_read, sort_keys=True)
