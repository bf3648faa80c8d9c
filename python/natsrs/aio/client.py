"""``natsrs.NATS`` (``natsrs.aio.client.Client``): nats-py's ``Client`` class over natsrs's
native client.

A plain Python object, made without a running loop, that holds one native
:class:`natsrs.Client` per ``connect()`` and delegates to it: ``publish``, ``subscribe``,
``request`` and ``new_inbox`` are the native client's own bound methods once connected
(no extra Python frame on the hot paths). It uses nats-py's defaults (request timeout
0.5 s, connect timeout 2 s, 60 reconnect attempts 2 s apart, a PING every 120 s) and
has nats-py's properties, read from the native client (state, counters, the last error,
the pool); it adds only what spans connections (the counters of earlier ones) and what
nats-py's methods define (a ``drain()`` in progress, the pool just given to
``set_server_pool``). ``MIGRATING.md`` lists what differs and why.
"""

from __future__ import annotations

import asyncio
import secrets
import string
import urllib.parse
from collections import UserString
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from natsrs import errors
from natsrs._info import ServerVersion, parse_url
from natsrs._natsrs import Client as NativeClient
from natsrs._natsrs import HeaderMap, Message, Subscriber, _redact_url, _server_list
from natsrs.aio._dispatch import Dispatcher, connect_prepared, info_dict, prepare, with_scheme
from natsrs.aio._dispatch import PoolServer as Server
from natsrs.aio._options import OptionsDict, with_nats_py_defaults
from natsrs.aio.subscription import (
    DEFAULT_PENDING_BYTES_LIMIT,
    DEFAULT_PENDING_MSGS_LIMIT,
    report,
)

if TYPE_CHECKING:
    from natsrs.js.client import JetStreamContext
    from natsrs.js.manager import JetStreamManager

Msg = Message
Subscription = Subscriber

__version__ = "2.16.0"
"""The nats-py release whose API this module mirrors (natsrs's own is
``natsrs.__version__``)."""

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_DRAIN_TIMEOUT",
    "DEFAULT_FLUSH_TIMEOUT",
    "DEFAULT_MAX_PAYLOAD_SIZE",
    "DEFAULT_MAX_RECONNECT_ATTEMPTS",
    "DEFAULT_PING_INTERVAL",
    "DEFAULT_RECONNECT_TIME_WAIT",
    "Client",
    "Msg",
    "RawCredentials",
    "Server",
    "ServerVersion",
    "Subscription",
    "__version__",
]

DEFAULT_RECONNECT_TIME_WAIT = 2
DEFAULT_MAX_RECONNECT_ATTEMPTS = 60
DEFAULT_PING_INTERVAL = 120
DEFAULT_MAX_PAYLOAD_SIZE = 1048576
DEFAULT_FLUSH_TIMEOUT = 10
DEFAULT_CONNECT_TIMEOUT = 2
DEFAULT_DRAIN_TIMEOUT = 30
DEFAULT_SERVERS = "nats://localhost:4222"

_NUID_ALPHABET = string.digits + string.ascii_letters

_T = TypeVar("_T")


class RawCredentials(UserString):
    """nats-py's ``RawCredentials``: the text of a ``.creds`` file, for
    ``user_credentials=`` (a plain ``str`` there is a path)."""


async def _not_connected() -> NoReturn:
    raise errors.ConnectionClosedError("nats: not connected (call connect() first)")


