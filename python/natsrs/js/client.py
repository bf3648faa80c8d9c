"""nats-py's ``nats.js.client``: :class:`JetStreamContext`, what ``nc.jetstream()`` gives.

Publishing runs in the extension (``natsrs._natsrs._JetStream``): the request, the
``PubAck`` parsed from its JSON, the acks in flight of ``publish_async`` counted by one
semaphore. A pull subscription fetches through one inbox subscription, as nats-py's
does, and takes the messages already queued in one call rather than one ``await`` each.
Stream and consumer management is :class:`natsrs.js.manager.JetStreamManager`'s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from natsrs import errors as core_errors
from natsrs._natsrs import Client as NativeClient
from natsrs._natsrs import Message, PubAck, Subscriber
from natsrs.js import api
from natsrs.js.errors import APIError, FetchTimeoutError, NotFoundError
from natsrs.js.manager import JetStreamManager

if TYPE_CHECKING:
    from natsrs._natsrs import HeaderMap
    from natsrs.aio.client import Client as NatsPyClient

__all__ = ["JetStreamContext"]

DEFAULT_JS_SUB_PENDING_MSGS_LIMIT = 512 * 1024
DEFAULT_JS_SUB_PENDING_BYTES_LIMIT = 256 * 1024 * 1024

# Status codes a pull consumer answers with instead of a message.
_HEARTBEAT = 100
_NO_MESSAGES = 404
_REQUEST_TIMEOUT = 408
_CONFLICT = 409
_TEMPORARY = frozenset((_NO_MESSAGES, _REQUEST_TIMEOUT, _CONFLICT))


def _native(conn: NativeClient | NatsPyClient) -> NativeClient:
    """The extension's client behind either client natsrs gives."""
    if isinstance(conn, NativeClient):
        return conn
    return conn._live()


def _status_error(msg: Message) -> APIError:
    """A pull consumer's error status (not one that only ends a fetch) as nats-py raises it."""
    return APIError.from_error({"code": msg.status, "description": msg.description or ""})


class JetStreamContext(JetStreamManager):
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
    ) -> PullSubscription:
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
    ) -> PullSubscription:
        """A pull subscription on an existing consumer (``durable``, ``name`` or
        ``consumer``, in nats-py's order of preference) of ``stream``."""
        if not stream:
            raise ValueError("nats: stream name is required")
        native = self._native
        inbox = native.new_inbox()
        if inbox_prefix is not None:
            prefix = inbox_prefix.decode() if isinstance(inbox_prefix, bytes) else inbox_prefix
            inbox = prefix + inbox.rsplit(".", 1)[-1]
        sub = await native.subscribe(inbox)
        consumer_name = durable or name or consumer
        if not consumer_name:
            await sub.unsubscribe()
            raise ValueError("nats: consumer name is required")
        return PullSubscription(self, native, sub, stream, consumer_name, inbox)


