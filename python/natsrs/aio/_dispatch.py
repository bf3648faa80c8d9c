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
import random
import time
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
    "connect_prepared",
    "default_error_callback",
    "info_dict",
    "nats_py_error",
    "prepare",
    "reached_server",
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
    opts, dispatcher = prepare(servers, options, for_nats_class=False)
    return await connect_prepared(opts, servers, dispatcher)


def prepare(
    servers: str | Sequence[str] | None,
    options: Mapping[str, Any],
    *,
    for_nats_class: bool,
) -> tuple[ConnectOptions, Dispatcher]:
    """Translate the keywords; the dispatcher is made and installed on the options.

    Raises:
        TypeError: an unknown keyword, or a nats-py keyword together with its native twin.
        natsrs.errors.InvalidCallbackTypeError: a connection callback is not a coroutine
            function.
        ValueError: a value natsrs cannot use (the message says which and why).
    """
    opts, settings = translate(servers, options, for_nats_class=for_nats_class)
    dispatcher = Dispatcher(settings)
    dispatcher.install(opts)
    return opts, dispatcher


async def connect_prepared(
    opts: ConnectOptions, servers: str | Sequence[str] | None, dispatcher: Dispatcher
) -> Client:
    """Connect, and attach the dispatcher to the new client."""
    client = await _connect_retrying(opts, servers, dispatcher)
    await dispatcher.attach(client)
    return client


def reached_server(exc: BaseException) -> bool:
    """Whether a failed connection attempt got as far as a server (it answered wrongly,
    refused the credentials or the TLS, or never finished the handshake), rather than
    finding nothing listening. The engine times the TCP connect and the handshake with
    one timer, so a timeout counts as reached."""
    return not isinstance(exc, errors.NoServersError) or isinstance(exc, errors.ConnectTimeoutError)


def nats_py_error(exc: Exception) -> Exception:
    """The exception nats-py gives ``error_cb`` for ``exc``: a connection attempt that
    timed out is a plain ``asyncio.TimeoutError`` there (natsrs's typed error is its
    ``__cause__``)."""
    if isinstance(exc, errors.ConnectTimeoutError):
        plain = asyncio.TimeoutError(str(exc))
        plain.__cause__ = exc
        return plain
    return exc


