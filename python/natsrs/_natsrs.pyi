"""Typed surface of the natsrs native extension (``natsrs._natsrs``).

Every awaitable returned here is either already complete (the engine finished the
operation during the call; awaiting it costs no event-loop round trip) or pending, resolved
from the tokio runtime. Both are coroutines to asyncio (``__await__``, ``send``, ``throw``,
``close``): ``await`` them, or pass them to ``asyncio.create_task``,
``TaskGroup.create_task``, ``wait_for``, ``gather`` or ``shield``. Cancelling one gives back
what its operation took (a message taken for ``next_msg`` returns to its subscription).
"""

import asyncio
import collections
import datetime
import os
import ssl
import urllib.parse
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, ClassVar, Final, Literal, Protocol, TypeVar, final

from typing_extensions import Self, TypeAlias

from natsrs._headers import Headers
from natsrs._info import ServerVersion
from natsrs.aio.msg import Metadata
from natsrs.js.client import JetStreamContext
from natsrs.js.manager import JetStreamManager

_T = TypeVar("_T")
_Op: TypeAlias = Coroutine[Any, Any, _T]
"""What natsrs's operations return: a coroutine to asyncio (``await`` it, or hand it to
``asyncio.create_task``, ``TaskGroup.create_task``, ``gather``, ``wait_for``, ``shield``),
already finished when the operation completed at the call."""

_Payload: TypeAlias = bytes | bytearray | memoryview

class _HeldQueue(Protocol):
    queue: collections.deque[Message]
    max_msgs: int
    max_bytes: int
    bytes: int

_Duration: TypeAlias = float | datetime.timedelta
_HeadersLike: TypeAlias = "HeaderMap | Mapping[str, str | Sequence[str]]"

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
    "KvWatchReader",
    "Message",
    "PubAck",
    "ReconnectToServer",
    "Server",
    "ServerInfo",
    "Statistics",
    "Subscriber",
    "TlsConfig",
    "_JetStream",
    "__version__",
    "_imported_names",
    "_nkeys_create",
    "_nkeys_public_key",
    "_nkeys_sign",
    "_panic_engine_for_tests",
    "_panic_for_tests",
    "_python_exiting",
    "_redact_url",
    "_runtime_alive_tasks",
    "_server_list",
    "refresh_log_level",
    "runtime_started",
    "set_worker_threads",
]

__version__: Final[str]
BUILD_GIL: Final[bool]
"""True when the extension was built for an interpreter with the GIL."""

DEFAULT_URL: Final[str]
"""``nats://127.0.0.1:4222``, used when no address is given."""

def set_worker_threads(count: int) -> None:
    """Set how many tokio worker threads natsrs's runtime starts.

    Must be called before the first connection (the runtime starts lazily, once per
    process). The environment variable ``NATSRS_WORKER_THREADS`` sets the same value;
    the default is tokio's (one per core).

    Raises:
        ValueError: ``count`` is 0.
        RuntimeError: the runtime has already started.
    """

def _imported_names() -> list[tuple[str, str]]:
    """Every ``(module, attribute)`` the extension imports from Python."""

def _redact_url(url: str) -> str:
    """``url`` with any credentials replaced by ``***``, as every natsrs message shows it."""

def _server_list(servers: str | Sequence[str] | None = None) -> list[str]:
    """How ``connect`` reads its ``servers`` argument (``None``: :data:`DEFAULT_URL`).

    Raises:
        TypeError: not a URL string or a sequence of them.
        InvalidServerAddressError: an empty list.
    """

def _nkeys_create(kind: str) -> tuple[str, str]: ...
def _nkeys_public_key(seed: str) -> str: ...
def _nkeys_sign(seed: str, data: bytes) -> bytes: ...
def _runtime_alive_tasks() -> int:
    """Tasks alive on natsrs's runtime (0 before it starts); for leak tests."""

def _panic_engine_for_tests(client: Client) -> bool:
    """Panics the engine's connection task of ``client`` on purpose, for tests of how
    natsrs notices its death and recovers; whether the engine took the command."""

def _panic_for_tests(where_: str) -> _Op[None]:
    """Panics on purpose (``"call"``: in the call; otherwise in a tokio task)."""

def _python_exiting() -> None:
    """The ``atexit`` hook that keeps runtime threads out of a finalizing interpreter."""

def refresh_log_level() -> None:
    """Make the engine's records follow the ``natsrs`` logger's current level.

    natsrs reads the level at every connect; call this after changing it while clients
    are connected. Records below the level are not even produced.
    """

def runtime_started() -> bool:
    """Whether natsrs's tokio runtime has started."""

