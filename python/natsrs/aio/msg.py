"""nats-py's ``nats.aio.msg``: ``Msg``.

Messages natsrs receives are the extension's :class:`natsrs.Message` (read-only, made
without a Python step). ``Msg`` is nats-py's class for code that builds a message itself
(``Msg(nc, subject=..., reply=...)``, fields that can be set) with the same methods;
``natsrs.Message`` is registered as a virtual subclass, so ``isinstance(msg, Msg)`` holds
for every received message too.

A JetStream message's ``metadata`` is parsed from its reply subject by :func:`_metadata`
(the extension calls it on first access and keeps the result).
"""

from __future__ import annotations

import abc
import datetime
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from natsrs._natsrs import Message

__all__ = ["Metadata", "Msg", "SequencePair"]

# $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp>.<pending>
_V1_TOKENS = 9
# $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<stream seq>.<consumer
# seq>.<timestamp>.<pending>[.<random>]
_V2_TOKENS = 12


@dataclass(frozen=True)
class SequencePair:
    """A message's sequence in its stream and in its consumer."""

    consumer: int
    stream: int


@dataclass(frozen=True)
class Metadata:
    """What JetStream says about one delivery of a message (nats-py's ``Msg.Metadata``).

    ``num_pending`` counts the stream's messages the consumer has not delivered yet;
    ``num_delivered`` is how many times this one was delivered (above 1: redelivered);
    ``timestamp`` is when it was stored; ``domain`` is ``""`` when the server names none.
    """

    sequence: SequencePair
    num_pending: int
    num_delivered: int
    timestamp: datetime.datetime
    stream: str
    consumer: str
    domain: str | None = None

    SequencePair = SequencePair


def _metadata(reply: str) -> Metadata:
    """The metadata in a JetStream ack subject, or ``NotJSMessageError``."""
    from natsrs.js.errors import NotJSMessageError

    tokens = reply.split(".") if reply else []
    if tokens[:2] != ["$JS", "ACK"] or not (
        len(tokens) == _V1_TOKENS or len(tokens) >= _V2_TOKENS - 1
    ):
        raise NotJSMessageError
    try:
        if len(tokens) == _V1_TOKENS:
            domain: str | None = None
            fields = tokens[2:]
        else:
            # "_" is the server's placeholder for no domain.
            domain = "" if tokens[2] == "_" else tokens[2]
            fields = tokens[4:11]
        stream, consumer, delivered, stream_seq, consumer_seq, stamp, pending = fields
        return Metadata(
            sequence=SequencePair(consumer=int(consumer_seq), stream=int(stream_seq)),
            num_pending=int(pending),
            num_delivered=int(delivered),
            timestamp=datetime.datetime.fromtimestamp(
                int(stamp) / 1_000_000_000, datetime.timezone.utc
            ),
            stream=stream,
            consumer=consumer,
            domain=domain,
        )
    except ValueError:
        raise NotJSMessageError from None


_Metadata = Metadata


@dataclass
class Msg(abc.ABC):
    """A message built in Python, with nats-py's fields and methods (see the module)."""

    _client: Any
    subject: str = ""
    reply: str = ""
    data: bytes = b""
    headers: dict[str, str] | None = None
    _metadata: _Metadata | None = None
    _ackd: bool = False
    _sid: int | None = None

    # nats-py's Msg.Metadata (and Msg.Metadata.SequencePair).
    Metadata: ClassVar[type[_Metadata]] = _Metadata

    class Ack:
        """The ack payloads and the token positions of a v2 ack subject."""

        Ack = b"+ACK"
        Nak = b"-NAK"
        Progress = b"+WPI"
        Term = b"+TERM"
        Prefix0 = "$JS"
        Prefix1 = "ACK"
        Domain = 2
        AccHash = 3
        Stream = 4
        Consumer = 5
        NumDelivered = 6
        StreamSeq = 7
        ConsumerSeq = 8
        Timestamp = 9
        NumPending = 10

    @property
    def header(self) -> dict[str, str] | None:
        return self.headers

    @property
    def is_acked(self) -> bool:
        """An ack, nak or term was sent (not an in-progress)."""
        return self._ackd

    @property
    def sid(self) -> int:
        from natsrs.errors import Error

        if self._sid is None:
            raise Error("sid not set")
        return self._sid

    @property
    def metadata(self) -> _Metadata:
        """The JetStream delivery facts in ``reply`` (kept once parsed)."""
        if self._metadata is None:
            self._metadata = _metadata(self.reply)
        return self._metadata

    async def respond(self, data: bytes) -> None:
        from natsrs.errors import Error

        if not self.reply:
            raise Error("no reply subject available")
        if not self._client:
            raise Error("client not set")
        await self._client.publish(self.reply, data, headers=self.headers)

    def _check_reply(self, settles: bool = True) -> None:
        from natsrs.js.errors import MsgAlreadyAckdError, NotJSMessageError

        if not self.reply:
            raise NotJSMessageError
        if settles and self._ackd:
            raise MsgAlreadyAckdError(self)

    async def ack(self) -> None:
        self._check_reply()
        await self._client.publish(self.reply, self.Ack.Ack)
        self._ackd = True

    async def ack_sync(self, timeout: float = 1.0) -> Any:
        self._check_reply()
        resp = await self._client.request(self.reply, self.Ack.Ack, timeout=timeout)
        self._ackd = True
        return resp

    async def nak(self, delay: float | None = None) -> None:
        self._check_reply()
        payload = self.Ack.Nak
        if delay:
            payload += b" " + json.dumps({"delay": int(delay * 10**9)}).encode()
        await self._client.publish(self.reply, payload)
        self._ackd = True

    async def in_progress(self) -> None:
        self._check_reply(settles=False)
        await self._client.publish(self.reply, self.Ack.Progress)

    async def term(self) -> None:
        self._check_reply()
        await self._client.publish(self.reply, self.Ack.Term)
        self._ackd = True


Msg.register(Message)
