"""JetStream's API types under nats-py's ``nats.js.api`` names, fields and defaults.

Each data class reads a server response with ``from_response`` and writes the request
form with ``as_dict``; ``evolve`` is a copy with some fields replaced. The conventions
are nats-py's:

* durations are seconds (``float``) in Python and nanoseconds on the wire;
* times are timezone-aware UTC ``datetime`` objects in Python and RFC 3339 on the wire;
* enum fields hold the enum member when the server sends a value this module knows, and
  the plain string otherwise (a newer server's value is not an error);
* fields a response has and the class does not are ignored, for the same reason;
* ``as_dict`` leaves out fields that are ``None``.

Importing the module has no side effects.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any, ClassVar, TypeVar

from natsrs import _natsrs

__all__ = [
    "DEFAULT_PREFIX",
    "INBOX_PREFIX",
    "SCHEDULE_DAILY",
    "SCHEDULE_HOURLY",
    "SCHEDULE_MONTHLY",
    "SCHEDULE_WEEKLY",
    "SCHEDULE_YEARLY",
    "APIStats",
    "AccountInfo",
    "AccountLimits",
    "AckPolicy",
    "Base",
    "ClusterInfo",
    "ConsumerConfig",
    "ConsumerInfo",
    "ConsumerPause",
    "ConsumerReset",
    "DeliverPolicy",
    "DiscardPolicy",
    "ExternalStream",
    "Header",
    "KeyValueConfig",
    "LostStreamData",
    "ObjectInfo",
    "ObjectLink",
    "ObjectMeta",
    "ObjectMetaOptions",
    "ObjectStoreConfig",
    "PeerInfo",
    "PersistMode",
    "Placement",
    "PubAck",
    "RawStreamMsg",
    "RePublish",
    "ReplayPolicy",
    "RetentionPolicy",
    "SequenceInfo",
    "StatusCode",
    "StorageType",
    "StoreCompression",
    "StreamConfig",
    "StreamConsumerLimits",
    "StreamConsumerSource",
    "StreamInfo",
    "StreamPurgeRequest",
    "StreamSource",
    "StreamSourceInfo",
    "StreamState",
    "StreamsListIterator",
    "SubjectTransform",
    "Tier",
]

_NANOSECOND = 10**9

DEFAULT_PREFIX = "$JS.API"
"""The subject prefix of the JetStream API (a domain or an import changes it)."""

INBOX_PREFIX = b"_INBOX."


class _ValueEnum(str, Enum):
    """A ``str`` enum whose ``str()`` and format are its value, on every Python.

    (A plain ``(str, Enum)`` formats as ``Class.MEMBER`` on Python 3.11+ and as the value
    before; printing a stream's ``storage`` should read ``file`` everywhere.)
    """

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, format_spec: str) -> str:
        return format(str(self.value), format_spec)


class Header(_ValueEnum):
    """Header names JetStream reads or sets."""

    BATCH_COMMIT = "Nats-Batch-Commit"
    BATCH_ID = "Nats-Batch-Id"
    BATCH_SEQUENCE = "Nats-Batch-Sequence"
    CONSUMER_STALLED = "Nats-Consumer-Stalled"
    DESCRIPTION = "Description"
    EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
    EXPECTED_LAST_SEQUENCE = "Nats-Expected-Last-Sequence"
    EXPECTED_LAST_SUBJECT_SEQUENCE = "Nats-Expected-Last-Subject-Sequence"
    EXPECTED_STREAM = "Nats-Expected-Stream"
    # A counter stream's decimal delta, such as "5" or "-2".
    INCR = "Nats-Incr"
    LAST_CONSUMER = "Nats-Last-Consumer"
    LAST_STREAM = "Nats-Last-Stream"
    MSG_ID = "Nats-Msg-Id"
    MSG_TTL = "Nats-TTL"
    ROLLUP = "Nats-Rollup"
    SCHEDULE = "Nats-Schedule"
    SCHEDULE_NEXT = "Nats-Schedule-Next"
    SCHEDULE_ROLLUP = "Nats-Schedule-Rollup"
    SCHEDULE_SOURCE = "Nats-Schedule-Source"
    SCHEDULE_TARGET = "Nats-Schedule-Target"
    SCHEDULE_TIME_ZONE = "Nats-Schedule-Time-Zone"
    SCHEDULE_TTL = "Nats-Schedule-TTL"
    SCHEDULER = "Nats-Scheduler"
    STATUS = "Status"


# Predefined values of the ``Nats-Schedule`` header.
SCHEDULE_YEARLY = "@yearly"
SCHEDULE_MONTHLY = "@monthly"
SCHEDULE_WEEKLY = "@weekly"
SCHEDULE_DAILY = "@daily"
SCHEDULE_HOURLY = "@hourly"


class StatusCode(_ValueEnum):
    """Status codes of JetStream's status messages (the ``Status`` header)."""

    SERVICE_UNAVAILABLE = "503"
    NO_MESSAGES = "404"
    REQUEST_TIMEOUT = "408"
    CONFLICT = "409"
    CONTROL_MESSAGE = "100"


class RetentionPolicy(_ValueEnum):
    """When a stream may drop a message it holds."""

    LIMITS = "limits"
    INTEREST = "interest"
    WORK_QUEUE = "workqueue"


class StorageType(_ValueEnum):
    """Where a stream keeps its messages."""

    FILE = "file"
    MEMORY = "memory"


class DiscardPolicy(_ValueEnum):
    """What a stream at its limits discards: old messages or the new one."""

    OLD = "old"
    NEW = "new"


class StoreCompression(_ValueEnum):
    """On-disk compression of a file stream (nats-server 2.10+)."""

    NONE = "none"
    S2 = "s2"


class PersistMode(_ValueEnum):
    """How a replica-1 stream persists writes (nats-server 2.12+).

    ``DEFAULT`` writes synchronously; ``ASYNC`` acknowledges before the write reaches
    the disk (faster, and a crash can lose acknowledged messages).
    """

    DEFAULT = "default"
    ASYNC = "async"


class AckPolicy(_ValueEnum):
    """How a consumer's messages are acknowledged."""

    NONE = "none"
    ALL = "all"
    EXPLICIT = "explicit"
    # Of the consumer a sourcing stream reads a workqueue or interest stream through.
    FLOW_CONTROL = "flow_control"


class DeliverPolicy(_ValueEnum):
    """Where in the stream a new consumer starts."""

    ALL = "all"
    LAST = "last"
    NEW = "new"
    BY_START_SEQUENCE = "by_start_sequence"
    BY_START_TIME = "by_start_time"
    LAST_PER_SUBJECT = "last_per_subject"


class ReplayPolicy(_ValueEnum):
    """Whether a consumer replays as fast as it can or at the original pace."""

    INSTANT = "instant"
    ORIGINAL = "original"


# -- conversions -----------------------------------------------------------------------------


def _to_nanoseconds(seconds: float | None) -> int:
    # None is sent as 0, which the server reads as "not set" (nats-py does the same,
    # so that a Go server never sees null). Rounded, not truncated: 0.3 s is
    # 300000000 ns, where int(0.3 * 1e9) would be 299999999.
    if seconds is None:
        return 0
    return round(seconds * _NANOSECOND)


def _parse_time(value: Any) -> Any:
    """An RFC 3339 string (nanoseconds allowed) as an aware UTC ``datetime``.

    A ``datetime`` passes through; so does anything else that is not a string, for the
    open-world reason unknown fields are ignored.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    date, sep, rest = text.partition(".")
    if sep:
        # datetime keeps microseconds; the server sends up to nine digits (and Python
        # before 3.11 parses only three or six).
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{date}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    parsed = datetime.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)


def _format_time(value: datetime.datetime | str) -> str:
    """A ``datetime`` as RFC 3339 in UTC (naive means UTC); a string passes through."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    value = value.astimezone(datetime.timezone.utc)
    return value.isoformat().replace("+00:00", "Z").replace(".000000", "")


def _wire(value: Any) -> Any:
    """``value`` in its request form: data classes, times and durations converted."""
    if isinstance(value, Base):
        return value.as_dict()
    if isinstance(value, datetime.datetime):
        return _format_time(value)
    if isinstance(value, list):
        return [_wire(item) for item in value]
    if isinstance(value, dict):
        return {key: _wire(item) for key, item in value.items()}
    return value


_B = TypeVar("_B", bound="Base")


@dataclass
class Base:
    """Common behaviour of the API data classes.

    A subclass lists the fields that need converting; ``from_response`` and ``as_dict``
    do the conversions both ways.
    """

    # Field -> data class of the field's value (or of each item of a list or dict value).
    _nested: ClassVar[Mapping[str, type[Base]]] = {}
    # Fields holding a duration: seconds here, nanoseconds on the wire.
    _durations: ClassVar[tuple[str, ...]] = ()
    # Fields holding a time: a datetime here, RFC 3339 on the wire.
    _times: ClassVar[tuple[str, ...]] = ()
    # Field -> enum of its values.
    _enums: ClassVar[Mapping[str, type[Enum]]] = {}
    # Fields of _nested whose value is a dict of data classes by key (not one data class).
    _keyed: ClassVar[tuple[str, ...]] = ()

    @staticmethod
    def _convert(resp: dict[str, Any], field: str, type: type[Base]) -> None:
        """Read ``resp[field]`` (a dict or a list of them) as ``type``, in place."""
        data = resp.get(field)
        if data is None:
            resp[field] = None
        elif isinstance(data, list):
            resp[field] = [type.from_response(item) for item in data]
        else:
            resp[field] = type.from_response(data)

    @staticmethod
    def _convert_nanoseconds(resp: dict[str, Any], field: str) -> None:
        """Read ``resp[field]`` from nanoseconds to seconds, in place."""
        value = resp.get(field)
        resp[field] = None if value is None else value / _NANOSECOND

    @staticmethod
    def _to_nanoseconds(val: float | None) -> int:
        """Seconds as nanoseconds (``None`` as 0, the server's "not set")."""
        return _to_nanoseconds(val)

    @staticmethod
    def _convert_utc_iso(resp: dict[str, Any], field: str) -> None:
        """Read ``resp[field]`` from RFC 3339 to a UTC ``datetime``, in place."""
        if resp.get(field) is not None:
            resp[field] = _parse_time(resp[field])

    @staticmethod
    def _to_utc_iso(date: datetime.datetime | str) -> str:
        """A ``datetime`` as RFC 3339 in UTC (naive means UTC); a string passes through."""
        return _format_time(date)

    @staticmethod
    def _parse_utc_iso(time_string: str) -> datetime.datetime:
        """An RFC 3339 string (nanoseconds allowed) as an aware UTC ``datetime``."""
        parsed: datetime.datetime = _parse_time(time_string)
        return parsed

    @classmethod
    def _read(cls, resp: dict[str, Any]) -> None:
        """Convert the fields of a copy of a response, in place."""
        for name, kind in cls._nested.items():
            value = resp.get(name)
            if isinstance(value, list):
                resp[name] = [kind.from_response(item) for item in value]
            elif isinstance(value, dict) and name in cls._keyed:
                resp[name] = {key: kind.from_response(item) for key, item in value.items()}
            elif isinstance(value, dict):
                resp[name] = kind.from_response(value)
        for name in cls._durations:
            value = resp.get(name)
            if isinstance(value, list):
                resp[name] = [item / _NANOSECOND for item in value]
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                resp[name] = value / _NANOSECOND
        for name in cls._times:
            if resp.get(name) is not None:
                resp[name] = _parse_time(resp[name])
        for name, enum in cls._enums.items():
            value = resp.get(name)
            if value is not None:
                try:
                    resp[name] = enum(value)
                except ValueError:
                    pass  # a value this client does not know yet stays a string

    @classmethod
    def from_response(cls: type[_B], resp: Mapping[str, Any]) -> _B:
        """The instance a server response describes; unknown fields are ignored.

        ``resp`` itself is left as it was.
        """
        data = dict(resp)
        cls._read(data)
        known = {field.name for field in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in known})

    def evolve(self: _B, **params: Any) -> _B:
        """A copy with the given fields replaced."""
        return replace(self, **params)

    def as_dict(self) -> dict[str, object]:
        """The request form: ``None`` fields left out, nested classes, times and
        durations converted."""
        result: dict[str, object] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None:
                continue
            if field.name in self._durations:
                if isinstance(value, list):
                    value = [_to_nanoseconds(item) for item in value]
                else:
                    value = _to_nanoseconds(value)
            result[field.name] = _wire(value)
        return result


