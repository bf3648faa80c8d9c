"""JetStream under nats-py's ``nats.js`` names.

``natsrs.js.api`` holds the data classes, ``natsrs.js.errors`` the errors and
``JetStreamManager`` the management API (``nc.jsm()``).
"""

from __future__ import annotations

from natsrs.js import api, errors
from natsrs.js.manager import JetStreamManager

__all__ = ["JetStreamManager", "api", "errors"]

# -- JetStreamContext (nc.jetstream()) ------------------------------------------------------
# Added here with natsrs/js/client.py: import it and list "JetStreamContext" in __all__.