@final
class ConnectionState:
    """State of a client's connection (compare with ``==``; ``int(state)`` gives 0..3)."""

    PENDING: ClassVar[ConnectionState]
    CONNECTED: ClassVar[ConnectionState]
    DISCONNECTED: ClassVar[ConnectionState]
    CLOSED: ClassVar[ConnectionState]
    def __int__(self) -> int: ...

@final
class ConnectOptions:
    """Builder for a connection, mirroring ``async_nats::ConnectOptions``.

    Every setter validates its argument at once (``ValueError``/``TypeError``) and
    returns the same options object, so calls chain::

        client = await natsrs.ConnectOptions().name("svc").no_echo().connect(url)
    """

    def __init__(self) -> None: ...
    def name(self, name: str) -> Self:
        """Client name, shown by the server (``/connz``)."""
    def ping_interval(self, interval: _Duration) -> Self:
        """Interval between PINGs (default 60 s; at least 1 ns)."""
    def connection_timeout(self, timeout: _Duration) -> Self:
        """Timeout of one connection attempt (default 5 s; at least 1 ns)."""
    def request_timeout(self, timeout: _Duration | None) -> Self:
        """Default request timeout (default 10 s); ``None`` waits forever."""
    def retry_on_initial_connect(self, enabled: bool = True) -> Self:
        """Return from ``connect`` at once and keep connecting in the background."""
    def max_reconnects(self, count: int | None) -> Self:
        """Maximum reconnect attempts, >= 0; ``None`` (default) retries forever."""
    def ignore_discovered_servers(self, enabled: bool = True) -> Self:
        """Do not add servers announced by the cluster to the pool."""
    def retain_servers_order(self, enabled: bool = True) -> Self:
        """Try servers in the given order instead of shuffling."""
    def runtime(self, kind: Literal["threads", "loop"]) -> Self:
        """Where the client's engine (its socket, its connection handler) runs.

        ``"threads"`` (the default): natsrs's tokio threads, in parallel with Python; the
        fastest for throughput (publish bursts, in-flight requests). ``"loop"``: the
        connecting event loop's own thread, driven by the loop: no hand-off between
        threads per round trip, the lowest latency for sequential request/reply. Such a
        client works only while its loop runs: it is closed when the loop goes, and a
        ``reconnect_delay_callback`` must be a plain function. ``NATSRS_RUNTIME=loop``
        makes ``"loop"`` the default of the process.

        Raises:
            ValueError: another ``kind``.
        """
    def skip_subject_validation(self, enabled: bool = True) -> Self:
        """Do not validate publish subjects beyond protocol framing (the length bound,
        2000 bytes, still applies)."""
    def subscription_capacity(self, capacity: int) -> Self:
        """Messages buffered per subscription before the slow-consumer drop (65536;
        1..2**24)."""
    def client_capacity(self, capacity: int) -> Self:
        """Commands buffered toward the connection before ``publish`` waits (2048;
        1..2**24)."""
    def custom_inbox_prefix(self, prefix: str) -> Self:
        """Prefix of reply subjects created by ``new_inbox`` and ``request`` (``_INBOX``);
        a subject without wildcards of at most 1936 bytes."""
    def read_buffer_capacity(self, capacity: int) -> Self:
        """Size of the socket read buffer, 1..65535 (65535)."""
    def local_address(self, address: str | tuple[str, int]) -> Self:
        """Local ``ip:port`` to bind the client socket to (port 0..65535; 0: any)."""
    def no_echo(self, enabled: bool = True) -> Self:
        """Do not receive messages this connection published."""
    def require_tls(self, enabled: bool = True) -> Self:
        """Refuse to connect without TLS."""
    def tls_first(self, enabled: bool = True) -> Self:
        """Start TLS before the server's INFO (server option ``handshake_first``)."""
    def add_root_certificates(self, path: str | os.PathLike[str]) -> Self:
        """Trust the CA certificates in a PEM file (it may hold several); repeatable."""
    def add_client_certificate(
        self, cert_path: str | os.PathLike[str], key_path: str | os.PathLike[str]
    ) -> Self:
        """Present this certificate and key (PEM files) for mutual TLS."""
    def tls(self, config: TlsConfig | ssl.SSLContext) -> Self:
        """Use this TLS configuration (implies ``require_tls``).

        From an ``ssl.SSLContext`` natsrs carries over the CA certificates it can read
        back (``get_ca_certs``; a context relying on default paths gets the platform
        store), ``verify_mode=CERT_NONE``, ``check_hostname=False`` and the client
        certificate and key of ``load_cert_chain`` (read out of the context's OpenSSL
        on CPython; where that is impossible, pass them with ``add_client_certificate``).
        """
    def token(self, token: str) -> Self:
        """Authenticate with a token (server ``authorization { token }``)."""
    def user_and_password(self, user: str, password: str) -> Self:
        """Authenticate with a user name and password."""
    def nkey(self, seed: str) -> Self:
        """Authenticate with a user nkey seed (``SU...``); the nonce is signed in Rust.

        Raises:
            natsrs.errors.InvalidCredentialsError: the seed is malformed or not a user seed.
        """
    def jwt(self, jwt: str, sign_cb: Callable[[bytes], bytes | Awaitable[bytes]]) -> Self:
        """Authenticate with a user JWT; ``sign_cb(nonce)`` returns the nonce signed by the
        user's nkey. It runs on the event loop that called ``connect()``.

        Raises:
            natsrs.errors.InvalidCredentialsError: the JWT is malformed.
        """
    def credentials(self, creds: str) -> Self:
        """Authenticate with the contents of a ``.creds`` file (user JWT and seed).

        Raises:
            natsrs.errors.InvalidCredentialsError: the text is not a valid creds file.
        """
    def credentials_file(self, path: str | os.PathLike[str]) -> Self:
        """Authenticate with a ``.creds`` file, read and checked now.

        Raises:
            natsrs.errors.InvalidCredentialsError: unreadable or malformed.
        """
    def auth_callback(self, callback: Callable[[bytes], Auth | Awaitable[Auth]]) -> Self:
        """``callback(nonce) -> Auth`` (plain or async), called on every connect and
        reconnect, on the event loop that called ``connect()``. An exception raised in it
        becomes the ``__cause__`` of the ``AuthorizationError``."""
    @staticmethod
    def with_token(token: str) -> ConnectOptions:
        """New options authenticating with a token: ``ConnectOptions().token(token)``."""
    @staticmethod
    def with_user_and_password(user: str, password: str) -> ConnectOptions:
        """New options authenticating with a user name and password:
        ``ConnectOptions().user_and_password(user, password)``."""
    @staticmethod
    def with_nkey(seed: str) -> ConnectOptions:
        """New options authenticating with a user nkey seed: ``ConnectOptions().nkey(seed)``.

        Raises:
            natsrs.errors.InvalidCredentialsError: the seed is malformed or not a user seed.
        """
    @staticmethod
    def with_jwt(jwt: str, sign_cb: Callable[[bytes], bytes | Awaitable[bytes]]) -> ConnectOptions:
        """New options authenticating with a user JWT and a nonce signer:
        ``ConnectOptions().jwt(jwt, sign_cb)``.

        Raises:
            natsrs.errors.InvalidCredentialsError: the JWT is malformed.
        """
    @staticmethod
    def with_credentials(creds: str) -> ConnectOptions:
        """New options authenticating with the contents of a ``.creds`` file:
        ``ConnectOptions().credentials(creds)``.

        Raises:
            natsrs.errors.InvalidCredentialsError: the text is not a valid creds file.
        """
    @staticmethod
    def with_credentials_file(path: str | os.PathLike[str]) -> ConnectOptions:
        """New options authenticating with a ``.creds`` file, read and checked now:
        ``ConnectOptions().credentials_file(path)``.

        Raises:
            natsrs.errors.InvalidCredentialsError: unreadable or malformed.
        """
    @staticmethod
    def with_auth_callback(
        callback: Callable[[bytes], Auth | Awaitable[Auth]],
    ) -> ConnectOptions:
        """New options whose credentials come from ``callback(nonce) -> Auth`` on every
        connect and reconnect: ``ConnectOptions().auth_callback(callback)``."""
    def event_callback(self, callback: Callable[[Event], object]) -> Self:
        """``callback(event)`` (plain or async) for every connection event, in order, one
        at a time, on the event loop that called ``connect()``. An exception in it is
        logged on the ``natsrs`` logger and reported as a ``CLIENT_ERROR`` event on
        ``Client.events()``; the connection is not affected."""
    def reconnect_delay_callback(
        self, callback: Callable[[int], float | datetime.timedelta]
    ) -> Self:
        """``callback(attempts) -> seconds``: the wait before reconnect attempt ``attempts``
        (synchronous; it runs on the connecting loop; the engine's backoff when absent or
        when it fails)."""
    def reconnect_to_server_callback(
        self,
        callback: Callable[
            [list[Server], ServerInfo],
            ReconnectToServer | Awaitable[ReconnectToServer | None] | None,
        ],
    ) -> Self:
        """``callback(servers, info)`` chooses the server of the next attempt (``None``:
        default selection). A server not in the pool falls back to default selection and
        reports a ``CLIENT_ERROR`` event. A zero delay retries a server that just failed
        after 50 ms at the earliest, so it cannot spin."""
    def connect(self, servers: str | Sequence[str] | None = None) -> _Op[Client]:
        """Connect to ``servers`` (default ``nats://127.0.0.1:4222``).

        Raises:
            natsrs.errors.NoServersError: no server could be reached.
            natsrs.errors.AuthorizationError: the server refused the credentials.
            natsrs.errors.InvalidServerAddressError: a URL could not be parsed.
        """