# -- publishing ------------------------------------------------------------------------------


# The stream's acknowledgement of a published message: the extension's class, made from the
# server's answer without a Python step (fields stream, seq, domain, duplicate, batch_id,
# batch_size, val; from_response, as_dict and evolve as the data classes here).
PubAck = _natsrs.PubAck


# -- streams ---------------------------------------------------------------------------------


@dataclass
class Placement(Base):
    """Where a stream's replicas go: a cluster, and server tags."""

    cluster: str | None = None
    tags: list[str] | None = None


@dataclass
class ExternalStream(Base):
    """A stream in another account or domain, by its API prefix."""

    api: str
    deliver: str | None = None


@dataclass
class SubjectTransform(Base):
    """A subject mapping applied to messages (``src`` pattern to ``dest``)."""

    src: str
    dest: str


@dataclass
class StreamConsumerSource(Base):
    """The durable push consumer a sourcing stream reads a workqueue or interest stream
    through; the server requires both fields."""

    name: str
    deliver_subject: str


@dataclass
class StreamSource(Base):
    """A stream another stream sources or mirrors."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {
        "external": ExternalStream,
        "subject_transforms": SubjectTransform,
        "consumer": StreamConsumerSource,
    }
    _times = ("opt_start_time",)

    name: str
    opt_start_seq: int | None = None
    opt_start_time: datetime.datetime | None = None
    filter_subject: str | None = None
    external: ExternalStream | None = None
    subject_transforms: list[SubjectTransform] | None = None
    consumer: StreamConsumerSource | None = None


@dataclass
class StreamSourceInfo(Base):
    """The state of a source or mirror.

    ``active`` is the server's nanoseconds since the last activity, left as received
    (nats-py does not convert it either).
    """

    name: str
    lag: int | None = None
    active: int | None = None
    error: dict[str, Any] | None = None


@dataclass
class LostStreamData(Base):
    """Messages a stream lost (sequence numbers and bytes)."""

    msgs: list[int] | None = None
    bytes: int | None = None


@dataclass
class StreamState(Base):
    """A stream's message counts and sequence range."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {"lost": LostStreamData}

    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    consumer_count: int
    deleted: list[int] | None = None
    num_deleted: int | None = None
    lost: LostStreamData | None = None
    # Messages per subject, when stream_info was asked for a subjects filter.
    subjects: dict[str, int] | None = None


