"""A push consumer's messages in nats-py's shape: ``JetStreamContext.subscribe`` gives a
:class:`PushSubscription` over a core subscription on the consumer's deliver subject.

JetStream's control messages never reach user code. An idle heartbeat marks the
consumer alive and, when it carries ``Nats-Consumer-Stalled``, is answered at once; a
flow-control request is answered when the data before it has been handed over (the
reader takes messages in order, so that is when the reader reaches it). An ordered
consumer checks each message's consumer sequence and, on a gap or after two missed
heartbeats, replaces its consumer with one starting after the last stream sequence
delivered; a failed replacement goes to the client's error callback and is tried again
at the next heartbeat check, until ``unsubscribe()``.

Messages arrive in batches (``next_batch``): one ``await`` per batch, not per message. A
Key-Value watcher reads its consumer through the extension's ``KvWatchReader``, which
makes the batch into entries itself (``_take_entries``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from natsrs import errors as core_errors
from natsrs._natsrs import Client as NativeClient
from natsrs._natsrs import KvWatchReader, Message, Subscriber
from natsrs.js import api
from natsrs.js.errors import ConsumerSequenceMismatchError, MsgAlreadyAckdError

if TYPE_CHECKING:
    from natsrs.js.client import JetStreamContext

__all__ = ["PushSubscription"]

Callback = Callable[[Message], Awaitable[None] | None]

_CONTROL = 100
# How many heartbeats an ordered consumer may miss before it is replaced (nats-py's).
_MISSED_HEARTBEATS = 2
_BATCH = 1024


def _sequences(reply: str) -> tuple[int, int] | None:
    """(stream sequence, consumer sequence) from a JetStream ack subject."""
    tokens = reply.split(".")
    if len(tokens) == 9:
        return int(tokens[5]), int(tokens[6])
    if len(tokens) >= 11:
        return int(tokens[7]), int(tokens[8])
    return None


class PushSubscription:
    """Messages a push consumer delivers, with ``cb=`` or read with ``next_msg`` /
    ``async for msg in sub.messages``."""

    def __init__(
        self,
        js: JetStreamContext,
        native: NativeClient,
        sub: Subscriber,
        stream: str,
        consumer: str,
        config: api.ConsumerConfig,
        *,
        cb: Callback | None,
        auto_ack: bool,
        ordered: bool,
    ) -> None:
        self._js = js
        self._nc = native
        self._sub = sub
        self._stream = stream
        self._consumer = consumer
        self._config = config
        self._cb = cb
        self._auto_ack = auto_ack
        self._ordered = ordered
        self._closed = False
        # Messages taken from the core subscription in a batch and not yet handed over.
        self._ready: deque[Message] = deque()
        self._delivered = 0
        # Ordered consumer: the next consumer sequence expected, the last stream sequence.
        self._dseq = 1
        self._sseq = 0
        self._active = True
        self._resetting = False
        # Sequences are followed when something reads them: an ordered consumer, or
        # heartbeats that report the last one sent.
        self._tracking = ordered or bool(config.idle_heartbeat)
        self._tasks: list[asyncio.Task[None]] = []
        if cb is not None:
            self._tasks.append(asyncio.get_running_loop().create_task(self._run_callback()))
        if config.idle_heartbeat and ordered:
            self._tasks.append(asyncio.get_running_loop().create_task(self._watch_heartbeats()))

    # -- nats-py's Subscription surface ---------------------------------------------------

    @property
    def subject(self) -> str:
        """The deliver subject."""
        return self._sub.subject

    @property
    def queue(self) -> str:
        """The deliver group, ``""`` for none."""
        return self._sub.queue

    @property
    def delivered(self) -> int:
        """Messages handed over so far (control messages not counted)."""
        return self._delivered

    @property
    def pending_msgs(self) -> int:
        """Messages received and not handed over yet (control messages included)."""
        return len(self._ready) + self._sub.pending_msgs

    @property
    def pending_bytes(self) -> int:
        return sum(len(m.data) for m in self._ready) + self._sub.pending_bytes

    async def consumer_info(self) -> api.ConsumerInfo:
        """The consumer's current info."""
        return await self._js._jsm.consumer_info(self._stream, self._consumer)

    async def next_msg(self, timeout: float | None = 1.0) -> Message:
        """The next message, within ``timeout`` seconds (``None``: no limit).

        Raises:
            natsrs.errors.TimeoutError: none arrived in time.
            natsrs.errors.BadSubscriptionError: the subscription has a callback.
        """
        if self._cb is not None:
            raise core_errors.BadSubscriptionError(
                "nats: next_msg cannot be used on a subscription with a callback"
            )
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            msg = await self._next(deadline)
            if msg is not None:
                return msg

    @property
    def messages(self) -> AsyncIterator[Message]:
        """The messages as they arrive, until ``unsubscribe()``."""
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Message]:
        while True:
            try:
                msg = await self._next(None)
            except (core_errors.ConnectionClosedError, core_errors.BadSubscriptionError):
                return
            if msg is None:
                if self._closed:
                    return
                continue
            yield msg

    async def unsubscribe(self, limit: int = 0) -> None:
        """Stop delivery (the consumer stays on the server unless it is ephemeral).

        Raises:
            natsrs.errors.BadSubscriptionError: it was already unsubscribed.
        """
        if self._closed:
            raise core_errors.BadSubscriptionError("nats: invalid subscription")
        if limit:
            await self._sub.unsubscribe(limit)
            return
        self._stop()
        await self._sub.unsubscribe()

    async def drain(self) -> None:
        """Hand over what arrived, then stop.

        Raises:
            natsrs.errors.BadSubscriptionError: it was already unsubscribed or drained.
        """
        if self._closed:
            raise core_errors.BadSubscriptionError("nats: invalid subscription")
        await self._sub.drain()
        self._closed = True

    def _stop(self) -> None:
        self._closed = True
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()

    # -- reading ---------------------------------------------------------------------------

    async def _next(self, deadline: float | None) -> Message | None:
        """The next data message, or ``None`` when a control message or a replaced
        consumer's leftover was consumed instead (the caller loops)."""
        if not self._ready:
            await self._fill(deadline)
            if not self._ready:
                return None
        msg = self._ready.popleft()
        status = msg.status
        if status is not None:
            await self._control(msg, status)
            return None
        self._active = True
        if self._tracking and not await self._in_order(msg):
            return None
        self._delivered += 1
        return msg

    async def _take_entries(
        self, reader: KvWatchReader, deadline: float | None, marker_sent: bool
    ) -> tuple[list[Any], bool]:
        """One batch as a Key-Value watcher's entries, made by the extension straight
        from the messages (``reader``, for this ordered consumer): what ``_next`` would
        give one by one, with no ``Message`` per delivery. Returns the entries (the
        ``None`` that ends the initial values among them, unless ``marker_sent``) and
        whether that marker has gone out. Empty when only a control message or a
        replaced consumer's leftovers were consumed.

        The batch stops at a control message, handled here once the data before it is
        in the caller's hands (a flow-control answer then keeps the server sending while
        the caller works through the batch), and at a gap in the consumer sequences,
        which replaces the consumer.
        """
        sub = self._sub
        result = await reader.take(sub, self._dseq, marker_sent, _BATCH, self._timeout(deadline))
        if sub is not self._sub:
            return [], marker_sent  # replaced meanwhile: the old consumer's
        if result is None:
            self._closed = True
            raise core_errors.BadSubscriptionError("nats: subscription closed")
        entries, taken, dseq, sseq, marker_sent, stop = result
        if sseq:
            self._dseq, self._sseq = dseq, sseq
        if taken:
            self._active = True
            self._delivered += taken
        if stop is True:
            await self._reset()
        elif stop is not None:
            await self._control(stop, stop.status or 0)
        return entries, marker_sent

    def _timeout(self, deadline: float | None) -> float | None:
        """Seconds left until ``deadline`` (``None``: no limit); ``TimeoutError`` when
        none are."""
        if deadline is None:
            return None
        timeout = deadline - asyncio.get_running_loop().time()
        if timeout <= 0:
            raise core_errors.TimeoutError("nats: timeout")
        return timeout

    async def _fill(self, deadline: float | None) -> None:
        """Takes what the core subscription has, waiting for the first message. Returns
        with nothing when the subscription was replaced meanwhile (ordered reset)."""
        sub = self._sub
        batch = await sub.next_batch(_BATCH, timeout=self._timeout(deadline))
        if sub is not self._sub:
            return
        if not batch:
            self._closed = True
            raise core_errors.BadSubscriptionError("nats: subscription closed")
        self._ready.extend(batch)

    async def _control(self, msg: Message, status: int) -> None:
        self._active = True
        if status != _CONTROL:
            return
        if msg.reply:
            # A flow-control request: everything before it has been handed over.
            await self._nc.publish(msg.reply, b"")
            return
        headers: Mapping[str, str] = msg.headers or {}
        stalled = headers.get(api.Header.CONSUMER_STALLED)
        if stalled:
            await self._nc.publish(stalled, b"")
        last = headers.get(api.Header.LAST_CONSUMER)
        if last is None or not self._tracking or int(last) == self._dseq - 1:
            return
        # The heartbeat says the consumer sent more than arrived.
        if self._ordered:
            await self._reset()
            return
        await self._report(
            ConsumerSequenceMismatchError(
                stream_resume_sequence=self._sseq + 1,
                consumer_sequence=self._dseq - 1,
                last_consumer_sequence=int(last),
            )
        )

    async def _in_order(self, msg: Message) -> bool:
        """Tracks the sequences; an ordered consumer's gap replaces the consumer."""
        sequences = _sequences(msg.reply)
        if sequences is None:
            return True
        sseq, dseq = sequences
        if self._ordered and dseq != self._dseq:
            await self._reset()
            return False
        self._dseq = dseq + 1
        self._sseq = sseq
        return True

    async def _reset(self) -> None:
        """Replace an ordered consumer with one starting after the last stream sequence
        delivered, on a new deliver subject."""
        if self._resetting or self._closed:
            return
        self._resetting = True
        try:
            old = self._sub
            inbox = self._nc.new_inbox()
            self._sub = await self._nc.subscribe(inbox)
            self._ready.clear()
            self._dseq = 1
            with contextlib.suppress(Exception):
                await old.unsubscribe()
            config = self._config.evolve(
                deliver_subject=inbox,
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=self._sseq + 1,
                name=None,
                durable_name=None,
            )
            try:
                info = await self._js._jsm.add_consumer(self._stream, config=config)
            except Exception as err:  # any failure is the user's to hear
                self._active = False
                await self._report(err)
                return
            self._config = config
            self._consumer = info.name
        finally:
            self._resetting = False

    async def _watch_heartbeats(self) -> None:
        """Replaces the consumer when nothing (not even a heartbeat) arrived for two
        heartbeat intervals. Arrival is what counts, not reading: a reader that is busy
        elsewhere must not make a healthy consumer look lost."""
        interval = (self._config.idle_heartbeat or 5) * _MISSED_HEARTBEATS
        seen = (self._sub, -1)
        while not self._closed:
            await asyncio.sleep(interval)
            sub = self._sub
            now = (sub, sub.delivered + sub.pending_msgs)
            if now == seen and not self._active and not self._closed:
                await self._reset()
            seen = (self._sub, self._sub.delivered + self._sub.pending_msgs)
            self._active = False

    async def _run_callback(self) -> None:
        cb = self._cb
        assert cb is not None
        while not self._closed:
            try:
                msg = await self._next(None)
            except (core_errors.ConnectionClosedError, core_errors.BadSubscriptionError):
                return
            if msg is None:
                continue
            try:
                # nats-py awaits what the callback returns; a plain function works too.
                result = cb(msg)
                if inspect.isawaitable(result):
                    await result
                if self._auto_ack:
                    with contextlib.suppress(MsgAlreadyAckdError):
                        await msg.ack()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # nats-py sends it to error_cb too
                await self._report(err)

    async def _report(self, err: Exception) -> None:
        callback = self._nc._error_callback
        if callback is not None:
            with contextlib.suppress(Exception):
                await callback(err)