@final
class EventKind:
    """Kind of a connection event."""

    CONNECTED: ClassVar[EventKind]
    DISCONNECTED: ClassVar[EventKind]
    LAME_DUCK_MODE: ClassVar[EventKind]
    DRAINING: ClassVar[EventKind]
    CLOSED: ClassVar[EventKind]
    SLOW_CONSUMER: ClassVar[EventKind]
    SERVER_ERROR: ClassVar[EventKind]
    CLIENT_ERROR: ClassVar[EventKind]
    DISCOVERED_SERVERS: ClassVar[EventKind]
    """A server of the cluster announced servers the pool did not have; they joined it."""
    def __int__(self) -> int: ...

@final
class Event:
    """A connection event."""

    @property
    def kind(self) -> EventKind: ...
    @property
    def sid(self) -> int | None:
        """The subscription of a ``SLOW_CONSUMER`` event, or of a ``CLIENT_ERROR`` for a
        malformed message that was dropped (``ProtocolError``)."""
    @property
    def message(self) -> str | None:
        """Detail of error events."""
    @property
    def error(self) -> Exception | None:
        """The exception an error event stands for, chosen by the error's kind
        (``natsrs.errors``: ``SlowConsumerError``, ``AuthorizationError``,
        ``NoServersError``, ...); for ``DISCONNECTED``, ``UnexpectedEOF`` when the
        connection was lost (not closed, drained or asked to reconnect); else ``None``."""