class Client:
    """nats-py's client class: ``nc = NATS(); await nc.connect(servers, **options)``.

    ``connect`` takes nats-py's keywords and natsrs's option names (see
    ``natsrs.connect``). After ``close()`` the same object can connect again.
    """

    def __init__(self) -> None:
        self._native: NativeClient | None = None
        self._dispatcher: Dispatcher | None = None
        # A connect() call in progress (no native client exists until it returns).
        self._connecting = False
        # A drain() in progress: nats-py's client is then neither closed nor disconnected.
        self._draining = False
        self._closed = False
        # Why the last connect() call failed; a native client holds later errors.
        self._connect_error: Exception | None = None
        # The counters of the earlier connections' native clients (nats-py keeps them).
        self._stats_before: dict[str, int] = {}
        # The URLs just given to set_server_pool(), until the native client has them.
        self._pool_override: list[str] | None = None
        # The pool just given to set_server_pool(), until the dispatcher has read it back.
        self._pool_given: list[str] | None = None
        # The callbacks of a connect() that failed, which close() still owes.
        self._failed_dispatcher: Dispatcher | None = None
        # nats-py's dict of the connect keywords; its repr hides the credentials.
        self.options: dict[str, Any] = OptionsDict()

    def __repr__(self) -> str:
        return f"<natsrs.NATS {self._native!r}>"

    # -- connecting ---------------------------------------------------------------------

    async def connect(self, servers: str | Sequence[str] = DEFAULT_SERVERS, **options: Any) -> None:
        """Connect with nats-py's keywords (and nats-py's defaults for those not given).

        Raises:
            natsrs.errors.NoServersError: no server could be reached.
            natsrs.errors.InvalidCallbackTypeError: a callback is not a coroutine function.
            natsrs.errors.Error: this client is connected already.
        """
        if self._native is not None and not self._native.is_closed:
            raise errors.Error("nats: already connected; close() it first")
        merged = with_nats_py_defaults(options)
        opts, dispatcher = prepare(servers, merged, for_nats_class=True)
        self._connecting = True
        try:
            native = await connect_prepared(opts, servers, dispatcher)
        except Exception as exc:
            self._connect_error = exc
            # close() then runs this attempt's disconnected_cb and closed_cb, as nats-py.
            self._failed_dispatcher = dispatcher
            raise
        finally:
            self._connecting = False
        self._failed_dispatcher = None
        self._retire()
        self.options = OptionsDict({"servers": servers, **merged})
        self._native = native
        self._dispatcher = dispatcher
        self._closed = False
        self._connect_error = None
        self._pool_override = None
        # The hot paths are the native client's own methods.
        self.__dict__.update(
            publish=native.publish,
            subscribe=native.subscribe,
            request=native.request,
            new_inbox=native.new_inbox,
        )

    def _retire(self) -> None:
        """Fold the previous connection's counters into ``stats`` (nats-py keeps them)."""
        old = self._native
        if old is not None:
            self._stats_before = _added(self._stats_before, old.stats)

    # -- the hot paths, until connect() binds the native client's methods -----------------

    def publish(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview = b"",
        reply: str | None = "",
        headers: HeaderMap | Mapping[str, str | Sequence[str]] | None = None,
    ) -> Awaitable[None]:
        """Publish a message (``natsrs.Client.publish``)."""
        return _not_connected()

    def subscribe(
        self,
        subject: str,
        queue: str | None = "",
        cb: Callable[[Message], Awaitable[None]] | None = None,
        future: asyncio.Future[Message] | None = None,
        max_msgs: int = 0,
        pending_msgs_limit: int | None = DEFAULT_PENDING_MSGS_LIMIT,
        pending_bytes_limit: int | None = DEFAULT_PENDING_BYTES_LIMIT,
    ) -> Awaitable[Subscriber]:
        """Subscribe (``natsrs.Client.subscribe``)."""
        return _not_connected()

    def request(
        self,
        subject: str,
        payload: bytes | bytearray | memoryview = b"",
        timeout: float | None = 0.5,
        old_style: bool = False,
        headers: HeaderMap | Mapping[str, str | Sequence[str]] | None = None,
    ) -> Awaitable[Message]:
        """Request and wait for the first reply (``natsrs.Client.request``)."""
        return _not_connected()

    def new_inbox(self) -> str:
        """A unique inbox subject; before ``connect()``, under nats-py's default prefix."""
        return "_INBOX." + "".join(secrets.choice(_NUID_ALPHABET) for _ in range(22))

    # -- the rest ---------------------------------------------------------------------------

    def jsm(self, **opts: Any) -> JetStreamManager:
        """JetStream's management API over this client (nats-py's ``nc.jsm()``); ``opts``
        are ``JetStreamManager``'s (``prefix``, ``timeout``)."""
        # Imported on use: plain NATS clients never load the JetStream modules.
        from natsrs.js.manager import JetStreamManager

        return JetStreamManager(self, **opts)

    def jetstream(self, **opts: Any) -> JetStreamContext:
        """A JetStream context on this client (nats-py's ``nc.jetstream()``); ``opts``
        are ``JetStreamContext``'s (``prefix``, ``domain``, ``timeout``,
        ``publish_async_max_pending``)."""
        from natsrs.js.client import JetStreamContext

        return JetStreamContext(self, **opts)

    def _live(self) -> NativeClient:
        native = self._native
        if native is None or native.is_closed:
            raise errors.ConnectionClosedError("nats: connection closed")
        return native

    async def flush(self, timeout: float = DEFAULT_FLUSH_TIMEOUT) -> None:
        """Wait until the server has processed everything sent so far (a round trip).

        Raises:
            natsrs.errors.BadTimeoutError: ``timeout`` is not positive.
            natsrs.errors.FlushTimeoutError: not within ``timeout`` seconds.
        """
        if timeout <= 0:
            raise errors.BadTimeoutError("nats: timeout invalid")
        await self._live().flush(timeout)

    async def rtt(self, timeout: float = DEFAULT_FLUSH_TIMEOUT) -> float:
        """Seconds for one round trip to the server (the native client's ``rtt()``, timed
        over ``flush()``'s round trip rather than nats-py's PING/PONG).

        Raises:
            natsrs.errors.BadTimeoutError: ``timeout`` is not positive.
            natsrs.errors.TimeoutError: no answer within ``timeout`` seconds.
        """
        if timeout <= 0:
            raise errors.BadTimeoutError("nats: timeout invalid")
        try:
            return await asyncio.wait_for(_awaited(self._live().rtt()), timeout)
        except asyncio.TimeoutError as exc:
            if isinstance(exc, errors.TimeoutError):
                raise
            raise errors.TimeoutError("nats: timeout") from None

    async def drain(self) -> None:
        """Drain every subscription, flush, then close, within ``drain_timeout``.

        On timeout ``error_cb`` gets ``DrainTimeoutError`` and the client closes anyway
        (nats-py's behaviour).

        Raises:
            natsrs.errors.ConnectionClosedError: the client is closed.
            natsrs.errors.ConnectionReconnectingError: it is (re)connecting.
        """
        if self._draining:
            return
        native = self._live()
        if self.is_connecting or self.is_reconnecting:
            raise errors.ConnectionReconnectingError("nats: connection reconnecting")
        dispatcher = self._dispatcher
        assert dispatcher is not None
        self._draining = True
        try:
            await asyncio.wait_for(_awaited(native.drain()), dispatcher.drain_timeout)
        except asyncio.TimeoutError:
            await report(dispatcher.error_cb, errors.DrainTimeoutError("nats: drain"))
            await native.close()
        finally:
            self._draining = False
        await self._wait_closed()

    async def close(self) -> None:
        """Close for good; ``closed_cb`` has run when this returns (or soon after, when
        the client was reconnecting and the engine's attempt has not ended yet)."""
        native = self._native
        failed = self._failed_dispatcher
        if failed is not None and (native is None or native.is_closed):
            self._failed_dispatcher = None
            self._closed = True
            await failed.close_unconnected()
            return
        if native is None:
            self._closed = True
            return
        await native.close()
        await self._wait_closed()

    async def _wait_closed(self) -> None:
        dispatcher = self._dispatcher
        if dispatcher is None:
            return
        # A reconnecting engine stops at its next attempt: after the delay and at most one
        # connection timeout.
        wait = float(self.options.get("reconnect_time_wait") or DEFAULT_RECONNECT_TIME_WAIT)
        limit = float(self.options.get("connect_timeout") or DEFAULT_CONNECT_TIMEOUT)
        try:
            await asyncio.wait_for(dispatcher.closed_event.wait(), wait + limit + 1.0)
        except asyncio.TimeoutError:
            pass

    async def force_reconnect(self) -> None:
        """Drop the connection and reconnect; nothing when not connected or when
        reconnecting is disallowed (as in nats-py)."""
        native = self._native
        if native is None or native.is_closed or not self.is_connected:
            return
        if self._dispatcher is not None and not self._dispatcher.allow_reconnect:
            return
        await native.force_reconnect()

    def set_server_pool(self, servers: list[str]) -> None:
        """Replace the server pool (used from the next reconnect on), as nats-py: a plain
        call.

        Raises:
            natsrs.errors.ConnectionClosedError: the client is closed.
            natsrs.errors.ServerPoolError: the list is empty or mixes ws and plain URLs.
            natsrs.errors.InvalidServerAddressError: a URL cannot be parsed.
        """
        native = self._live()
        pending = _run_now(native.set_server_pool(servers))
        dispatcher = self._dispatcher
        if dispatcher is not None:
            given = [_redact_url(with_scheme(url)) for url in _server_list(servers)]
            self._pool_given = given
            dispatcher.spawn(self._read_pool_back(dispatcher, pending, given))
        if pending is not None:
            # The native client shows the new pool once its awaitable has ended.
            override = [_redact_url(with_scheme(url)) for url in _server_list(servers)]
            self._pool_override = override
            pending.add_done_callback(lambda _: self._end_override(override))

    async def _read_pool_back(
        self, dispatcher: Dispatcher, pending: asyncio.Future[Any] | None, given: list[str]
    ) -> None:
        """``server_pool`` shows the pool just given until it has been read back."""
        try:
            if pending is not None:
                await asyncio.wait([pending])
            await dispatcher.refresh()
        finally:
            if self._pool_given is given:
                self._pool_given = None

    def _end_override(self, override: list[str]) -> None:
        if self._pool_override is override:
            self._pool_override = None

    # -- properties -----------------------------------------------------------------------

    @property
    def is_closed(self) -> bool:
        # As in nats-py, a draining client is not closed yet (the engine's is).
        native = self._native
        if self._draining:
            return False
        return self._closed if native is None else native.is_closed

    @property
    def is_connected(self) -> bool:
        native = self._native
        if self._draining:
            return True
        return native is not None and native.is_connected

    @property
    def is_reconnecting(self) -> bool:
        native = self._native
        return native is not None and native.is_reconnecting

    @property
    def is_connecting(self) -> bool:
        native = self._native
        return self._connecting or (native is not None and native.is_connecting)

    @property
    def is_draining(self) -> bool:
        return self._draining

    @property
    def is_draining_pubs(self) -> bool:
        return self._draining

    def _pool_urls(self, discovered: bool) -> list[urllib.parse.ParseResult]:
        if self._pool_override is not None:
            return [] if discovered else [parse_url(url) for url in self._pool_override]
        native = self._native
        if native is None:
            return []
        return native.discovered_servers if discovered else native.servers

    @property
    def connected_url(self) -> urllib.parse.ParseResult | None:
        """The server connected to, credentials replaced by ``***``; ``None`` when not
        connected."""
        native = self._native
        return None if native is None or not self.is_connected else native.connected_url

    @property
    def servers(self) -> list[urllib.parse.ParseResult]:
        """The pool (configured and discovered servers), credentials replaced by ``***``."""
        return self._pool_urls(discovered=False)

    @property
    def discovered_servers(self) -> list[urllib.parse.ParseResult]:
        """The servers of the pool that the cluster announced."""
        return self._pool_urls(discovered=True)

    @property
    def server_pool(self) -> list[Server]:
        """nats-py's ``Server`` entries: URL and failed attempts (as last refreshed, on
        each connection event)."""
        dispatcher = self._dispatcher
        if dispatcher is None:
            return []
        given = self._pool_given
        if given is not None:
            # Just given to set_server_pool(): a server kept keeps its failed attempts.
            known = {s.addr: s.failed_attempts for s in dispatcher.pool}
            return [Server(uri=parse_url(url), reconnects=known.get(url, 0)) for url in given]
        return [
            Server(uri=parse_url(s.addr), reconnects=s.failed_attempts) for s in dispatcher.pool
        ]

    @property
    def max_payload(self) -> int:
        native = self._native
        return DEFAULT_MAX_PAYLOAD_SIZE if native is None else native.max_payload

    @property
    def client_id(self) -> int | None:
        info = None if self._native is None or self.is_closed else self._native.server_info
        return None if info is None else info.client_id

    @property
    def client_ip(self) -> str | None:
        info = None if self._native is None or self.is_closed else self._native.server_info
        return None if info is None or not info.client_ip else info.client_ip

    @property
    def _server_info(self) -> dict[str, Any]:
        """The connected server's INFO as nats-py keeps it (its JSON keys); empty before
        the first connection. Not public in nats-py either, but widely read."""
        info = None if self._native is None else self._native.server_info
        return {} if info is None else info_dict(info)

    @property
    def connected_server_version(self) -> ServerVersion:
        native = self._native
        return ServerVersion() if native is None else native.connected_server_version

    @property
    def last_error(self) -> Exception | None:
        """The last error: of a failed ``connect()``, else the native client's last error
        event, else a failed pass of the first connect."""
        if self._connect_error is not None:
            return self._connect_error
        native = self._native
        error = None if native is None else native.last_exception
        if error is None and self._dispatcher is not None:
            error = self._dispatcher.connect_error
        return error

    @property
    def pending_data_size(self) -> int:
        """Payload bytes published but not yet handed to the engine (its own write
        buffer is not observable)."""
        native = self._native
        return 0 if native is None or native.is_closed else native.pending_data_size

    @property
    def stats(self) -> dict[str, int]:
        """nats-py's counters, from the engine's (``in_bytes``/``out_bytes`` count wire
        bytes; ``flush()`` adds one message each way)."""
        native = self._native
        if native is None:
            return {key: self._stats_before.get(key, 0) for key in _STAT_KEYS}
        return _added(self._stats_before, native.stats)

    # -- context manager --------------------------------------------------------------------

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


_STAT_KEYS = ("in_msgs", "out_msgs", "in_bytes", "out_bytes", "reconnects", "errors_received")


def _added(before: dict[str, int], stats: dict[str, int]) -> dict[str, int]:
    return {key: before.get(key, 0) + value for key, value in stats.items()}


async def _awaited(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


def _run_now(awaitable: Awaitable[None]) -> asyncio.Future[Any] | None:
    """Drive a native awaitable one step, now: a finished one returns ``None`` or raises
    here; a pending one goes on in the engine and is returned (its failure then reaches no
    one, as nats-py's plain ``set_server_pool`` call would not either)."""
    step = awaitable.__await__()
    try:
        pending = next(step)
    except StopIteration:
        return None
    if isinstance(pending, asyncio.Future):
        pending.add_done_callback(_consume)
        return pending
    return None


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