@dataclass
class RePublish(Base):
    """Republishing of stored messages: subjects matching ``src`` go out on ``dest``."""

    src: str | None = None
    dest: str | None = None
    headers_only: bool | None = None


@dataclass
class StreamConsumerLimits(Base):
    """Defaults and limits for a stream's new consumers (nats-server 2.10+)."""

    _durations = ("inactive_threshold",)

    inactive_threshold: float | None = None  # seconds
    max_ack_pending: int | None = None


@dataclass
class StreamConfig(Base):
    """A stream's configuration."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {
        "placement": Placement,
        "mirror": StreamSource,
        "sources": StreamSource,
        "republish": RePublish,
        "subject_transform": SubjectTransform,
        "consumer_limits": StreamConsumerLimits,
    }
    _durations = ("max_age", "duplicate_window", "subject_delete_marker_ttl")
    _enums: ClassVar[Mapping[str, type[Enum]]] = {
        "retention": RetentionPolicy,
        "discard": DiscardPolicy,
        "storage": StorageType,
        "compression": StoreCompression,
        "persist_mode": PersistMode,
    }

    name: str | None = None
    description: str | None = None
    subjects: list[str] | None = None
    retention: RetentionPolicy | None = None
    max_consumers: int | None = None
    max_msgs: int | None = None
    max_bytes: int | None = None
    discard: DiscardPolicy | None = DiscardPolicy.OLD
    discard_new_per_subject: bool = False
    max_age: float | None = None  # seconds
    max_msgs_per_subject: int = -1
    max_msg_size: int | None = -1
    storage: StorageType | None = None
    num_replicas: int | None = None
    no_ack: bool = False
    template_owner: str | None = None
    duplicate_window: float = 0  # seconds
    placement: Placement | None = None
    mirror: StreamSource | None = None
    sources: list[StreamSource] | None = None
    sealed: bool = False
    deny_delete: bool = False
    deny_purge: bool = False
    allow_rollup_hdrs: bool = False
    # The stream's first sequence when created (nats-server 2.10+).
    first_seq: int | None = None
    republish: RePublish | None = None
    subject_transform: SubjectTransform | None = None
    # Direct get: any replica answers single-message reads (Key-Value uses it).
    allow_direct: bool | None = None
    mirror_direct: bool | None = None
    compression: StoreCompression | None = None
    # The per-message Nats-TTL header (nats-server 2.11+).
    allow_msg_ttl: bool | None = None
    # Scheduled messages, atomic and plain batch publishing, counters (nats-server 2.12+).
    allow_msg_schedules: bool | None = None
    allow_atomic: bool | None = None
    allow_batched: bool | None = None
    allow_msg_counter: bool | None = None
    persist_mode: PersistMode | None = None
    metadata: dict[str, str] | None = None
    consumer_limits: StreamConsumerLimits | None = None
    # Delete markers for TTL and purge events, kept this long (nats-server 2.11+).
    subject_delete_marker_ttl: float | None = None  # seconds

    def as_dict(self) -> dict[str, object]:
        """The request form. ``max_age`` and ``duplicate_window`` are always sent (0 is
        "server default"), ``subject_delete_marker_ttl`` only when above 0 (the server
        rejects 0 rather than reading it as unset).

        Raises:
            ValueError: ``compression`` or ``metadata`` is of the wrong kind.
        """
        if self.compression is not None and self.compression not in (
            StoreCompression.NONE,
            StoreCompression.S2,
        ):
            raise ValueError(f"nats: invalid store compression type: {self.compression}")
        if self.metadata is not None and not isinstance(self.metadata, dict):
            raise ValueError("nats: invalid metadata format")
        result = super().as_dict()
        result["max_age"] = _to_nanoseconds(self.max_age)
        result["duplicate_window"] = _to_nanoseconds(self.duplicate_window)
        ttl = self.subject_delete_marker_ttl
        if ttl is None or ttl <= 0:
            result.pop("subject_delete_marker_ttl", None)
        return result


@dataclass
class PeerInfo(Base):
    """A replica of a clustered stream or consumer (``active`` in nanoseconds, as
    received)."""

    name: str | None = None
    current: bool | None = None
    offline: bool | None = None
    active: int | None = None
    lag: int | None = None


@dataclass
class ClusterInfo(Base):
    """The cluster a stream or consumer lives in, its leader and replicas."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {"replicas": PeerInfo}
    _times = ("leader_since",)

    leader: str | None = None
    name: str | None = None
    replicas: list[PeerInfo] | None = None
    raft_group: str | None = None
    leader_since: datetime.datetime | None = None
    traffic_acc: str | None = None


