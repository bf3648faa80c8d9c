"""JetStream under nats-py's ``nats.js`` names.

``natsrs.js.api`` holds the data classes, ``natsrs.js.errors`` the errors and
``JetStreamManager`` the management API (``nc.jsm()``), ``JetStreamContext``
(``nc.jetstream()``) publishing and pull subscriptions on top of it.
"""

from __future__ import annotations

from natsrs.js import api, errors
from natsrs.js.client import JetStreamContext
from natsrs.js.manager import JetStreamManager
from natsrs.js.pull import PullSubscription

__all__ = ["JetStreamContext", "JetStreamManager", "PullSubscription", "api", "errors"]
