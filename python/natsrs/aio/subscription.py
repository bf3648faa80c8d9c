"""nats-py's ``nats.aio.subscription``: ``Subscription`` is :class:`natsrs.Subscriber`."""

from __future__ import annotations

from natsrs._compat import DEFAULT_PENDING_BYTES_LIMIT, DEFAULT_PENDING_MSGS_LIMIT, deliver
from natsrs._natsrs import Subscriber as Subscription

DEFAULT_SUB_PENDING_MSGS_LIMIT = DEFAULT_PENDING_MSGS_LIMIT
DEFAULT_SUB_PENDING_BYTES_LIMIT = DEFAULT_PENDING_BYTES_LIMIT

__all__ = [
    "DEFAULT_SUB_PENDING_BYTES_LIMIT",
    "DEFAULT_SUB_PENDING_MSGS_LIMIT",
    "Subscription",
    "deliver",
]
