"""nats-py's connection callbacks, dispatched from natsrs's connection events, and
nats-py's first connect (whose failed passes go to ``error_cb`` too).

A :class:`Dispatcher` is the ``event_callback`` (and, when needed, the
reconnect-to-server callback) of every client connected with nats-py's keywords. It keeps
only what the callbacks need (which of them are owed, the discovered servers already
reported); every fact about the connection (state, counters, the last error, the pool)
is the native client's, read from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from natsrs import _callbacks, errors
from natsrs._natsrs import (
    Client,
    ConnectOptions,
    Event,
    EventKind,
    ReconnectToServer,
    Server,
    ServerInfo,
)
from natsrs.aio._options import Settings, translate
from natsrs.aio.subscription import report

__all__ = [
    "Dispatcher",
    "PoolServer",
    "connect",
    "connect_with_dispatcher",
    "default_error_callback",
]

logger = logging.getLogger("natsrs")

Callback = Callable[[], Awaitable[None]]
ErrorCallback = Callable[[Exception], Awaitable[None]]

# How long connect() waits for the engine's pool after connecting (natsrs.NATS).
_POOL_WAIT = 2.0


async def default_error_callback(ex: Exception) -> None:
    """nats-py's ``_default_error_callback``: log the error (here on the ``natsrs`` logger)."""
    logger.error("nats: encountered error", exc_info=ex)


@dataclass
class PoolServer:
    """nats-py's ``Server``: a server of the pool as a reconnect handler sees it."""

    uri: urllib.parse.ParseResult
    reconnects: int = 0


async def connect(servers: str | Sequence[str] | None, options: Mapping[str, Any]) -> Client:
    """``natsrs.connect`` for keywords that include nats-py's: the native ``Client``."""
    client, _ = await connect_with_dispatcher(servers, options, for_nats_class=False)
    return client


async def connect_with_dispatcher(
    servers: str | Sequence[str] | None,
    options: Mapping[str, Any],
    *,
    for_nats_class: bool,
) -> tuple[Client, Dispatcher]:
    """Translate, connect, and attach the dispatcher to the new client.

    Raises:
        TypeError: an unknown keyword, or a nats-py keyword together with its native twin.
        natsrs.errors.InvalidCallbackTypeError: a connection callback is not a coroutine
            function.
        ValueError: a value natsrs cannot use (the message says which and why).
    """
    opts, settings = translate(servers, options, for_nats_class=for_nats_class)
    dispatcher = Dispatcher(settings)
    dispatcher.install(opts)
    client = await _connect_retrying(opts, servers, dispatcher)
    await dispatcher.attach(client)
    return client, dispatcher


async def _connect_retrying(
    opts: ConnectOptions, servers: str | Sequence[str] | None, dispatcher: Dispatcher
) -> Client:
    """nats-py's first connect: with ``max_reconnect_attempts`` known (always on
    ``natsrs.NATS``), the servers get that many more passes, ``reconnect_time_wait``
    apart, each failed pass going to ``error_cb``; then ``NoServersError``. A limit of 0
    or less retries for ever. As in nats-py, ``allow_reconnect=False`` stops at the first
    failure of a server that was reached (authorization, TLS), not at unreachable ones.
    """
    passes = dispatcher.settings.initial_passes
    failed = 0
    while True:
        try:
            return await opts.connect(servers)
        except errors.InvalidServerAddressError:
            raise
        except errors.ConnectError as exc:
            if passes is None:
                raise
            # No native client exists yet to hold it: nats-py's last_error until then.
            dispatcher.connect_error = exc
            await report(dispatcher.error_cb, exc)
            if not dispatcher.allow_reconnect and not isinstance(exc, errors.NoServersError):
                raise
            failed += 1
            if 0 < passes <= failed:
                raise errors.NoServersError(
                    f"nats: no servers available for connection after {failed} attempts "
                    f"(last: {exc})"
                ) from exc
            await asyncio.sleep(dispatcher.settings.initial_wait)