class PullSubscription:
    """Messages of a pull consumer, fetched on request through one inbox."""

    def __init__(
        self,
        js: JetStreamContext,
        native: NativeClient,
        sub: Subscriber,
        stream: str,
        consumer: str,
        deliver: str,
    ) -> None:
        self._js = js
        self._nc = native
        self._sub: Subscriber | None = sub
        self._stream = stream
        self._consumer = consumer
        self._nms = f"{js._prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        self._deliver = deliver

    @property
    def pending_msgs(self) -> int:
        """Messages delivered to the inbox and not fetched yet."""
        return self._live().pending_msgs

    @property
    def pending_bytes(self) -> int:
        """Their payload bytes."""
        return self._live().pending_bytes

    @property
    def delivered(self) -> int:
        """Messages (status messages included) delivered to the inbox so far."""
        return self._live().delivered

    def _live(self) -> Subscriber:
        if self._sub is None:
            raise ValueError("nats: invalid subscription")
        return self._sub

    async def unsubscribe(self) -> None:
        """Stop the inbox; the consumer stays on the server."""
        await self._live().unsubscribe()
        self._sub = None

    async def consumer_info(self) -> api.ConsumerInfo:
        """The consumer's current info."""
        return await self._js._jsm.consumer_info(self._stream, self._consumer)

    async def fetch(
        self, batch: int = 1, timeout: float | None = 5, heartbeat: float | None = None
    ) -> list[Message]:
        """Up to ``batch`` messages: those ready now, else the first to arrive within
        ``timeout`` seconds with whatever follows it at once.

        Raises:
            natsrs.errors.TimeoutError: nothing arrived in time.
            natsrs.js.errors.FetchTimeoutError: nothing but heartbeats arrived.
            natsrs.js.errors.APIError: the consumer answered with an error status.
        """
        sub = self._live()
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError("nats: invalid batch size")
        if timeout is not None and timeout <= 0:
            raise ValueError("nats: invalid fetch timeout")
        start = time.monotonic()
        msgs = await self._queued(sub, batch)
        if msgs:
            # Only what is already there: a no-wait probe for the rest, no lingering pull.
            await self._request(batch - len(msgs), None, heartbeat, no_wait=True)
            await self._collect(sub, msgs, batch, start, timeout, until_status=True)
            return msgs
        expires = int(timeout * 1_000_000_000) - 100_000 if timeout else None
        if batch > 1:
            # nats-py probes with no_wait first so a batch takes what the stream has.
            await self._request(batch, expires, heartbeat, no_wait=True)
            got = await self._collect(sub, msgs, batch, start, timeout, until_status=True)
            if msgs:
                return msgs
            remaining = _remaining(timeout, start)
            if remaining is not None:
                expires = int(remaining * 1_000_000_000) - 100_000
                if expires <= 0:
                    raise FetchTimeoutError if got else core_errors.TimeoutError()
            heard = got
        else:
            heard = False
        await self._request(batch, expires, heartbeat, no_wait=False)
        got = await self._collect(sub, msgs, batch, start, timeout, until_status=False)
        if not msgs:
            if heard or got:
                raise FetchTimeoutError
            raise core_errors.TimeoutError("nats: fetch timed out")
        return msgs

    async def _queued(self, sub: Subscriber, batch: int) -> list[Message]:
        """Messages already in the inbox (left from an earlier fetch), statuses dropped."""
        msgs: list[Message] = []
        while len(msgs) < batch and sub.pending_msgs:
            for msg in await sub.next_batch(min(sub.pending_msgs, batch - len(msgs))):
                if msg.status is None:
                    msgs.append(msg)
        return msgs

    async def _request(
        self, batch: int, expires: int | None, heartbeat: float | None, *, no_wait: bool
    ) -> None:
        request: dict[str, Any] = {"batch": batch}
        if expires:
            request["expires"] = expires
        if heartbeat:
            request["idle_heartbeat"] = int(heartbeat * 1_000_000_000)
        if no_wait:
            request["no_wait"] = True
        await self._nc.publish(self._nms, json.dumps(request).encode(), self._deliver)

    async def _collect(
        self,
        sub: Subscriber,
        msgs: list[Message],
        batch: int,
        start: float,
        timeout: float | None,
        *,
        until_status: bool,
    ) -> bool:
        """Adds arriving messages to ``msgs`` until ``batch`` are there, a status ends
        the request, or time is up (an error only when nothing came). Returns whether
        the server answered at all (a heartbeat or a status)."""
        heard = False
        while len(msgs) < batch:
            remaining = _remaining(timeout, start)
            if remaining is not None and remaining <= 0:
                return heard
            try:
                if sub.pending_msgs:
                    arrived = await sub.next_batch(min(sub.pending_msgs, batch - len(msgs)))
                else:
                    arrived = [await sub.next_msg(timeout=remaining)]
            except core_errors.TimeoutError:
                return heard
            for msg in arrived:
                status = msg.status
                if status is None:
                    msgs.append(msg)
                    continue
                heard = True
                if status == _HEARTBEAT:
                    continue
                if status not in _TEMPORARY:
                    if msgs:
                        return heard
                    raise _status_error(msg)
                # 404/408/409 end this request: with messages, or to try again.
                if until_status or msgs:
                    return heard
        return heard


def _remaining(timeout: float | None, start: float) -> float | None:
    return None if timeout is None else timeout - (time.monotonic() - start)