@dataclass
class StreamInfo(Base):
    """A stream's configuration and state, as ``stream_info`` and ``add_stream`` give."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {
        "config": StreamConfig,
        "state": StreamState,
        "mirror": StreamSourceInfo,
        "sources": StreamSourceInfo,
        "cluster": ClusterInfo,
    }
    _times = ("created",)

    config: StreamConfig
    state: StreamState
    mirror: StreamSourceInfo | None = None
    sources: list[StreamSourceInfo] | None = None
    cluster: ClusterInfo | None = None
    did_create: bool | None = None
    created: datetime.datetime | None = None


class StreamsListIterator(Iterator[StreamInfo]):
    """One page of the stream list: ``offset`` and ``total`` as the server gave them,
    iterating the page's streams as ``StreamInfo``."""

    def __init__(self, offset: int, total: int, streams: list[dict[str, Any]]) -> None:
        self.offset = offset
        self.total = total
        self.streams = streams
        self._index = 0

    def __iter__(self) -> StreamsListIterator:
        return self

    def __next__(self) -> StreamInfo:
        if self._index >= len(self.streams):
            raise StopIteration
        info = StreamInfo.from_response(self.streams[self._index])
        self._index += 1
        return info


@dataclass
class StreamPurgeRequest(Base):
    """The body of a purge request: up to ``seq`` (exclusive), matching ``filter``, or
    keeping the last ``keep`` messages."""

    seq: int | None = None
    filter: str | None = None
    keep: int | None = None


