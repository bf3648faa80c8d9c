"""natsrs: a native-speed asyncio NATS client powered by the Rust engine async-nats."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any

from natsrs import errors, nkeys
from natsrs._natsrs import (
    BUILD_GIL,
    DEFAULT_URL,
    Auth,
    Client,
    ConnectionState,
    ConnectOptions,
    Event,
    EventKind,
    EventStream,
    HeaderMap,
    Message,
    ReconnectToServer,
    Server,
    ServerInfo,
    Statistics,
    Subscriber,
    TlsConfig,
    __version__,
    refresh_log_level,
    runtime_started,
    set_worker_threads,
)

__all__ = [
    "BUILD_GIL",
    "DEFAULT_URL",
    "Auth",
    "Client",
    "ConnectOptions",
    "ConnectionState",
    "Event",
    "EventKind",
    "EventStream",
    "HeaderMap",
    "Message",
    "ReconnectToServer",
    "Server",
    "ServerInfo",
    "Statistics",
    "Subscriber",
    "TlsConfig",
    "__version__",
    "connect",
    "errors",
    "nkeys",
    "refresh_log_level",
    "runtime_started",
    "set_worker_threads",
]


def connect(servers: str | Sequence[str] | None = None, **options: Any) -> Awaitable[Client]:
    """Connect with the builder's option names as keywords.

    ``await natsrs.connect(url, name="svc", no_echo=True, request_timeout=2.0)`` is
    ``await natsrs.ConnectOptions().name("svc").no_echo(True).request_timeout(2.0).connect(url)``.

    Setters that take two arguments take a tuple: ``user_and_password=("u", "p")``,
    ``jwt=(jwt, sign_cb)``, ``add_client_certificate=(cert_path, key_path)``.

    Raises:
        TypeError: an unknown keyword.
    """
    opts = ConnectOptions()
    for key, value in options.items():
        setter = getattr(ConnectOptions, key, None)
        if key.startswith("_") or key == "connect" or setter is None:
            raise TypeError(f"connect() got an unexpected keyword argument {key!r}")
        if key in _TUPLE_OPTIONS:
            setter(opts, *value)
        else:
            setter(opts, value)
    return opts.connect(servers)


_TUPLE_OPTIONS = frozenset({"user_and_password", "jwt", "add_client_certificate"})
