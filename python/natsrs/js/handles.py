"""async-nats's shape of JetStream: handles on a stream and on its consumers.

``await js.get_stream("S")`` (or ``create_stream``, ``get_or_create_stream``,
``get_stream_no_info``) gives a :class:`Stream`; its ``create_consumer`` /
``get_consumer`` give a :class:`PullConsumer`, and ``ordered_consumer`` an
:class:`OrderedConsumer`. A pull consumer reads three ways, as async-nats's does:
``fetch`` (what is there now, no waiting), ``batch`` (up to a count within an expiry)
and ``messages()`` (a continuous async iterator that keeps pull requests outstanding,
follows heartbeats and re-pulls as it goes). ``messages().batches()`` gives what has
arrived as lists, one ``await`` per batch.

Every request goes through :class:`JetStreamManager`; the data classes are
``natsrs.js.api``'s (the server's field names).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from natsrs import errors as core_errors
from natsrs._natsrs import Message, Subscriber
from natsrs.js import api
from natsrs.js.errors import APIError
from natsrs.js.pull import (
    _CONFLICT,
    _HEARTBEAT,
    _NO_MESSAGES,
    _REQUEST_TIMEOUT,
    _TEMPORARY,
    _status_error,
)

if TYPE_CHECKING:
    from natsrs.js.client import JetStreamContext

__all__ = ["OrderedConsumer", "PullConsumer", "PullMessages", "Stream"]

_PENDING_MSGS = "Nats-Pending-Messages"
_BATCH = 1024
# How many times in a row an ordered consumer tries to replace its consumer before the
# iteration fails.
_ATTEMPTS = 10


class Stream:
    """A stream by name; ``cached_info`` is its info when the handle was made from one."""

    def __init__(self, js: JetStreamContext, name: str, info: api.StreamInfo | None) -> None:
        self._js = js
        self.name = name
        self.cached_info = info

    def __repr__(self) -> str:
        return f"<natsrs.js.Stream {self.name!r}>"

    async def info(self, subjects_filter: str | None = None) -> api.StreamInfo:
        """The stream's current info (``subjects_filter`` lists its subjects' counts)."""
        self.cached_info = await self._js._jsm.stream_info(self.name, subjects_filter)
        return self.cached_info

    async def purge(
        self, subject: str | None = None, seq: int | None = None, keep: int | None = None
    ) -> bool:
        """Remove messages: all, those of ``subject``, those before ``seq``, or all but
        the last ``keep``."""
        return await self._js._jsm.purge_stream(self.name, seq=seq, subject=subject, keep=keep)

    async def get_raw_message(self, seq: int) -> api.RawStreamMsg:
        """The message at ``seq``."""
        return await self._js._jsm.get_msg(self.name, seq=seq)

    async def get_last_raw_message_by_subject(self, subject: str) -> api.RawStreamMsg:
        """The last message of ``subject``."""
        return await self._js._jsm.get_msg(self.name, subject=subject)

    async def direct_get(self, seq: int) -> api.RawStreamMsg:
        """The message at ``seq``, through the direct-get API (``allow_direct``)."""
        return await self._js._jsm.get_msg(self.name, seq=seq, direct=True)

    async def direct_get_last_for_subject(self, subject: str) -> api.RawStreamMsg:
        """The last message of ``subject``, through the direct-get API."""
        return await self._js._jsm.get_msg(self.name, subject=subject, direct=True)

    async def delete_message(self, seq: int) -> bool:
        """Remove the message at ``seq``."""
        return await self._js._jsm.delete_msg(self.name, seq)

    async def create_consumer(
        self, config: api.ConsumerConfig | None = None, **params: Any
    ) -> PullConsumer:
        """A new pull consumer (or the same one again) from ``config`` and ``params``."""
        info = await self._js._jsm.add_consumer(self.name, config, **params)
        return PullConsumer(self._js, self.name, info.name, info)

    async def get_consumer(self, name: str) -> PullConsumer:
        """The existing consumer ``name``.

        Raises:
            natsrs.js.errors.NotFoundError: no such consumer.
        """
        info = await self._js._jsm.consumer_info(self.name, name)
        return PullConsumer(self._js, self.name, name, info)

    async def get_or_create_consumer(
        self, name: str, config: api.ConsumerConfig | None = None, **params: Any
    ) -> PullConsumer:
        """The consumer ``name``, made from ``config`` if it does not exist."""
        from natsrs.js.errors import NotFoundError

        try:
            return await self.get_consumer(name)
        except NotFoundError:
            config = (config or api.ConsumerConfig()).evolve(**params)
            if config.durable_name is None and config.name is None:
                config = config.evolve(durable_name=name)
            return await self.create_consumer(config)

    async def delete_consumer(self, name: str) -> bool:
        return await self._js._jsm.delete_consumer(self.name, name)

    async def consumer_info(self, name: str) -> api.ConsumerInfo:
        return await self._js._jsm.consumer_info(self.name, name)

    async def consumers(self) -> AsyncIterator[api.ConsumerInfo]:
        """Every consumer's info, page by page."""
        offset = 0
        while True:
            page = await self._js._jsm.consumers_info(self.name, offset)
            for info in page:
                yield info
            if not page:
                return
            offset += len(page)

    async def consumer_names(self) -> AsyncIterator[str]:
        async for info in self.consumers():
            yield info.name

    async def pause_consumer(self, name: str, until: Any) -> api.ConsumerPause:
        return await self._js._jsm.pause_consumer(self.name, name, until)

    async def resume_consumer(self, name: str) -> api.ConsumerPause:
        return await self._js._jsm.resume_consumer(self.name, name)

    async def ordered_consumer(
        self,
        filter_subject: str | None = None,
        filter_subjects: list[str] | None = None,
        deliver_policy: api.DeliverPolicy = api.DeliverPolicy.ALL,
        opt_start_seq: int | None = None,
        headers_only: bool | None = None,
    ) -> OrderedConsumer:
        """Every message of the stream (or of the filters) once, in order, through pull
        requests; the consumer is recreated after a gap or a lost connection."""
        config = api.ConsumerConfig(
            filter_subject=filter_subject,
            filter_subjects=filter_subjects,
            deliver_policy=deliver_policy,
            opt_start_seq=opt_start_seq,
            headers_only=headers_only,
            ack_policy=api.AckPolicy.NONE,
            max_deliver=1,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=300.0,
        )
        consumer = OrderedConsumer(self._js, self.name, config)
        await consumer._create(None)
        return consumer