@final
class EventStream:
    """``Client.events()``: every event from its creation on, none dropped; ends after
    ``CLOSED``."""

    def __aiter__(self) -> AsyncIterator[Event]: ...
    def __anext__(self) -> _Op[Event]: ...

@final
class Server:
    """A server of the client's pool and its connection history."""

    addr: Final[str]
    """The URL, credentials replaced by ``***``."""
    failed_attempts: Final[int]
    did_connect: Final[bool]
    is_discovered: Final[bool]
    """Announced by the cluster rather than configured."""
    last_error: Final[str | None]

@final
class ReconnectToServer:
    """The answer of a reconnect-to-server callback."""

    def __new__(cls, addr: str, delay: _Duration | None = None) -> Self: ...
    @property
    def addr(self) -> str: ...
    @property
    def delay(self) -> float | None: ...

@final
class TlsConfig:
    """Client TLS settings, checked when made (``ValueError`` on bad PEM or paths).

    Args:
        ca: CA certificates to trust: a path, PEM ``bytes``/``str``, or a list of them;
            default: the platform's trust store.
        cert: client certificate chain (path or PEM) for mutual TLS; needs ``key``.
        key: the client certificate's private key (path or PEM).
        server_name: verify the server certificate against this name instead of the
            URL's host.
        danger_accept_invalid_certs: accept any server certificate. For development
            only: it disables all verification.
    """

    def __new__(
        cls,
        *,
        ca: str | os.PathLike[str] | bytes | Sequence[str | os.PathLike[str] | bytes] | None = None,
        cert: str | os.PathLike[str] | bytes | None = None,
        key: str | os.PathLike[str] | bytes | None = None,
        server_name: str | None = None,
        danger_accept_invalid_certs: bool = False,
    ) -> Self: ...
    @staticmethod
    def from_ssl_context(context: ssl.SSLContext, *, server_name: str | None = None) -> TlsConfig:
        """What natsrs makes of ``context`` (see ``ConnectOptions.tls``), verified against
        ``server_name`` instead of the URL's host when given.

        Raises:
            TypeError: ``context`` is not an ``ssl.SSLContext``.
            ValueError: an invalid ``server_name``, or a client certificate or key rustls
                cannot use.
        """

@final
class Auth:
    """What an auth callback returns; set the fields the server's auth setup expects.

    ``repr`` shows the user name and nkey, never a secret.
    """

    def __new__(
        cls,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        jwt: str | None = None,
        nkey: str | None = None,
        signature: bytes | None = None,
    ) -> Self: ...
    @property
    def username(self) -> str | None: ...
    @property
    def nkey(self) -> str | None: ...

