"""nats-py's ``nats.aio`` package layout: ``client``, ``subscription``, ``msg``, ``errors``.

``from natsrs.aio.client import Client as NATS`` is ``natsrs.NATS``.
"""

from __future__ import annotations

from natsrs.aio import client, errors, msg, subscription

__all__ = ["client", "errors", "msg", "subscription"]