# -- consumers -------------------------------------------------------------------------------


@dataclass
class ConsumerConfig(Base):
    """A consumer's configuration."""

    _durations = ("ack_wait", "idle_heartbeat", "inactive_threshold", "backoff")
    _times = ("opt_start_time",)
    _enums: ClassVar[Mapping[str, type[Enum]]] = {
        "deliver_policy": DeliverPolicy,
        "ack_policy": AckPolicy,
        "replay_policy": ReplayPolicy,
    }

    name: str | None = None
    durable_name: str | None = None
    description: str | None = None
    deliver_policy: DeliverPolicy | None = DeliverPolicy.ALL
    opt_start_seq: int | None = None
    opt_start_time: datetime.datetime | None = None
    ack_policy: AckPolicy | None = AckPolicy.EXPLICIT
    ack_wait: float | None = None  # seconds
    max_deliver: int | None = None
    # Redelivery delays in seconds; they override ack_wait.
    backoff: list[float] | None = None
    filter_subject: str | None = None
    filter_subjects: list[str] | None = None
    replay_policy: ReplayPolicy | None = ReplayPolicy.INSTANT
    rate_limit_bps: int | None = None
    sample_freq: str | None = None
    max_waiting: int | None = None
    max_ack_pending: int | None = None
    flow_control: bool | None = None
    idle_heartbeat: float | None = None  # seconds
    headers_only: bool | None = None
    # Push consumers deliver to this subject, to this queue group.
    deliver_subject: str | None = None
    deliver_group: str | None = None
    # An unused consumer is deleted after this long.
    inactive_threshold: float | None = None  # seconds
    num_replicas: int | None = None
    mem_storage: bool | None = None
    metadata: dict[str, str] | None = None
    # RFC 3339 time until which the consumer is paused (nats-server 2.11+), kept as the
    # string, as nats-py.
    pause_until: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The request form; ``ack_wait``, ``idle_heartbeat`` and ``inactive_threshold``
        are always sent (0 is "server default"), as nats-py does."""
        result = super().as_dict()
        result["ack_wait"] = _to_nanoseconds(self.ack_wait)
        result["idle_heartbeat"] = _to_nanoseconds(self.idle_heartbeat)
        result["inactive_threshold"] = _to_nanoseconds(self.inactive_threshold)
        if not self.backoff:
            # nats-py sends no backoff for an empty list.
            result.pop("backoff", None)
        return result


@dataclass
class SequenceInfo(Base):
    """A consumer's position: consumer and stream sequence, and when it last moved."""

    _times = ("last_active",)

    consumer_seq: int
    stream_seq: int
    last_active: datetime.datetime | None = None