@final
class ServerInfo:
    """The INFO the server sent on the current connection."""

    server_id: Final[str]
    server_name: Final[str]
    host: Final[str]
    port: Final[int]
    version: Final[str]
    auth_required: Final[bool]
    tls_required: Final[bool]
    max_payload: Final[int]
    proto: Final[int]
    client_id: Final[int]
    go: Final[str]
    nonce: Final[str]
    connect_urls: Final[list[str]]
    client_ip: Final[str]
    headers: Final[bool]
    lame_duck_mode: Final[bool]
    cluster: Final[str | None]
    domain: Final[str | None]
    jetstream: Final[bool]

@final
class Statistics:
    """A snapshot of a client's counters."""

    in_bytes: Final[int]
    out_bytes: Final[int]
    in_messages: Final[int]
    out_messages: Final[int]
    connects: Final[int]

@final
class HeaderMap:
    """Multi-valued, order- and case-preserving NATS headers.

    Names and values are validated when set: a name must be non-empty printable ASCII
    without ``:`` or whitespace; a value must not contain CR or LF, nor start or end
    with whitespace (the wire format trims it); otherwise
    ``natsrs.errors.BadHeaderError``. Lookups are case-sensitive.
    """

    def __new__(cls, headers: Mapping[str, str | Sequence[str]] | None = None) -> Self: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """First value of ``name``."""
    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order (empty list when absent)."""
    def insert(self, name: str, value: str) -> None:
        """Replace every value of ``name`` with ``value``."""
    def append(self, name: str, value: str) -> None:
        """Add ``value`` after the existing values of ``name``."""
    def keys(self) -> list[str]: ...
    def values(self) -> list[str]:
        """The first value of each name."""
    def items(self) -> list[tuple[str, str]]:
        """``(name, value)`` for every value, in order."""
    def to_dict(self) -> dict[str, list[str]]: ...
    def __getitem__(self, name: str, /) -> str: ...
    def __setitem__(self, name: str, value: str, /) -> None: ...
    def __delitem__(self, name: str, /) -> None: ...
    def __contains__(self, name: object, /) -> bool: ...
    def __len__(self) -> int:
        """Number of distinct names."""
    def __iter__(self) -> Iterator[str]: ...
    def __eq__(self, other: object, /) -> bool:
        """Equal to a ``HeaderMap`` or a mapping with the same entries
        (``{"K": "v"}`` or ``{"K": ["v", "w"]}``)."""

@final
class Message:
    """A message received from the server."""

    @property
    def subject(self) -> str: ...
    @property
    def reply(self) -> str:
        """The reply subject; ``""`` when there is none (as nats-py)."""
    @property
    def payload(self) -> bytes: ...
    @property
    def headers(self) -> Headers | None:
        """A ``dict`` of each name's first value (nats-py's shape); every value of a
        repeated name under ``get_all``. Made on first access and kept."""
    @property
    def status(self) -> int | None:
        """Status code of a status message (e.g. 503 for no responders)."""
    @property
    def description(self) -> str | None: ...
    @property
    def data(self) -> bytes:
        """``payload`` under nats-py's name."""
    @property
    def header(self) -> Headers | None:
        """``headers`` under nats-py's other name."""
    @property
    def length(self) -> int:
        """Size of payload plus headers as received."""
    def respond(self, payload: _Payload = b"", *, headers: _HeadersLike | None = None) -> _Op[None]:
        """Publish ``payload`` to this message's reply subject.

        Raises:
            natsrs.errors.NoReplySubjectError: the message has no reply subject.
        """
    def ack(self) -> _Op[None]:
        """JetStream: acknowledge the message (it is not delivered again).

        Raises:
            natsrs.js.errors.NotJSMessageError: the message has no reply subject.
            natsrs.js.errors.MsgAlreadyAckdError: it was already acked, nacked or terminated.
        """
    def ack_sync(self, timeout: _Duration | None = 1.0) -> _Op[Message]:
        """JetStream: acknowledge and wait for the server's confirmation (its reply)."""
    def double_ack(self, timeout: _Duration | None = 5.0) -> _Op[None]:
        """JetStream: acknowledge and wait for the server's confirmation."""
    def nak(self, delay: _Duration | None = None) -> _Op[None]:
        """JetStream: deliver the message again, after ``delay`` if given."""
    def in_progress(self) -> _Op[None]:
        """JetStream: still working on it (restarts the ack wait); may repeat."""
    def term(self, reason: str | None = None) -> _Op[None]:
        """JetStream: never deliver the message again."""
    @property
    def is_acked(self) -> bool:
        """JetStream: an ack, nak or term was sent."""
    @property
    def _ackd(self) -> bool: ...
    @property
    def metadata(self) -> Metadata:
        """JetStream: stream, consumer, sequences, delivered count, pending and timestamp
        from the reply subject.

        Raises:
            natsrs.js.errors.NotJSMessageError: the reply is not a JetStream ack subject.
        """