class PullConsumer:
    """A pull consumer of a stream."""

    def __init__(
        self, js: JetStreamContext, stream: str, name: str, info: api.ConsumerInfo | None
    ) -> None:
        self._js = js
        self.stream = stream
        self.name = name
        self.cached_info = info

    def __repr__(self) -> str:
        return f"<natsrs.js.PullConsumer {self.stream!r}/{self.name!r}>"

    async def info(self) -> api.ConsumerInfo:
        self.cached_info = await self._js._jsm.consumer_info(self.stream, self.name)
        return self.cached_info

    async def fetch(self, max_messages: int = 100, max_bytes: int | None = None) -> list[Message]:
        """The messages available now, up to ``max_messages``: an empty list when there
        are none (nothing waits)."""
        return await self._once(max_messages, max_bytes, None, None, no_wait=True)

    async def batch(
        self,
        max_messages: int = 100,
        expires: float = 30.0,
        max_bytes: int | None = None,
        heartbeat: float | None = None,
    ) -> list[Message]:
        """Up to ``max_messages``, waiting at most ``expires`` seconds for them: what
        arrived by then (maybe none)."""
        return await self._once(max_messages, max_bytes, expires, heartbeat, no_wait=False)

    def messages(
        self,
        max_messages: int = 500,
        expires: float = 30.0,
        heartbeat: float | None = None,
        threshold: int | None = None,
    ) -> PullMessages:
        """A continuous async iterator: pull requests for ``max_messages`` kept
        outstanding (re-pulled when fewer than ``threshold`` are left, by default half),
        each expiring after ``expires`` seconds, with ``heartbeat`` (default half of
        ``expires``, at most 15 s) to notice a lost consumer."""
        return PullMessages(
            self._js, self._next_subject(), max_messages, expires, heartbeat, threshold
        )

    def _next_subject(self) -> str:
        return f"{self._js._prefix}.CONSUMER.MSG.NEXT.{self.stream}.{self.name}"

    async def _once(
        self,
        max_messages: int,
        max_bytes: int | None,
        expires: float | None,
        heartbeat: float | None,
        *,
        no_wait: bool,
    ) -> list[Message]:
        _check_count(max_messages)
        native = self._js._native
        inbox = native.new_inbox()
        sub = await native.subscribe(inbox)
        try:
            request: dict[str, Any] = {"batch": max_messages}
            if max_bytes:
                request["max_bytes"] = max_bytes
            if no_wait:
                request["no_wait"] = True
            if expires:
                request["expires"] = int(expires * 1_000_000_000)
            if heartbeat:
                request["idle_heartbeat"] = int(heartbeat * 1_000_000_000)
            await native.publish(self._next_subject(), json.dumps(request).encode(), inbox)
            msgs: list[Message] = []
            deadline = time.monotonic() + (expires or self._js._timeout) + 1.0
            while len(msgs) < max_messages:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    arrived = await sub.next_batch(max_messages - len(msgs), timeout=remaining)
                except core_errors.TimeoutError:
                    break
                if _take(arrived, msgs):
                    break
            return msgs
        finally:
            await sub.unsubscribe()


