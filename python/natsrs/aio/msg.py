"""nats-py's ``nats.aio.msg``: ``Msg`` is :class:`natsrs.Message`."""

from __future__ import annotations

from natsrs._natsrs import Message as Msg

__all__ = ["Msg"]