async def _connect_retrying(
    opts: ConnectOptions, servers: str | Sequence[str] | None, dispatcher: Dispatcher
) -> Client:
    """nats-py's first connect: with ``max_reconnect_attempts`` known (always on
    ``natsrs.NATS``), one server per attempt in nats-py's order (see
    :meth:`Dispatcher.choose`), each failed attempt going to ``error_cb``, until every
    server has failed more than that many times: then ``NoServersError``. A limit of 0 or
    less retries for ever. As in nats-py, ``allow_reconnect=False`` stops at the first
    failure of a server that was reached (bad INFO, authorization, TLS, a handshake that
    timed out), not at unreachable ones.
    """
    passes = dispatcher.settings.initial_passes
    failed = 0
    while True:
        last = dispatcher.connect_error
        if dispatcher.rotating and dispatcher.exhausted():
            raise errors.NoServersError(
                f"nats: no servers available for connection after {failed} attempts"
                + ("" if last is None else f" (last: {last})")
            ) from last
        try:
            return await opts.connect(servers)
        except errors.InvalidServerAddressError:
            raise
        except errors.ConnectError as exc:
            if passes is None:
                raise
            # No native client exists yet to hold it: nats-py's last_error until then.
            dispatcher.connect_error = exc
            await report(dispatcher.error_cb, nats_py_error(exc))
            if not dispatcher.allow_reconnect and reached_server(exc):
                raise
            failed += 1
            if dispatcher.rotating:
                # The next choice waits when it is a server tried a moment ago.
                continue
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
    - ``DISCONNECTED``: ``error_cb(UnexpectedEOF)`` when the connection was lost (the
      event's error), then ``disconnected_cb()``; ``LAME_DUCK_MODE``: ``lame_duck_mode_cb()``;
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
        # nats-py's server order: the servers by host and port, the next one to try
        # first; a server tried goes to the back. With each, its attempts since it last
        # connected and when the last one began (the policy of choosing, not a fact of
        # the connection: the engine's own counts start again with every first-connect
        # attempt).
        self._rotation: list[tuple[str, int | None]] = []
        self._tries: dict[tuple[str, int | None], _Tries] = {}
        self._chosen: tuple[str, int | None] | None = None

    @property
    def rotating(self) -> bool:
        """Whether the first connect goes one server at a time in nats-py's order (it
        retries; otherwise the engine tries each server once, in its own order)."""
        return self.settings.initial_passes is not None and self.user_chooser is None

    def install(self, opts: ConnectOptions) -> None:
        """Make this the options' event callback and reconnect-to-server callback."""
        opts.event_callback(self.on_event)
        opts.reconnect_to_server_callback(self.choose)

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
        if kind == EventKind.CONNECTED and self.closed:
            self._connected_again()
        if kind == EventKind.CONNECTED:
            tries = None if self._chosen is None else self._tries.get(self._chosen)
            if tries is not None:
                tries.count = 0
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
                if event.error is not None:
                    # The connection was lost (nats-py's UnexpectedEOF, told first).
                    await report(self.error_cb, event.error)
                await self._call("disconnected_cb", self.disconnected_cb)
            if not self.allow_reconnect:
                self._close_for_good()
        elif kind == EventKind.CLOSED:
            await self._on_closed()
        elif kind == EventKind.LAME_DUCK_MODE:
            await self._call("lame_duck_mode_cb", self.lame_duck_mode_cb)
        elif kind == EventKind.DISCOVERED_SERVERS:
            if self.track_pool and self.client is not None:
                self.spawn(self._refresh_and_report())
        else:
            error = event.error
            # nats-py only records the engine giving up (last_error), then closes.
            if error is not None and not isinstance(error, errors.NoServersError):
                if kind == EventKind.SERVER_ERROR and type(error) is errors.Error:
                    error = _nats_py_server_error(error)
                await report(self.error_cb, nats_py_error(error))

    async def _on_closed(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.connected:
            self.connected = False
            await self._call("disconnected_cb", self.disconnected_cb)
        await self._call("closed_cb", self.closed_cb)
        self.closed_event.set()

    def _connected_again(self) -> None:
        """The closed client was connected again (``Client.connect()``): a first
        connection, owing ``disconnected_cb`` and ``closed_cb`` once more."""
        self.closed = False
        self.closed_event = asyncio.Event()
        self.connected = self.ever_connected = False
        self._discovered = None
        self._tries.clear()

    async def close_unconnected(self) -> None:
        """``close()`` after a ``connect()`` that failed: as nats-py, ``disconnected_cb``
        then ``closed_cb``, once."""
        if self.closed:
            return
        self.closed = True
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
        """The server of the engine's next connection attempt.

        ``None`` lets the engine try its whole pool in its own order: only for the first
        connect when it does not retry (``natsrs.connect`` without
        ``max_reconnect_attempts``)."""
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
        if reconnecting or self.rotating:
            return self._rotate(servers)
        return None

    def _rotate(self, servers: list[Server]) -> ReconnectToServer | None:
        """nats-py's ``_select_next_server``: the server at the front goes to the back
        and is tried, unless it failed more than ``max_reconnect_attempts`` times since it
        last connected (then it is passed over); a server tried less than
        ``reconnect_time_wait`` ago is tried after that wait."""
        by_key = {_host_port(s.addr): s for s in servers}
        known = set(self._rotation)
        self._rotation = [key for key in self._rotation if key in by_key]
        new = [key for key in by_key if key not in known]
        if not self.settings.retain_order and not self._tries:
            random.shuffle(new)
        # A server the engine connected to by its own choice (the first connect) goes
        # behind the others, as nats-py moves the server it connects to to the back.
        new.sort(key=lambda key: by_key[key].did_connect)
        self._rotation.extend(new)
        limit = self.settings.max_reconnect_attempts or 0
        wait = self.settings.reconnect_time_wait
        for _ in range(len(self._rotation)):
            key = self._rotation.pop(0)
            self._rotation.append(key)
            tries = self._tries.setdefault(key, _Tries())
            if limit > 0 and tries.count > limit:
                continue
            now = time.monotonic()
            delay = None
            if wait is not None:
                recent = tries.started is not None and now < tries.started + wait
                delay = wait if recent else 0.0
            tries.count += 1
            tries.started = now + (delay or 0.0)
            self._chosen = key
            return ReconnectToServer(self.original_url(by_key[key].addr), delay=delay)
        # Every server failed too often: nats-py gives up (the engine's own limit usually
        # comes first; this closes the client where it would not).
        if servers and self.ever_connected:
            self._close_for_good()
            return ReconnectToServer(self.original_url(servers[0].addr), delay=wait)
        return None

    def exhausted(self) -> bool:
        """Every server known failed more than ``max_reconnect_attempts`` times."""
        limit = self.settings.max_reconnect_attempts or 0
        if limit <= 0 or not self._rotation:
            return False
        return all(self._tries.get(key, _Tries()).count > limit for key in self._rotation)

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
            answer = self.handler(snapshot, info_dict(info))
            if inspect.isawaitable(answer):
                answer = await answer
            selected, delay = answer
        except Exception as exc:
            await report(self.error_cb, exc)
            return None
        if selected is None:
            # nats-py then takes its next server in order, after the delay.
            choice = self._rotate(servers)
            if choice is None:
                return None
            return ReconnectToServer(choice.addr, delay=max(0.0, float(delay or 0)))
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


@dataclass
class _Tries:
    """A server's attempts since it last connected, and when the last one began."""

    count: int = 0
    started: float | None = None


def _nats_py_server_error(error: Exception) -> errors.Error:
    """A server's ``-ERR`` as nats-py shows it: lower case, quotes stripped, after
    ``nats: `` (natsrs's own events keep the server's case)."""
    text = str(error).removeprefix("nats: ").strip("'")
    plain = errors.Error(f"nats: {text.lower()}")
    plain.__cause__ = error
    return plain


def with_scheme(url: str) -> str:
    """``url`` as the engine reads it when it has no scheme."""
    return url if "://" in url else f"nats://{url}"


def _host_port(url: str) -> tuple[str, int | None]:
    try:
        parts = urllib.parse.urlsplit(with_scheme(url))
        return (parts.hostname or "", parts.port)
    except ValueError:
        return ("", None)


def info_dict(info: ServerInfo) -> dict[str, Any]:
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