def _check_count(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError("max_messages must be a positive int")


def _take(arrived: list[Message], msgs: list[Message]) -> bool:
    """Adds the data messages to ``msgs``; True when a status ended the request."""
    for msg in arrived:
        status = msg.status
        if status is None:
            msgs.append(msg)
        elif status == _HEARTBEAT:
            continue
        elif status in _TEMPORARY:
            return True
        else:
            raise _status_error(msg)
    return False


class PullMessages:
    """A pull consumer's messages as they come (``async for``), or in the batches they
    arrive in (``async for batch in it.batches()``). ``stop()`` ends it."""

    def __init__(
        self,
        js: JetStreamContext,
        next_subject: str,
        max_messages: int,
        expires: float,
        heartbeat: float | None,
        threshold: int | None,
    ) -> None:
        _check_count(max_messages)
        if expires <= 0:
            raise ValueError("expires must be positive")
        self._js = js
        self._nms = next_subject
        self._max = max_messages
        self._expires = expires
        self._heartbeat = heartbeat if heartbeat is not None else min(expires / 2, 15.0)
        self._threshold = threshold if threshold is not None else max(1, max_messages // 2)
        self._sub: Subscriber | None = None
        self._inbox = ""
        # Messages asked for and not yet delivered (nor given up by a 408/409 status).
        self._outstanding = 0
        self._ready: deque[Message] = deque()
        self._stopped = False

    def __aiter__(self) -> PullMessages:
        return self

    async def __anext__(self) -> Message:
        while not self._ready:
            await self._arrive()
        return self._ready.popleft()

    async def batches(self) -> AsyncIterator[list[Message]]:
        """What has arrived, as lists: one ``await`` per batch."""
        while True:
            if not self._ready:
                try:
                    await self._arrive()
                except StopAsyncIteration:
                    return
            if self._ready:
                batch = list(self._ready)
                self._ready.clear()
                yield batch

    async def stop(self) -> None:
        """End the iteration; the consumer stays on the server."""
        self._stopped = True
        if self._sub is not None:
            await self._sub.unsubscribe()

    async def _pull(self) -> None:
        sub = self._sub
        if sub is None:
            native = self._js._native
            self._inbox = native.new_inbox()
            sub = self._sub = await native.subscribe(self._inbox)
        want = self._max - self._outstanding
        request = {
            "batch": want,
            "expires": int(self._expires * 1_000_000_000),
            "idle_heartbeat": int(self._heartbeat * 1_000_000_000),
        }
        await self._js._native.publish(self._nms, json.dumps(request).encode(), self._inbox)
        self._outstanding += want

    async def _arrive(self) -> None:
        """Waits for what arrives next, re-pulling as needed; raises
        ``StopAsyncIteration`` once stopped, and ``TimeoutError`` when not even a
        heartbeat came for two heartbeat intervals after a fresh pull."""
        if self._stopped:
            raise StopAsyncIteration
        if self._sub is None or self._outstanding <= self._threshold:
            await self._pull()
        sub = self._sub
        assert sub is not None
        silent = 0
        while True:
            try:
                arrived = await sub.next_batch(_BATCH, timeout=self._heartbeat * 2)
                break
            except core_errors.TimeoutError:
                if self._stopped:
                    raise StopAsyncIteration from None
                silent += 1
                if silent > 1:
                    raise
                # Lost requests (a reconnect, a restarted server): ask again.
                self._outstanding = 0
                await self._pull()
            except core_errors.BadSubscriptionError:
                raise StopAsyncIteration from None
        if not arrived:
            raise StopAsyncIteration
        for msg in arrived:
            status = msg.status
            if status is None:
                self._outstanding -= 1
                self._ready.append(msg)
            elif status in (_REQUEST_TIMEOUT, _CONFLICT):
                # The request ended: what it still owed is not coming.
                headers: Mapping[str, str] = msg.headers or {}
                left = headers.get(_PENDING_MSGS)
                self._outstanding -= int(left) if left else self._outstanding
                self._outstanding = max(self._outstanding, 0)
            elif status != _HEARTBEAT and status != _NO_MESSAGES:
                raise _status_error(msg)


class OrderedConsumer:
    """Every message once and in order, through an ephemeral pull consumer that is
    replaced (starting after the last stream sequence seen) when a message is missing or
    the consumer is lost. ``messages()`` iterates them."""

    def __init__(self, js: JetStreamContext, stream: str, config: api.ConsumerConfig) -> None:
        self._js = js
        self.stream = stream
        self._config = config
        self._consumer: PullConsumer | None = None
        self._stream_seq = 0
        self._consumer_seq = 0

    @property
    def name(self) -> str | None:
        return None if self._consumer is None else self._consumer.name

    async def _create(self, start: int | None) -> PullConsumer:
        config = self._config
        if start is not None:
            config = config.evolve(
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start
            )
        info = await self._js._jsm.add_consumer(self.stream, config)
        old, self._consumer = self._consumer, PullConsumer(self._js, self.stream, info.name, info)
        self._consumer_seq = 0
        if old is not None:
            asyncio.get_running_loop().create_task(_forget(old))
        return self._consumer

    async def messages(
        self, max_messages: int = 500, expires: float = 30.0, heartbeat: float | None = None
    ) -> AsyncIterator[Message]:
        """The messages, in stream order, until the caller stops iterating."""
        while True:
            consumer = self._consumer or await self._create(self._stream_seq + 1)
            pulled = consumer.messages(max_messages, expires, heartbeat)
            try:
                async for batch in pulled.batches():
                    for msg in batch:
                        stream_seq, consumer_seq = _sequences(msg.reply)
                        if consumer_seq != self._consumer_seq + 1:
                            raise _Gap
                        self._consumer_seq = consumer_seq
                        self._stream_seq = stream_seq
                        yield msg
            except (_Gap, core_errors.TimeoutError, APIError):
                pass
            finally:
                await pulled.stop()
            # A gap or a lost consumer: start again after the last message given.
            self._consumer = None
            await self._recreate()

    async def _recreate(self) -> None:
        """Makes the replacement consumer; each failure goes to the client's error
        callback, and after ``_ATTEMPTS`` of them the last one is raised."""
        for attempt in range(_ATTEMPTS):
            try:
                await self._create(self._stream_seq + 1)
                return
            except (core_errors.Error, OSError) as err:
                if attempt == _ATTEMPTS - 1:
                    raise
                callback = self._js._native._error_callback
                if callback is not None:
                    await callback(err)
                await asyncio.sleep(min(self._js._timeout, 1.0))


class _Gap(Exception):
    """A consumer sequence was skipped: the ordered consumer must be replaced."""


def _sequences(reply: str) -> tuple[int, int]:
    tokens = reply.split(".")
    if len(tokens) == 9:
        return int(tokens[5]), int(tokens[6])
    return int(tokens[7]), int(tokens[8])


async def _forget(consumer: PullConsumer) -> None:
    """Deletes a replaced consumer; it expires on its own if this fails."""
    try:
        await consumer._js._jsm.delete_consumer(consumer.stream, consumer.name)
    except (core_errors.Error, OSError):
        return
