"""nats-py's ``nats.aio.msg``: ``Msg`` is :class:`natsrs.Message`.

A JetStream message's ``metadata`` is parsed from its reply subject by :func:`_metadata`
(the extension calls it on first access and keeps the result).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from natsrs._natsrs import Message as Msg

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
