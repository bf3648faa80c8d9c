"""A pull consumer's messages in nats-py's shape: ``JetStreamContext.pull_subscribe``
gives a :class:`PullSubscription` that fetches batches through one inbox subscription.

Messages already queued are taken in one call (``next_batch``) rather than one ``await``
each; the status answers of a pull request (404, 408, 409, 100) never reach the caller.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from natsrs import errors as core_errors
from natsrs._natsrs import Client as NativeClient
from natsrs._natsrs import Message, Subscriber
from natsrs.js import api
from natsrs.js.errors import APIError, FetchTimeoutError

if TYPE_CHECKING:
    from natsrs.js.client import JetStreamContext

__all__ = ["PullSubscription"]

# Status codes a pull consumer answers with instead of a message.
_HEARTBEAT = 100
_NO_MESSAGES = 404
_REQUEST_TIMEOUT = 408
_CONFLICT = 409
_TEMPORARY = frozenset((_NO_MESSAGES, _REQUEST_TIMEOUT, _CONFLICT))


def _status_error(msg: Message) -> APIError:
    """A pull consumer's error status (not one that only ends a fetch) as nats-py raises it."""
    return APIError.from_error({"code": msg.status, "description": msg.description or ""})


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
        self._unsubscribed = False

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
        """Stop the inbox; the consumer stays on the server. A later ``fetch`` times out.

        Raises:
            natsrs.errors.BadSubscriptionError: it was already unsubscribed.
        """
        if self._unsubscribed:
            raise core_errors.BadSubscriptionError("nats: invalid subscription")
        self._unsubscribed = True
        await self._live().unsubscribe()

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
        if len(msgs) == batch:
            return msgs
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
            try:
                arrived = await sub.next_batch(batch - len(msgs), timeout=0)
            except core_errors.TimeoutError:
                # Another fetch on this subscription took them first.
                break
            msgs.extend(msg for msg in arrived if msg.status is None)
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
        a heartbeat came (what makes an empty fetch ``FetchTimeoutError``)."""
        heard = False
        while len(msgs) < batch:
            remaining = _remaining(timeout, start)
            if remaining is not None and remaining <= 0:
                return heard
            try:
                arrived = await sub.next_batch(batch - len(msgs), timeout=remaining)
            except core_errors.TimeoutError:
                return heard
            if not arrived:
                # Unsubscribed: nothing can arrive any more (nats-py times out here).
                raise core_errors.TimeoutError("nats: fetch on an unsubscribed pull subscription")
            for msg in arrived:
                status = msg.status
                if status is None:
                    msgs.append(msg)
                    continue
                if status == _HEARTBEAT:
                    # Only a heartbeat shows the server is there (nats-py's rule).
                    heard = True
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
