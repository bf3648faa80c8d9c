"""natsrs: a native-speed asyncio NATS client powered by the Rust engine async-nats."""

from __future__ import annotations

import importlib
from collections.abc import Coroutine, Sequence
from typing import Any

from natsrs import errors, nkeys
from natsrs._headers import Headers
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
from natsrs.aio import _dispatch, _options
from natsrs.aio.client import Client as NATS

__all__ = [
    "BUILD_GIL",
    "DEFAULT_URL",
    "NATS",
    "Auth",
    "Client",
    "ConnectOptions",
    "ConnectionState",
    "Event",
    "EventKind",
    "EventStream",
    "HeaderMap",
    "Headers",
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


def __getattr__(name: str) -> Any:
    # ``natsrs.js`` (JetStream) loads on first use, so that ``nats.js.api.StreamConfig``
    # works after ``import natsrs as nats`` as after ``import nats``, and a client that
    # never uses JetStream never loads it.
    if name == "js":
        return importlib.import_module("natsrs.js")
    raise AttributeError(f"module 'natsrs' has no attribute {name!r}")


def connect(
    servers: str | Sequence[str] | None = None, **options: Any
) -> Coroutine[Any, Any, Client]:
    """Connect with the builder's option names as keywords.

    ``await natsrs.connect(url, name="svc", no_echo=True, request_timeout=2.0)`` is
    ``await natsrs.ConnectOptions().name("svc").no_echo(True).request_timeout(2.0).connect(url)``.

    Setters that take two arguments take a tuple: ``user_and_password=("u", "p")``,
    ``jwt=(jwt, sign_cb)``, ``add_client_certificate=(cert_path, key_path)``.

    nats-py's ``connect`` keywords are accepted too, alone or mixed with these (for
    example ``error_cb=``, ``max_reconnect_attempts=``, ``user_credentials=``); any of
    them makes this a coroutine that still resolves to a ``Client`` (``MIGRATING.md``).

    Raises:
        TypeError: an unknown keyword.
    """
    if _options.uses_nats_py(options):
        return _dispatch.connect(servers, options)
    opts = ConnectOptions()
    _options.apply_native(opts, options)
    return opts.connect(servers)
