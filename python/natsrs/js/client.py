"""nats-py's ``nats.js.client``: :class:`JetStreamContext`, what ``nc.jetstream()`` gives.

Publishing runs in the extension (``natsrs._natsrs._JetStream``): the request, the
``PubAck`` parsed from its JSON, the acks in flight of ``publish_async`` counted by one
semaphore. A pull subscription fetches through one inbox subscription, as nats-py's
does, and takes the messages already queued in one call rather than one ``await`` each.
Stream and consumer management is :class:`natsrs.js.manager.JetStreamManager`'s.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from natsrs import errors as core_errors
from natsrs._natsrs import Client as NativeClient
from natsrs._natsrs import PubAck
from natsrs.js import api, kv
from natsrs.js.errors import Error, NotFoundError
from natsrs.js.handles import Stream
from natsrs.js.manager import JetStreamManager
from natsrs.js.pull import PullSubscription
from natsrs.js.pull import PullSubscription as _Pull
from natsrs.js.push import Callback, PushSubscription
from natsrs.js.push import PushSubscription as _Push

if TYPE_CHECKING:
    from natsrs._natsrs import HeaderMap
    from natsrs.aio.client import Client as NatsPyClient

__all__ = ["JetStreamContext"]

DEFAULT_JS_SUB_PENDING_MSGS_LIMIT = 512 * 1024
DEFAULT_JS_SUB_PENDING_BYTES_LIMIT = 256 * 1024 * 1024


def _check_binding(info: api.ConsumerInfo, queue: str | None) -> None:
    """nats-py's checks before binding to an existing push consumer."""
    group = info.config.deliver_group
    if not group:
        if queue:
            raise Error("cannot create a queue subscription for a consumer without a deliver group")
        if info.push_bound:
            raise Error("consumer is already bound to a subscription")
    elif not queue:
        raise Error(f"cannot create a subscription for a consumer with a deliver group {group}")
    elif queue != group:
        raise Error(
            f"cannot create a queue subscription {queue} for a consumer "
            f"with a deliver group {group}"
        )


def _limits(msgs: int, bytes_: int) -> tuple[int | None, int | None]:
    """The pending limits to set on a consumer's core subscription: none at nats-py's
    defaults (the subscription capacity bounds it, and its messages need no Python
    queue), else both, enforced as nats-py does (drops past them reported to the error
    callback as ``SlowConsumerError``)."""
    if (msgs, bytes_) == (DEFAULT_JS_SUB_PENDING_MSGS_LIMIT, DEFAULT_JS_SUB_PENDING_BYTES_LIMIT):
        return None, None
    return msgs, bytes_


def _native(conn: NativeClient | NatsPyClient) -> NativeClient:
    """The extension's client behind either client natsrs gives."""
    if isinstance(conn, NativeClient):
        return conn
    return conn._live()