@dataclass
class ConsumerInfo(Base):
    """A consumer's configuration and state."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {
        "delivered": SequenceInfo,
        "ack_floor": SequenceInfo,
        "config": ConsumerConfig,
        "cluster": ClusterInfo,
    }
    _times = ("created",)

    name: str
    stream_name: str
    config: ConsumerConfig
    created: datetime.datetime
    delivered: SequenceInfo | None = None
    ack_floor: SequenceInfo | None = None
    num_ack_pending: int | None = None
    num_redelivered: int | None = None
    num_waiting: int | None = None
    num_pending: int | None = None
    cluster: ClusterInfo | None = None
    push_bound: bool | None = None
    # Paused, and for how much longer (nats-server 2.11+): pause_remaining is the
    # server's nanoseconds, kept as received as nats-py does (which annotates it str).
    paused: bool | None = None
    pause_remaining: int | None = None


@dataclass
class ConsumerPause(Base):
    """The answer to a pause or resume (nats-server 2.11+)."""

    paused: bool
    pause_until: str | None = None
    # Nanoseconds, as received (see ConsumerInfo).
    pause_remaining: int | None = None


@dataclass
class ConsumerReset(Base):
    """The answer to a consumer reset (nats-server 2.14+): the consumer's new info and
    the stream sequence delivery restarts at."""

    info: ConsumerInfo
    reset_seq: int

    @classmethod
    def from_response(cls, resp: Mapping[str, Any]) -> ConsumerReset:
        data = dict(resp)
        reset_seq = data.pop("reset_seq")
        return cls(info=ConsumerInfo.from_response(data), reset_seq=reset_seq)

    def as_dict(self) -> dict[str, object]:
        # The wire form is the consumer info with reset_seq beside its fields.
        result = self.info.as_dict()
        result["reset_seq"] = self.reset_seq
        return result


# -- account ---------------------------------------------------------------------------------


@dataclass
class AccountLimits(Base):
    """An account's JetStream limits (-1 is unlimited)."""

    max_memory: int
    max_storage: int
    max_streams: int
    max_consumers: int
    max_ack_pending: int
    memory_max_stream_bytes: int
    storage_max_stream_bytes: int
    max_bytes_required: bool


