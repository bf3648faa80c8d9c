"""natsrs: a native-speed asyncio NATS client powered by the Rust engine async-nats."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any

from natsrs import errors
from natsrs._natsrs import (
    BUILD_GIL,
    DEFAULT_URL,
    Client,
    ConnectionState,
    ConnectOptions,
    HeaderMap,
    Message,
    ServerInfo,
    Statistics,
    Subscriber,
    __version__,
    runtime_started,
    set_worker_threads,
)

__all__ = [
    "BUILD_GIL",
    "DEFAULT_URL",
    "Client",
    "ConnectOptions",
    "ConnectionState",
    "HeaderMap",
    "Message",
    "ServerInfo",
    "Statistics",
    "Subscriber",
    "__version__",
    "connect",
    "errors",
    "runtime_started",
    "set_worker_threads",
]


def connect(servers: str | Sequence[str] | None = None, **options: Any) -> Awaitable[Client]:
    """Connect with the builder's option names as keywords.

    ``await natsrs.connect(url, name="svc", no_echo=True, request_timeout=2.0)`` is
    ``await natsrs.ConnectOptions().name("svc").no_echo(True).request_timeout(2.0).connect(url)``.

    Raises:
        TypeError: an unknown keyword.
    """
    opts = ConnectOptions()
    for key, value in options.items():
        setter = getattr(ConnectOptions, key, None)
        if key.startswith("_") or key == "connect" or setter is None:
            raise TypeError(f"connect() got an unexpected keyword argument {key!r}")
        setter(opts, value)
    return opts.connect(servers)