@final
class PubAck:
    """The stream's acknowledgement of a published message (``nats.js.api.PubAck``)."""

    def __new__(
        cls,
        stream: str,
        seq: int,
        domain: str | None = None,
        duplicate: bool | None = None,
        batch_id: str | None = None,
        batch_size: int | None = None,
        val: str | None = None,
    ) -> Self: ...
    @property
    def stream(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def sequence(self) -> int:
        """``seq`` under async-nats's name."""
    @property
    def domain(self) -> str | None: ...
    @property
    def duplicate(self) -> bool | None: ...
    @property
    def batch_id(self) -> str | None: ...
    @property
    def batch_size(self) -> int | None: ...
    @property
    def val(self) -> str | None: ...
    @classmethod
    def from_response(cls, resp: dict[str, Any]) -> PubAck: ...
    def evolve(self, **params: Any) -> PubAck: ...
    def as_dict(self) -> dict[str, object]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class _JetStream:
    """The extension's half of a ``JetStreamContext``: its publishes."""

    def publish(
        self,
        subject: str,
        payload: _Payload = b"",
        timeout: _Duration | None = None,
        stream: str | None = None,
        headers: _HeadersLike | None = None,
        msg_ttl: _Duration | None = None,
        *,
        msg_id: str | None = None,
        expected_last_sequence: int | None = None,
        expected_last_subject_sequence: int | None = None,
        expected_last_msg_id: str | None = None,
    ) -> _Op[PubAck]: ...
    def publish_async(
        self,
        subject: str,
        payload: _Payload = b"",
        wait_stall: _Duration | None = None,
        stream: str | None = None,
        headers: _HeadersLike | None = None,
        msg_ttl: _Duration | None = None,
        *,
        msg_id: str | None = None,
        expected_last_sequence: int | None = None,
        expected_last_subject_sequence: int | None = None,
        expected_last_msg_id: str | None = None,
    ) -> _Op[_Op[PubAck]]: ...
    def pending(self) -> int: ...
    def completed(self) -> _Op[None]: ...

@final
class Subscriber:
    """A subscription; iterate it with ``async for``.

    Iteration ends after ``unsubscribe()``, after the n-th message of
    ``unsubscribe_after(n)``, when a drain completes, or when the client closes.
    """

    @property
    def sid(self) -> int: ...
    @property
    def subject(self) -> str: ...
    @property
    def queue(self) -> str:
        """The queue group; ``""`` without one (as nats-py)."""
    def __aiter__(self) -> AsyncIterator[Message]: ...
    def __anext__(self) -> _Op[Message]: ...
    def next(self, timeout: _Duration | None = None) -> _Op[Message | None]:
        """The next message, or ``None`` when the subscription has ended.

        Raises:
            natsrs.errors.TimeoutError: nothing arrived within ``timeout``.
        """
    @property
    def messages(self) -> Subscriber:
        """nats-py's message iterator: the subscriber itself."""
    def next_batch(self, max: int = 1024, timeout: _Duration | None = None) -> _Op[list[Message]]:
        """Every queued message up to ``max`` in one call, waiting only for the first
        (at most ``timeout``, then ``natsrs.errors.TimeoutError``); an empty list once
        the subscription has ended."""
    def _next_held_batch(self, max: int) -> _Op[int | None]:
        """``natsrs.aio.subscription``'s reader: queued messages into ``_held.queue`` under its
        pending limits; resolves to the number dropped, ``None`` once ended."""
    @property
    def delivered(self) -> int:
        """Messages handed to Python so far."""
    @property
    def pending_msgs(self) -> int:
        """Messages received and not yet handed to Python (with ``cb=``: not yet given to
        the callback)."""
    @property
    def pending_bytes(self) -> int:
        """The payload bytes of the ``pending_msgs`` messages (nats-py's measure)."""
    @property
    def _held(self) -> _HeldQueue | None:
        """A ``cb=`` subscription's Python-side queue, counted in ``pending_msgs``."""
    @_held.setter
    def _held(self, held: _HeldQueue) -> None: ...
    def next_msg(self, timeout: float | None = 1.0) -> _Op[Message]:
        """nats-py's ``next_msg``.

        Raises:
            natsrs.errors.TimeoutError: nothing within ``timeout`` seconds.
            natsrs.errors.BadSubscriptionError: the subscription has ended.
        """
    def unsubscribe(self, limit: int = 0) -> _Op[None]:
        """End the subscription; with ``limit > 0``, after that many more messages."""
    def unsubscribe_after(self, count: int) -> _Op[None]:
        """End the subscription after ``count`` more messages."""
    def drain(self) -> _Op[None]:
        """Unsubscribe, deliver what is already in flight, then end iteration."""

@final
class KvWatchReader:
    """Makes a Key-Value watcher's entries (``natsrs.js.kv``) from the messages of its
    ordered push consumer, a batch at a time, without a ``Message`` per delivery."""

    def __new__(
        cls, bucket: str, prefix: str, entry_class: type[Any], ignore_deletes: bool
    ) -> Self: ...
    def take(
        self,
        sub: Subscriber,
        consumer_seq: int,
        marker_sent: bool,
        max: int = 1024,
        timeout: _Duration | None = None,
    ) -> _Op[tuple[list[Any], int, int, int, bool, Message | Literal[True] | None] | None]:
        """The next batch of ``sub`` (waiting for the first message only, at most
        ``timeout``, then ``TimeoutError``) as ``(entries, taken, consumer_seq,
        stream_seq, marker_sent, stop)``, or ``None`` once the subscription has ended.
        The batch stops at a control message (``stop``, the rest kept for the next call)
        or a gap in the consumer sequences (``stop`` is ``True``, the rest dropped)."""

@final
class Client:
    """A connection to a NATS server, kept alive by the engine's connection handler."""

    def publish(
        self,
        subject: str,
        payload: _Payload = b"",
        reply: str | None = None,
        headers: _HeadersLike | None = None,
    ) -> _Op[None]:
        """Publish a message.

        Completes as soon as the message is queued for the connection; ``flush()``
        waits until the server has it.

        Raises:
            natsrs.errors.BadSubjectError: invalid subject or reply subject, or one over 2000 bytes.
            natsrs.errors.MaxPayloadError: payload larger than the server's limit.
            natsrs.errors.BadHeaderError: invalid header name or value.
            natsrs.errors.ConnectionClosedError: the client is closed.
        """
    def publish_many(self, messages: Iterable[tuple[str, _Payload]]) -> _Op[None]:
        """Publish many ``(subject, payload)`` messages in one call, in order.

        They queue in the client's outbox behind earlier publishes; the call waits only
        when the outbox is past its limits. On an error the messages before it were
        published.
        """
    def publish_with_reply(
        self, subject: str, reply: str, payload: _Payload = b""
    ) -> _Op[None]: ...
    def publish_with_headers(
        self, subject: str, headers: _HeadersLike, payload: _Payload = b""
    ) -> _Op[None]: ...
    def publish_with_reply_and_headers(
        self, subject: str, reply: str, headers: _HeadersLike, payload: _Payload = b""
    ) -> _Op[None]: ...
    def request(
        self,
        subject: str,
        payload: _Payload = b"",
        timeout: _Duration | None = None,
        old_style: bool = False,
        headers: _HeadersLike | None = None,
        *,
        inbox: str | None = None,
    ) -> _Op[Message]:
        """Send a request and wait for the first reply.

        ``timeout`` defaults to the client's ``request_timeout``. Without ``inbox`` the
        request shares the client's single multiplexed inbox subscription;
        ``old_style=True`` (nats-py) uses a fresh inbox like ``inbox=``.

        Raises:
            natsrs.errors.NoRespondersError: nobody is subscribed to ``subject``.
            natsrs.errors.TimeoutError: no reply in time.
        """
    def subscribe(
        self,
        subject: str,
        queue: str | None = None,
        cb: Callable[[Message], Awaitable[None]] | None = None,
        future: asyncio.Future[Message] | None = None,
        max_msgs: int | None = None,
        pending_msgs_limit: int | None = None,
        pending_bytes_limit: int | None = None,
    ) -> _Op[Subscriber]:
        """Subscribe to ``subject`` (wildcards allowed), optionally in a queue group
        (an empty ``queue`` is none).

        nats-py's parameters work too: ``cb`` (a coroutine function called for each
        message, one at a time; its exceptions and dropped messages go to the client's
        error callback), ``future`` (resolved with the first message), ``max_msgs``
        (unsubscribe after that many) and the pending limits (with ``cb``, nats-py's
        defaults 524288 messages and 128 MiB; without, none unless given: then what
        arrives past them is dropped and reported to the error callback, as in nats-py).

        Raises:
            natsrs.errors.InvalidCallbackTypeError: ``cb`` is not a coroutine function.
        """
    def queue_subscribe(self, subject: str, queue: str) -> _Op[Subscriber]: ...
    def flush(self, timeout: _Duration | None = None) -> _Op[None]:
        """Wait until the server has processed everything sent so far (a round trip):
        a subscription made before is live on the server afterwards. The round trip is a
        PING and its PONG: it publishes nothing and needs no permission.

        Raises:
            natsrs.errors.FlushTimeoutError: not within ``timeout`` (default 10 s).
        """
    def drain(self) -> _Op[None]:
        """Unsubscribe everything, deliver in-flight messages, flush, then close."""
    def connect(self) -> _Op[None]:
        """Connect a closed client again, with the servers and options it was made with
        (nats-py's ``connect()`` after ``close()``); subscriptions of the closed
        connection stay closed. On a client that is not closed it does nothing."""
    def close(self) -> _Op[None]:
        """Close the connection for good: reconnecting stops, subscriptions end.

        Later calls raise ``natsrs.errors.ConnectionClosedError``. Idempotent.
        """
    def events(self) -> EventStream:
        """Connection events from now on, as an async iterator that never drops one."""
    def force_reconnect(self) -> _Op[None]:
        """Drop the connection and reconnect."""
    def server_pool(self) -> _Op[list[Server]]: ...
    def set_server_pool(self, servers: str | Sequence[str]) -> _Op[None]:
        """Replace the pool; servers in both keep their history; attempts reset.

        Raises:
            natsrs.errors.ServerPoolError: empty, or websocket mixed with plain URLs.
            natsrs.errors.InvalidServerAddressError: a URL cannot be parsed.
        """
    @property
    def _error_callback(self) -> Callable[[Exception], Awaitable[None]] | None:
        """nats-py's ``error_cb``: receives errors of ``cb`` subscriptions."""
    @_error_callback.setter
    def _error_callback(self, callback: Callable[[Exception], Awaitable[None]] | None) -> None: ...
    def new_inbox(self) -> str: ...
    def jetstream(self, **options: Any) -> JetStreamContext:
        """A JetStream context: ``natsrs.js.JetStreamContext(self, **options)``."""
    def jsm(self, **options: Any) -> JetStreamManager:
        """JetStream's management calls: ``natsrs.js.JetStreamManager(self, **options)``."""
    def _jetstream_core(self, timeout: _Duration, max_pending: int) -> _JetStream: ...
    def statistics(self) -> Statistics: ...
    def is_server_compatible(self, major: int, minor: int, patch: int) -> bool: ...
    @property
    def server_info(self) -> ServerInfo | None:
        """INFO of the current server; ``None`` before the first connection."""
    @property
    def servers(self) -> list[urllib.parse.ParseResult]:
        """The pool (configured and discovered servers) as nats-py shows it, credentials
        replaced by ``***``; read again after each connection and ``set_server_pool``."""
    @property
    def discovered_servers(self) -> list[urllib.parse.ParseResult]:
        """The servers of the pool that the cluster announced."""
    @property
    def connected_url(self) -> urllib.parse.ParseResult | None:
        """The pool entry of the server connected to (credentials replaced by ``***``);
        ``None`` when not connected."""
    @property
    def connected_server_version(self) -> ServerVersion:
        """The connected server's version (``0.0.0-unknown`` before a connection)."""
    @property
    def connection_state(self) -> ConnectionState: ...
    @property
    def is_closed(self) -> bool: ...
    @property
    def is_connected(self) -> bool:
        """nats-py's flags, from ``connection_state``."""
    @property
    def is_reconnecting(self) -> bool: ...
    @property
    def is_connecting(self) -> bool: ...
    @property
    def is_draining(self) -> bool: ...
    @property
    def last_error(self) -> str | None:
        """The text of the last error event (server or client)."""
    @property
    def last_exception(self) -> Exception | None:
        """The last error event's error as its typed exception (nats-py's
        ``last_error``), or ``None``."""
    @property
    def client_id(self) -> int | None: ...
    @property
    def client_ip(self) -> str | None: ...
    @property
    def stats(self) -> dict[str, int]:
        """nats-py's counters: ``in_msgs``, ``out_msgs``, ``in_bytes``, ``out_bytes``,
        ``reconnects``, ``errors_received``."""
    def rtt(self) -> _Op[float]:
        """Round-trip time to the server in seconds (one request nobody answers)."""
    @property
    def max_payload(self) -> int: ...
    @property
    def pending_data_size(self) -> int:
        """Payload bytes published but not yet handed to the engine (nats-py's name)."""
    @property
    def timeout(self) -> float | None:
        """Default request timeout in seconds."""
    def __aenter__(self) -> _Op[Self]: ...
    def __aexit__(self, *exc_info: object) -> _Op[None]: ...