@dataclass
class Tier(Base):
    """An account's usage and limits in one tier (replica count)."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {"limits": AccountLimits}

    memory: int
    storage: int
    streams: int
    consumers: int
    limits: AccountLimits


@dataclass
class APIStats(Base):
    """Counts of the account's API calls; ``level`` is the server's API level
    (nats-server 2.11+)."""

    total: int
    errors: int
    level: int | None = None


@dataclass
class AccountInfo(Base):
    """An account's JetStream usage, limits and API statistics."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {
        "limits": AccountLimits,
        "api": APIStats,
        "tiers": Tier,
    }
    _keyed = ("tiers",)

    memory: int
    storage: int
    streams: int
    consumers: int
    limits: AccountLimits
    api: APIStats
    domain: str | None = None
    tiers: dict[str, Tier] | None = None


# -- messages --------------------------------------------------------------------------------


@dataclass
class RawStreamMsg(Base):
    """A message read from a stream by ``get_msg``: payload, headers, sequence, time."""

    _times = ("time",)

    subject: str | None = None
    seq: int | None = None
    data: bytes | None = None
    # The encoded header block, when the message came from the JSON (non-direct) API.
    hdrs: bytes | None = None
    headers: dict[str, str] | None = None
    stream: str | None = None
    time: datetime.datetime | None = None

    @property
    def sequence(self) -> int | None:
        """``seq`` under nats.go's name."""
        return self.seq

    @property
    def header(self) -> dict[str, str] | None:
        """``headers`` under nats-py's other name."""
        return self.headers


# -- Key-Value and Object Store --------------------------------------------------------------


@dataclass
class KeyValueConfig(Base):
    """A Key-Value bucket's configuration."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {"placement": Placement, "republish": RePublish}
    _durations = ("ttl", "limit_marker_ttl")
    _enums: ClassVar[Mapping[str, type[Enum]]] = {"storage": StorageType}

    bucket: str
    description: str | None = None
    max_value_size: int | None = None
    history: int = 1
    ttl: float | None = None  # seconds
    max_bytes: int | None = None
    storage: StorageType | None = None
    replicas: int = 1
    placement: Placement | None = None
    republish: RePublish | None = None
    direct: bool | None = None
    # Seconds; the client turns it into the stream's subject_delete_marker_ttl.
    limit_marker_ttl: float | None = None

    def as_dict(self) -> dict[str, object]:
        result = super().as_dict()
        result["ttl"] = _to_nanoseconds(self.ttl)
        # Not a field the server knows: never sent.
        result.pop("limit_marker_ttl", None)
        return result


@dataclass
class ObjectStoreConfig(Base):
    """An Object Store bucket's configuration."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {"placement": Placement}
    _durations = ("ttl",)
    _enums: ClassVar[Mapping[str, type[Enum]]] = {"storage": StorageType}

    bucket: str | None = None
    description: str | None = None
    ttl: float | None = None  # seconds
    max_bytes: int | None = None
    storage: StorageType | None = None
    replicas: int = 1
    placement: Placement | None = None

    def as_dict(self) -> dict[str, object]:
        result = super().as_dict()
        result["ttl"] = _to_nanoseconds(self.ttl)
        return result


@dataclass
class ObjectLink(Base):
    """A link to another bucket, or to one object in it when ``name`` is set."""

    bucket: str
    name: str | None = None


@dataclass
class ObjectMetaOptions(Base):
    """An object's link and chunk size."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {"link": ObjectLink}

    link: ObjectLink | None = None
    max_chunk_size: int | None = None


@dataclass
class ObjectMeta(Base):
    """What the user says about an object: name, description, headers, options."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {"options": ObjectMetaOptions}

    name: str | None = None
    description: str | None = None
    headers: dict[str, Any] | None = None
    options: ObjectMetaOptions | None = None


@dataclass
class ObjectInfo(Base):
    """An object's metadata and what the store recorded of it (size, chunks, digest)."""

    _nested: ClassVar[Mapping[str, type[Base]]] = {"options": ObjectMetaOptions}

    name: str
    bucket: str
    nuid: str
    size: int | None = None
    # RFC 3339, kept as the string (as nats-py).
    mtime: str | None = None
    chunks: int | None = None
    digest: str | None = None
    deleted: bool | None = False
    description: str | None = None
    headers: dict[str, Any] | None = None
    options: ObjectMetaOptions | None = None

    @property
    def meta(self) -> ObjectMeta:
        """The ``ObjectMeta`` part of this info."""
        return ObjectMeta(
            name=self.name,
            description=self.description,
            headers=self.headers,
            options=self.options,
        )

    def is_link(self) -> bool:
        """Whether the object is a link to another object or bucket."""
        return self.options is not None and self.options.link is not None