class JetStreamContext(JetStreamManager):
    # nats-py nests the subscription classes: JetStreamContext.PullSubscription.
    PullSubscription: ClassVar[type[PullSubscription]] = PullSubscription
    PushSubscription: ClassVar[type[PushSubscription]] = PushSubscription

    """JetStream on a connected client: publishing with acks, pull subscriptions, and
    (inherited) stream and consumer management.

    ``domain`` selects the API of another JetStream domain (``$JS.<domain>.API``);
    ``timeout`` bounds every API call and publish; ``publish_async_max_pending`` bounds
    the acks ``publish_async`` keeps in flight.
    """

    def __init__(
        self,
        conn: NativeClient | NatsPyClient,
        prefix: str = api.DEFAULT_PREFIX,
        domain: str | None = None,
        timeout: float = 5,
        publish_async_max_pending: int = 4000,
    ) -> None:
        if domain is not None:
            prefix = f"$JS.{domain}.API"
        super().__init__(conn, prefix=prefix, timeout=timeout)
        self._native = _native(conn)
        self._core = self._native._jetstream_core(timeout, publish_async_max_pending)

    @property
    def _jsm(self) -> JetStreamManager:
        return JetStreamManager(self._nc, prefix=self._prefix, timeout=self._timeout)

    # -- publishing -------------------------------------------------------------------

    def publish(
        self,
        subject: str,
        payload: bytes = b"",
        timeout: float | None = None,
        stream: str | None = None,
        headers: HeaderMap | Mapping[str, str | Sequence[str]] | None = None,
        msg_ttl: float | None = None,
        *,
        msg_id: str | None = None,
        expected_last_sequence: int | None = None,
        expected_last_subject_sequence: int | None = None,
        expected_last_msg_id: str | None = None,
    ) -> Awaitable[PubAck]:
        """Publish and wait for the stream's ack.

        ``stream`` is the stream expected to take it; ``msg_ttl`` (seconds) the
        message's own age limit (the stream needs ``allow_msg_ttl``). The keywords after
        ``*`` set JetStream's other publish headers: ``msg_id`` for de-duplication and the
        optimistic-concurrency checks.

        Raises:
            natsrs.js.errors.NoStreamResponseError: no stream takes ``subject``.
            natsrs.js.errors.APIError: the stream refused it (a subclass by ``code``).
            natsrs.errors.TimeoutError: no ack within ``timeout``.
        """
        return self._core.publish(
            subject,
            payload,
            timeout,
            stream,
            headers,
            msg_ttl,
            msg_id=msg_id,
            expected_last_sequence=expected_last_sequence,
            expected_last_subject_sequence=expected_last_subject_sequence,
            expected_last_msg_id=expected_last_msg_id,
        )

    def publish_async(
        self,
        subject: str,
        payload: bytes = b"",
        wait_stall: float | None = None,
        stream: str | None = None,
        headers: HeaderMap | Mapping[str, str | Sequence[str]] | None = None,
        msg_ttl: float | None = None,
        *,
        msg_id: str | None = None,
        expected_last_sequence: int | None = None,
        expected_last_subject_sequence: int | None = None,
        expected_last_msg_id: str | None = None,
    ) -> Awaitable[Awaitable[PubAck]]:
        """Publish without waiting for the ack: resolves to an awaitable of the ``PubAck``.

        It resolves at once while fewer than ``publish_async_max_pending`` acks are in
        flight, else when one arrives; after ``wait_stall`` seconds of that it raises
        ``TooManyStalledMsgsError``. Each ack awaitable ends within the context's
        ``timeout``.
        """
        return self._core.publish_async(
            subject,
            payload,
            wait_stall,
            stream,
            headers,
            msg_ttl,
            msg_id=msg_id,
            expected_last_sequence=expected_last_sequence,
            expected_last_subject_sequence=expected_last_subject_sequence,
            expected_last_msg_id=expected_last_msg_id,
        )

    def publish_async_pending(self) -> int:
        """How many ``publish_async`` acks are still on their way."""
        return self._core.pending()

    def publish_async_completed(self) -> Awaitable[None]:
        """Resolves once every ``publish_async`` ack has arrived (or failed)."""
        return self._core.completed()

    # -- async-nats's handles ----------------------------------------------------------

    async def create_stream(self, config: api.StreamConfig | None = None, **params: Any) -> Stream:
        """A new stream (or the same one again) from ``config`` and ``params``."""
        info = await self._jsm.add_stream(config, **params)
        return Stream(self, info.config.name or "", info)

    async def get_stream(self, name: str) -> Stream:
        """The stream ``name``, with its info.

        Raises:
            natsrs.js.errors.NotFoundError: no such stream.
        """
        return Stream(self, name, await self._jsm.stream_info(name))

    def get_stream_no_info(self, name: str) -> Stream:
        """A handle on the stream ``name`` without asking the server anything."""
        return Stream(self, name, None)

    async def get_or_create_stream(
        self, config: api.StreamConfig | None = None, **params: Any
    ) -> Stream:
        """The stream ``config.name``, made from ``config`` if it does not exist."""
        config = (config or api.StreamConfig()).evolve(**params)
        if not config.name:
            raise ValueError("nats: stream name is required")
        try:
            return await self.get_stream(config.name)
        except NotFoundError:
            return await self.create_stream(config)

    async def stream_by_subject(self, subject: str) -> str:
        """The name of the stream that takes ``subject``."""
        return await self._jsm.find_stream_name_by_subject(subject)

    async def streams(self) -> AsyncIterator[api.StreamInfo]:
        """Every stream's info, page by page."""
        offset = 0
        while True:
            page = await self._jsm.streams_info(offset)
            for info in page:
                yield info
            if not page:
                return
            offset += len(page)

    # -- push consumers ---------------------------------------------------------------

    async def subscribe(
        self,
        subject: str,
        queue: str | None = None,
        cb: Callback | None = None,
        durable: str | None = None,
        stream: str | None = None,
        config: api.ConsumerConfig | None = None,
        manual_ack: bool = False,
        ordered_consumer: bool = False,
        idle_heartbeat: float | None = None,
        flow_control: bool = False,
        pending_msgs_limit: int = DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
        deliver_policy: api.DeliverPolicy | None = None,
        headers_only: bool | None = None,
        inactive_threshold: float | None = None,
    ) -> _Push:
        """A push subscription on ``subject``: the durable consumer (or the ``queue``'s,
        whose name is the queue) bound if it exists, else a consumer made for it.

        With ``cb`` each message is passed to it in order and acked after it returns,
        unless ``manual_ack`` or the consumer does not ack. ``ordered_consumer`` gives
        every message once, in order, recreating the consumer after a gap or a lost
        connection. Pending limits other than nats-py's defaults are enforced as
        nats-py does.
        """
        if stream is None:
            stream = await self._jsm.find_stream_name_by_subject(subject)
        if queue:
            if durable and durable != queue:
                raise Error(f"cannot create queue subscription '{queue}' to consumer '{durable}'")
            durable = queue
        info = None
        if durable:
            try:
                info = await self._jsm.consumer_info(stream, durable)
            except NotFoundError:
                info = None
        if info is not None:
            config = info.config
            _check_binding(info, queue)
            consumer = info.name
        else:
            config = api.ConsumerConfig() if config is None else config
            if not config.durable_name:
                config.durable_name = durable
            if not config.deliver_group:
                config.deliver_group = queue
            if not config.headers_only:
                config.headers_only = headers_only
            if deliver_policy:
                config.deliver_policy = deliver_policy
            if inactive_threshold:
                config.inactive_threshold = inactive_threshold
            if config.deliver_subject is None:
                config.deliver_subject = self._native.new_inbox()
            if not config.filter_subjects:
                config.filter_subject = subject
            config.flow_control = flow_control
            if idle_heartbeat:
                config.idle_heartbeat = idle_heartbeat
            else:
                idle_heartbeat = config.idle_heartbeat or 5
            if ordered_consumer:
                # One delivery at a time, never redelivered: what makes gaps detectable.
                config.flow_control = True
                config.ack_policy = api.AckPolicy.NONE
                config.max_deliver = 1
                config.ack_wait = 22 * 3600
                config.idle_heartbeat = idle_heartbeat
                config.num_replicas = 1
                config.mem_storage = True
            created = await self._jsm.add_consumer(stream, config=config)
            consumer = created.name
        return await self.subscribe_bind(
            stream=stream,
            config=config,
            consumer=consumer,
            cb=cb,
            manual_ack=manual_ack,
            ordered_consumer=ordered_consumer,
            pending_msgs_limit=pending_msgs_limit,
            pending_bytes_limit=pending_bytes_limit,
        )

    async def subscribe_bind(
        self,
        stream: str,
        config: api.ConsumerConfig,
        consumer: str,
        cb: Callback | None = None,
        manual_ack: bool = False,
        ordered_consumer: bool = False,
        pending_msgs_limit: int = DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
    ) -> _Push:
        """A push subscription on the existing ``consumer`` whose ``config`` is given."""
        if config.deliver_subject is None:
            raise TypeError("config.deliver_subject is required")
        if cb is not None and not callable(cb):
            raise core_errors.InvalidCallbackTypeError("nats: callbacks must be callable")
        # Consumers that take no acks (or whose acks come by flow control) get none.
        auto_ack = (
            cb is not None
            and not manual_ack
            and config.ack_policy not in (api.AckPolicy.NONE, api.AckPolicy.FLOW_CONTROL)
        )
        msgs_limit, bytes_limit = _limits(pending_msgs_limit, pending_bytes_limit)
        sub = await self._native.subscribe(
            config.deliver_subject,
            queue=config.deliver_group or None,
            pending_msgs_limit=msgs_limit,
            pending_bytes_limit=bytes_limit,
        )
        return PushSubscription(
            self,
            self._native,
            sub,
            stream,
            consumer,
            config,
            cb=cb,
            auto_ack=auto_ack,
            ordered=ordered_consumer,
        )

    # -- pull consumers ---------------------------------------------------------------

    async def pull_subscribe(
        self,
        subject: str,
        durable: str | None = None,
        stream: str | None = None,
        config: api.ConsumerConfig | None = None,
        pending_msgs_limit: int = DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
        inbox_prefix: bytes | None = None,
    ) -> _Pull:
        """A pull subscription on ``subject``: its stream found by subject unless given,
        the durable consumer reused if it exists, else a consumer made (filtered on
        ``subject``, from ``config`` when given)."""
        if stream is None:
            stream = await self._jsm.find_stream_name_by_subject(subject)
        should_create = True
        if durable:
            try:
                await self._jsm.consumer_info(stream, durable)
                should_create = False
            except NotFoundError:
                pass
        consumer_name = durable
        if should_create:
            config = api.ConsumerConfig() if config is None else config
            # A made consumer filters on the subject, unless its config lists filters.
            if not config.filter_subjects:
                config.filter_subject = subject
            if durable:
                config.name = durable
                config.durable_name = durable
            else:
                consumer_name = self._native.new_inbox().rsplit(".", 1)[-1]
                config.name = consumer_name
            await self._jsm.add_consumer(stream, config=config)
        return await self.pull_subscribe_bind(
            durable=durable,
            stream=stream,
            inbox_prefix=inbox_prefix,
            pending_msgs_limit=pending_msgs_limit,
            pending_bytes_limit=pending_bytes_limit,
            name=consumer_name,
        )

    async def pull_subscribe_bind(
        self,
        consumer: str | None = None,
        stream: str | None = None,
        inbox_prefix: bytes | None = None,
        pending_msgs_limit: int = DEFAULT_JS_SUB_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int = DEFAULT_JS_SUB_PENDING_BYTES_LIMIT,
        name: str | None = None,
        durable: str | None = None,
    ) -> _Pull:
        """A pull subscription on an existing consumer (``durable``, ``name`` or
        ``consumer``, in nats-py's order of preference) of ``stream``."""
        if not stream:
            raise ValueError("nats: stream name is required")
        native = self._native
        inbox = native.new_inbox()
        if inbox_prefix is not None:
            prefix = inbox_prefix.decode() if isinstance(inbox_prefix, bytes) else inbox_prefix
            inbox = prefix + inbox.rsplit(".", 1)[-1]
        msgs_limit, bytes_limit = _limits(pending_msgs_limit, pending_bytes_limit)
        sub = await native.subscribe(
            inbox, pending_msgs_limit=msgs_limit, pending_bytes_limit=bytes_limit
        )
        consumer_name = durable or name or consumer
        if not consumer_name:
            await sub.unsubscribe()
            raise ValueError("nats: consumer name is required")
        return PullSubscription(self, native, sub, stream, consumer_name, inbox)

    # -- key-value (natsrs.js.kv) ----------------------------------------------------------

    async def key_value(self, bucket: str) -> kv.KeyValue:
        """The Key-Value bucket ``bucket`` (async-nats's ``get_key_value``).

        Raises:
            natsrs.js.errors.InvalidBucketNameError: not a valid bucket name (nothing
                is sent).
            natsrs.js.errors.BucketNotFoundError: no such bucket.
            natsrs.js.errors.BadBucketError: ``KV_<bucket>`` is a stream, not a bucket.
        """
        from natsrs.js.errors import BadBucketError, BucketNotFoundError, InvalidBucketNameError

        if not kv._is_bucket_valid(bucket):
            raise InvalidBucketNameError(bucket)
        stream = kv.KV_STREAM_TEMPLATE.format(bucket=bucket)
        try:
            info = await self.stream_info(stream)
        except NotFoundError:
            raise BucketNotFoundError() from None
        if (info.config.max_msgs_per_subject or 0) < 1:
            raise BadBucketError()
        return kv.KeyValue(
            name=bucket,
            stream=stream,
            pre=kv.KV_PRE_TEMPLATE.format(bucket=bucket),
            js=self,
            direct=bool(info.config.allow_direct),
        )

    get_key_value = key_value

    async def create_key_value(
        self, config: api.KeyValueConfig | None = None, **params: Any
    ) -> kv.KeyValue:
        """A new bucket (or the same one again) from ``config`` with ``params`` over it
        (``KeyValueConfig`` fields: ``bucket``, ``history``, ``ttl``, ``direct``...).

        The stream is nats-py's: ``KV_<bucket>`` on ``$KV.<bucket>.>``, rollups
        allowed, deletes denied, discard new, per-message TTLs allowed, a duplicate
        window of 2 minutes (or ``ttl`` when shorter); ``limit_marker_ttl`` becomes
        its ``subject_delete_marker_ttl`` (nats-server 2.11+).

        Raises:
            natsrs.js.errors.InvalidBucketNameError: missing or invalid bucket name.
            natsrs.js.errors.KeyHistoryTooLargeError: ``history`` over 64.
            natsrs.js.errors.KeyValueLimitMarkerTTLNotSupportedError: a marker TTL on
                a server without them.
            natsrs.js.errors.BadRequestError: the server refused the configuration.
        """
        config, stream = await self._kv_stream(config, params)
        info = await self.add_stream(stream)
        return self._kv_of(config, stream, info)

    async def update_key_value(
        self, config: api.KeyValueConfig | None = None, **params: Any
    ) -> kv.KeyValue:
        """async-nats's `update_key_value`: an existing bucket's stream set to ``config``.

        Raises:
            natsrs.js.errors.NotFoundError: no such bucket.
        """
        config, stream = await self._kv_stream(config, params)
        info = await self.update_stream(stream)
        return self._kv_of(config, stream, info)

    async def create_or_update_key_value(
        self, config: api.KeyValueConfig | None = None, **params: Any
    ) -> kv.KeyValue:
        """async-nats's `create_or_update_key_value`: the bucket made, or its stream set
        to ``config`` when it exists with another configuration."""
        from natsrs.js.errors import BadRequestError

        config, stream = await self._kv_stream(config, params)
        try:
            info = await self.add_stream(stream)
        except BadRequestError as err:
            # 10058: the stream exists with a different configuration.
            if err.err_code != 10058:
                raise
            info = await self.update_stream(stream)
        return self._kv_of(config, stream, info)

    def _kv_of(
        self, config: api.KeyValueConfig, stream: api.StreamConfig, info: api.StreamInfo
    ) -> kv.KeyValue:
        return kv.KeyValue(
            name=config.bucket,
            stream=stream.name or "",
            pre=kv.KV_PRE_TEMPLATE.format(bucket=config.bucket),
            js=self,
            direct=bool(info.config.allow_direct),
        )

    async def _kv_stream(
        self, config: api.KeyValueConfig | None, params: dict[str, Any]
    ) -> tuple[api.KeyValueConfig, api.StreamConfig]:
        """The bucket's config and its stream's, checked (nothing is sent but the
        account query a marker TTL needs)."""
        from natsrs.js.errors import (
            InvalidBucketNameError,
            KeyHistoryTooLargeError,
            KeyValueLimitMarkerTTLNotSupportedError,
        )

        if config is None:
            bucket = params.get("bucket")
            if not kv._is_bucket_valid(bucket):
                raise InvalidBucketNameError(bucket)
            config = api.KeyValueConfig(bucket=bucket)  # type: ignore[arg-type]
        config = config.evolve(**params)
        if not kv._is_bucket_valid(config.bucket):
            raise InvalidBucketNameError(config.bucket)
        if config.history > kv.KV_MAX_HISTORY:
            raise KeyHistoryTooLargeError()
        duplicate_window = 2 * 60.0
        if config.ttl and config.ttl < duplicate_window:
            duplicate_window = config.ttl
        marker_ttl = None
        if config.limit_marker_ttl is not None and config.limit_marker_ttl > 0:
            account = await self.account_info()
            if not account.api.level or account.api.level < 1:
                raise KeyValueLimitMarkerTTLNotSupportedError()
            marker_ttl = config.limit_marker_ttl
        stream = api.StreamConfig(
            name=kv.KV_STREAM_TEMPLATE.format(bucket=config.bucket),
            description=config.description,
            subjects=[f"$KV.{config.bucket}.>"],
            allow_direct=config.direct,
            allow_rollup_hdrs=True,
            allow_msg_ttl=True,
            deny_delete=True,
            discard=api.DiscardPolicy.NEW,
            duplicate_window=duplicate_window,
            max_age=config.ttl,
            max_bytes=config.max_bytes,
            max_consumers=-1,
            max_msg_size=config.max_value_size,
            max_msgs=-1,
            max_msgs_per_subject=config.history,
            num_replicas=config.replicas,
            storage=config.storage,
            placement=config.placement,
            republish=config.republish,
            subject_delete_marker_ttl=marker_ttl,
        )
        return config, stream

    async def delete_key_value(self, bucket: str) -> bool:
        """Delete the bucket and everything in it.

        Raises:
            natsrs.js.errors.InvalidBucketNameError: not a valid bucket name.
            natsrs.js.errors.NotFoundError: no such bucket.
        """
        from natsrs.js.errors import InvalidBucketNameError

        if not kv._is_bucket_valid(bucket):
            raise InvalidBucketNameError(bucket)
        return await self.delete_stream(kv.KV_STREAM_TEMPLATE.format(bucket=bucket))

    # -- object store (natsrs.js.object_store) ---------------------------------------------

    if TYPE_CHECKING:
        from natsrs.js.object_store import ObjectStore as _ObjectStore

    async def object_store(self, bucket: str) -> _ObjectStore:
        """The Object Store bucket ``bucket``.

        Raises:
            natsrs.js.errors.InvalidBucketNameError: not a bucket name (nothing is sent).
            natsrs.js.errors.BucketNotFoundError: no such bucket.
        """
        from natsrs.js import object_store as obs
        from natsrs.js.errors import BucketNotFoundError

        obs._validate_bucket(bucket)
        stream = obs.OBJ_STREAM_TEMPLATE.format(bucket=bucket)
        try:
            await self._jsm.stream_info(stream)
        except NotFoundError:
            raise BucketNotFoundError(description=f"nats: bucket not found: {bucket}") from None
        return obs.ObjectStore(name=bucket, stream=stream, js=self)

    async def create_object_store(
        self,
        bucket: str | None = None,
        config: api.ObjectStoreConfig | None = None,
        **params: Any,
    ) -> _ObjectStore:
        """Create the Object Store bucket ``bucket`` (or ``config.bucket``) from
        ``config`` and ``params``: its stream ``OBJ_<bucket>`` as nats-py makes it
        (discard new, rollups and direct gets allowed).

        Raises:
            natsrs.js.errors.InvalidBucketNameError: no valid bucket name (nothing is sent).
            natsrs.js.errors.BadRequestError: the bucket exists with another configuration.
        """
        from natsrs.js import object_store as obs

        config = api.ObjectStoreConfig(bucket=bucket) if config is None else config.evolve()
        if bucket is not None:
            config.bucket = bucket
        config = config.evolve(**params)
        name = obs._validate_bucket(config.bucket)
        max_bytes = config.max_bytes
        if max_bytes == 0:
            max_bytes = -1
        stream = api.StreamConfig(
            name=obs.OBJ_STREAM_TEMPLATE.format(bucket=name),
            description=config.description,
            subjects=[
                obs.OBJ_ALL_CHUNKS_PRE_TEMPLATE.format(bucket=name),
                obs.OBJ_ALL_META_PRE_TEMPLATE.format(bucket=name),
            ],
            max_age=config.ttl,
            max_bytes=max_bytes,
            max_consumers=0,
            storage=config.storage,
            num_replicas=config.replicas,
            placement=config.placement,
            discard=api.DiscardPolicy.NEW,
            allow_rollup_hdrs=True,
            allow_direct=True,
        )
        await self._jsm.add_stream(stream)
        return obs.ObjectStore(name=name, stream=stream.name or "", js=self)

    async def delete_object_store(self, bucket: str) -> bool:
        """Delete the Object Store bucket ``bucket`` and every object in it.

        Raises:
            natsrs.js.errors.InvalidBucketNameError: not a bucket name (nothing is sent).
            natsrs.js.errors.NotFoundError: no such bucket.
        """
        from natsrs.js import object_store as obs

        obs._validate_bucket(bucket)
        return await self._jsm.delete_stream(obs.OBJ_STREAM_TEMPLATE.format(bucket=bucket))