class Dispatcher:
    """The ``event_callback`` (and, when needed, the reconnect-to-server callback) behind
    nats-py's connection callbacks.

    Events arrive one at a time, in order, on the loop that connected:

    - ``CONNECTED`` after the first: ``reconnected_cb()``; and, once the pool has been
      read back (in a task of its own: the engine answers nothing while reconnecting),
      ``discovered_server_cb()`` if it gained servers announced by the cluster;
    - ``DISCONNECTED``: ``disconnected_cb()``; ``LAME_DUCK_MODE``: ``lame_duck_mode_cb()``;
    - ``CLOSED``: ``disconnected_cb()`` if the client was connected, then ``closed_cb()``;
    - ``SLOW_CONSUMER``, ``SERVER_ERROR``, ``CLIENT_ERROR``: ``error_cb(event.error)``
      (the engine giving up reconnecting only sets ``last_error``, as in nats-py).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        callbacks = settings.callbacks
        self.error_cb: ErrorCallback = callbacks["error_cb"] or default_error_callback
        self.disconnected_cb: Callback | None = callbacks["disconnected_cb"]
        self.closed_cb: Callback | None = callbacks["closed_cb"]
        self.discovered_server_cb: Callback | None = callbacks["discovered_server_cb"]
        self.reconnected_cb: Callback | None = callbacks["reconnected_cb"]
        self.lame_duck_mode_cb: Callback | None = callbacks["lame_duck_mode_cb"]
        self.allow_reconnect = settings.allow_reconnect
        self.handler = settings.reconnect_to_server_handler
        self.user_event_callback = settings.event_callback
        self.user_chooser = settings.reconnect_to_server_callback
        self.track_pool = settings.track_pool
        self.drain_timeout = settings.drain_timeout
        # Original URLs by host and port: the engine shows pool entries redacted.
        self.configured = {_host_port(url): with_scheme(url) for url in settings.configured}

        self.client: Client | None = None
        # Which callbacks are owed: disconnected_cb once per connection, reconnected_cb
        # from the second connection on, closed_cb once.
        self.connected = False
        self.ever_connected = False
        self.closed = False
        self.closed_event = asyncio.Event()
        # A failed pass of the first connect, before a native client held the error.
        self.connect_error: Exception | None = None
        # The pool as last read, until the native client exposes its own copy with the
        # failed attempts (``natsrs.NATS.server_pool``), and the discovered servers
        # already reported to discovered_server_cb.
        self.pool: list[Server] = []
        self._discovered: set[str] | None = None
        self._close_when_attached = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._refreshing = asyncio.Lock()

    @property
    def needs_chooser(self) -> bool:
        return not self.allow_reconnect or self.handler is not None

    def install(self, opts: ConnectOptions) -> None:
        """Make this the options' event callback (and reconnect-to-server callback)."""
        opts.event_callback(self.on_event)
        if self.needs_chooser:
            opts.reconnect_to_server_callback(self.choose)
        elif self.user_chooser is not None:
            opts.reconnect_to_server_callback(self.user_chooser)

    async def attach(self, client: Client) -> None:
        """Called once ``connect`` returned the client.

        The dispatcher keeps the client only when it must act on it (close it, read its
        pool): the client holds the dispatcher, a cycle the garbage collector cannot see
        through the extension, so a client kept here stays connected until closed, as
        nats-py's does. Otherwise dropping it still closes it, as natsrs's does.
        """
        client._error_callback = self.error_cb
        if not (self.track_pool or not self.allow_reconnect):
            return
        self.client = client
        if self._close_when_attached:
            self._close_for_good()
        if self.track_pool:
            # The engine answers pool queries only while connected: a connection lost
            # right now must not hold up connect().
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.refresh(), _POOL_WAIT)

    async def refresh(self) -> bool:
        """Re-read the pool; True when it gained discovered servers since the last time."""
        async with self._refreshing:
            client = self.client
            if client is None or client.is_closed:
                return False
            try:
                pool = await client.server_pool()
            except errors.ConnectionClosedError:
                return False
            self.pool = pool
            discovered = {server.addr for server in pool if server.is_discovered}
            new = self._discovered is not None and not discovered <= self._discovered
            self._discovered = discovered | (self._discovered or set())
            return new

    async def _refresh_and_report(self) -> None:
        if await self.refresh():
            await self._call("discovered_server_cb", self.discovered_server_cb)

    def spawn(self, awaitable: Awaitable[Any]) -> None:
        """Run ``awaitable`` in the background, kept alive until it ends."""
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def original_url(self, addr: str) -> str:
        """A pool entry's URL with the credentials it was configured with."""
        if "***" not in addr:
            return addr
        return self.configured.get(_host_port(addr), addr)

    # -- the event callback --

    async def on_event(self, event: Event) -> None:
        if self.user_event_callback is not None:
            await _callbacks.call_reporting("event callback", self.user_event_callback, event)
        kind = event.kind
        if kind == EventKind.CONNECTED:
            first = not self.ever_connected
            self.ever_connected = self.connected = True
            client = self.client
            if self.track_pool and client is not None:
                # Read in the background: events must never wait on the engine (it
                # answers nothing while reconnecting, which would hold up DISCONNECTED).
                self.spawn(self._refresh_and_report())
            if not first:
                await self._call("reconnected_cb", self.reconnected_cb)
        elif kind == EventKind.DISCONNECTED:
            self.connect_error = None
            if self.connected:
                self.connected = False
                await self._call("disconnected_cb", self.disconnected_cb)
            if not self.allow_reconnect:
                self._close_for_good()
        elif kind == EventKind.CLOSED:
            await self._on_closed()
        elif kind == EventKind.LAME_DUCK_MODE:
            await self._call("lame_duck_mode_cb", self.lame_duck_mode_cb)
        else:
            error = event.error
            # nats-py only records the engine giving up (last_error), then closes.
            if error is not None and not isinstance(error, errors.NoServersError):
                await report(self.error_cb, error)

    async def _on_closed(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.connected:
            self.connected = False
            await self._call("disconnected_cb", self.disconnected_cb)
        await self._call("closed_cb", self.closed_cb)
        self.closed_event.set()

    async def _call(self, what: str, callback: Callback | None) -> None:
        if callback is None:
            return
        try:
            await callback()
        except Exception:
            logger.exception("natsrs: the %s raised", what)

    # -- the reconnect-to-server callback --

    async def choose(self, servers: list[Server], info: ServerInfo) -> ReconnectToServer | None:
        # The engine asks before every connection attempt, the first one included; its
        # INFO is empty until a server has been reached.
        reconnecting = bool(info.server_id)
        if reconnecting and not self.allow_reconnect:
            self._close_for_good()
            return None
        if self.user_chooser is not None:
            choice: ReconnectToServer | None = await _callbacks.call(
                self.user_chooser, servers, info
            )
            return choice
        if self.handler is not None and reconnecting:
            return await self._ask_handler(servers, info)
        return None

    async def _ask_handler(
        self, servers: list[Server], info: ServerInfo
    ) -> ReconnectToServer | None:
        """nats-py's ``reconnect_to_server_handler(servers, info) -> (server, delay)``."""
        assert self.handler is not None
        snapshot = [
            PoolServer(
                uri=urllib.parse.urlparse(self.original_url(s.addr)), reconnects=s.failed_attempts
            )
            for s in servers
        ]
        try:
            answer = self.handler(snapshot, _info_dict(info))
            if inspect.isawaitable(answer):
                answer = await answer
            selected, delay = answer
        except Exception as exc:
            await report(self.error_cb, exc)
            return None
        if selected is None:
            # nats-py then takes the first eligible server, after the delay.
            if not snapshot:
                return None
            selected = snapshot[0]
        return ReconnectToServer(selected.uri.geturl(), delay=max(0.0, float(delay or 0)))

    def _close_for_good(self) -> None:
        """``allow_reconnect=False``: the connection was lost, so the client closes."""
        client = self.client
        if client is None:
            self._close_when_attached = True
            return
        if client.is_closed:
            return
        # close() marks the client closed at once; the engine's handler then stops
        # before its next connection attempt.
        self.spawn(client.close())


def with_scheme(url: str) -> str:
    """``url`` as the engine reads it when it has no scheme."""
    return url if "://" in url else f"nats://{url}"


def _host_port(url: str) -> tuple[str, int | None]:
    try:
        parts = urllib.parse.urlsplit(with_scheme(url))
        return (parts.hostname or "", parts.port)
    except ValueError:
        return ("", None)


def _info_dict(info: ServerInfo) -> dict[str, Any]:
    """A ``ServerInfo`` as nats-py's INFO dictionary (its JSON keys)."""
    out: dict[str, Any] = {
        "server_id": info.server_id,
        "server_name": info.server_name,
        "version": info.version,
        "go": info.go,
        "host": info.host,
        "port": info.port,
        "headers": info.headers,
        "auth_required": info.auth_required,
        "tls_required": info.tls_required,
        "max_payload": info.max_payload,
        "proto": info.proto,
        "client_id": info.client_id,
        "client_ip": info.client_ip,
        "connect_urls": list(info.connect_urls),
        "ldm": info.lame_duck_mode,
        "jetstream": info.jetstream,
    }
    if info.nonce:
        out["nonce"] = info.nonce
    if info.cluster is not None:
        out["cluster"] = info.cluster
    if info.domain is not None:
        out["domain"] = info.domain
    return out
