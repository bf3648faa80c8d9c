"""nats-py's ``connect`` keywords on natsrs's engine.

``natsrs.connect(servers, **kw)`` hands its keywords here as soon as one of them is
nats-py's (see :func:`uses_nats_py`); ``natsrs.NATS.connect`` always does. Every keyword
is translated onto :class:`natsrs.ConnectOptions` (the table is in ``MIGRATING.md``), and
the six connection callbacks are driven by one ``event_callback`` installed here, a
:class:`Dispatcher`, which also keeps what ``natsrs.NATS``'s properties read (the server
pool, the connected server, the last error).

Keywords natsrs cannot honour are accepted; when one is given a value that would change
nats-py's behaviour, a warning on the ``natsrs`` logger says so and why.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import inspect
import logging
import os
import ssl
import urllib.parse
from collections import UserString
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natsrs import _callbacks, _compat, errors, nkeys
from natsrs._natsrs import (
    Auth,
    Client,
    ConnectionState,
    ConnectOptions,
    Event,
    EventKind,
    ReconnectToServer,
    Server,
    ServerInfo,
    TlsConfig,
)

__all__ = [
    "CALLBACK_NAMES",
    "NATS_PY_DEFAULTS",
    "NATS_PY_KEYWORDS",
    "Dispatcher",
    "PoolServer",
    "connect",
    "connect_with_dispatcher",
    "default_error_callback",
    "event_error",
    "redact",
    "uses_nats_py",
    "with_nats_py_defaults",
]

logger = logging.getLogger("natsrs")

Callback = Callable[[], Awaitable[None]]
ErrorCallback = Callable[[Exception], Awaitable[None]]

CALLBACK_NAMES = (
    "error_cb",
    "disconnected_cb",
    "closed_cb",
    "discovered_server_cb",
    "reconnected_cb",
    "lame_duck_mode_cb",
)
"""The callbacks nats-py requires to be coroutine functions."""

NATS_PY_KEYWORDS = frozenset(
    {
        *CALLBACK_NAMES,
        "name",
        "pedantic",
        "verbose",
        "allow_reconnect",
        "connect_timeout",
        "reconnect_time_wait",
        "max_reconnect_attempts",
        "ping_interval",
        "max_outstanding_pings",
        "dont_randomize",
        "flusher_queue_size",
        "no_echo",
        "tls",
        "tls_hostname",
        "tls_handshake_first",
        "user",
        "password",
        "token",
        "drain_timeout",
        "signature_cb",
        "user_jwt_cb",
        "user_credentials",
        "nkeys_seed",
        "nkeys_seed_str",
        "inbox_prefix",
        "pending_size",
        "flush_timeout",
        "ws_connection_headers",
        "reconnect_to_server_handler",
        "skip_subject_validation",
    }
)
"""Every keyword of nats-py 2.16's ``Client.connect`` except ``servers``."""

# Keywords both APIs have, with the same meaning for the values both accept.
_SHARED = frozenset({"name", "ping_interval", "no_echo", "skip_subject_validation", "tls", "token"})
_NATS_PY_ONLY = NATS_PY_KEYWORDS - _SHARED

# A nats-py keyword and the native options that set the same thing: giving both is an error.
_EQUIVALENTS: dict[str, frozenset[str]] = {
    "connect_timeout": frozenset({"connection_timeout"}),
    "max_reconnect_attempts": frozenset({"max_reconnects"}),
    "reconnect_time_wait": frozenset({"reconnect_delay_callback"}),
    "dont_randomize": frozenset({"retain_servers_order"}),
    "inbox_prefix": frozenset({"custom_inbox_prefix"}),
    "tls_handshake_first": frozenset({"tls_first"}),
    "reconnect_to_server_handler": frozenset({"reconnect_to_server_callback"}),
    "user": frozenset({"user_and_password", "auth_callback"}),
    "password": frozenset({"user_and_password", "auth_callback"}),
    "nkeys_seed": frozenset({"nkey", "auth_callback"}),
    "nkeys_seed_str": frozenset({"nkey", "auth_callback"}),
    "user_credentials": frozenset({"credentials", "credentials_file", "jwt", "auth_callback"}),
    "signature_cb": frozenset({"jwt", "auth_callback"}),
    "user_jwt_cb": frozenset({"jwt", "auth_callback"}),
}

NATS_PY_DEFAULTS: dict[str, Any] = {
    "connect_timeout": 2,
    "reconnect_time_wait": 2,
    "max_reconnect_attempts": 60,
    "ping_interval": 120,
    "max_outstanding_pings": 2,
    "drain_timeout": 30,
    "request_timeout": 0.5,
}
"""nats-py's defaults where they differ from the engine's (``natsrs.NATS`` uses them;
``request_timeout`` is the native option behind ``request()``'s 0.5 s default)."""

_PENDING_SIZE = 2 * 1024 * 1024

# How long connect() waits for the engine's pool after connecting (natsrs.NATS).
_POOL_WAIT = 2.0

# Keywords with no engine counterpart: the value nats-py uses by default (which is also
# what natsrs does) and why any other value cannot be honoured.
_NO_EFFECT: dict[str, tuple[object, str]] = {
    "pedantic": (False, "the engine always sends pedantic=false in CONNECT"),
    "verbose": (False, "the engine always sends verbose=false (no +OK acknowledgements)"),
    "max_outstanding_pings": (
        2,
        "the engine reconnects after 2 unanswered PINGs, a constant (async-nats MAX_PENDING_PINGS)",
    ),
    "flusher_queue_size": (
        1024,
        "the engine writes from its own task; its command queue is `client_capacity`",
    ),
    "pending_size": (
        _PENDING_SIZE,
        "the engine buffers commands, not bytes: see the native `client_capacity` option",
    ),
    "flush_timeout": (
        None,
        "the engine has no forced flush to time out: a full command queue makes publish wait",
    ),
}


def uses_nats_py(options: Mapping[str, Any]) -> bool:
    """Whether ``natsrs.connect`` keywords need this translator.

    True for any keyword only nats-py has, a callable ``token`` (nats-py's token
    callback), or a keyword both APIs share given as ``None`` (nats-py's "not set").
    """
    if not _NATS_PY_ONLY.isdisjoint(options):
        return True
    if callable(options.get("token")):
        return True
    return any(options[key] is None for key in _SHARED.intersection(options))


def with_nats_py_defaults(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` completed with nats-py's defaults, except where the caller set the
    option under either API's name."""
    merged = dict(options)
    for key, value in NATS_PY_DEFAULTS.items():
        if key in merged or not _EQUIVALENTS.get(key, frozenset()).isdisjoint(merged):
            continue
        merged[key] = value
    return merged


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
    opts, dispatcher = _translate(servers, options, for_nats_class=for_nats_class)
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
    passes = dispatcher.initial_passes
    failed = 0
    while True:
        try:
            return await opts.connect(servers)
        except errors.InvalidServerAddressError:
            raise
        except errors.ConnectError as exc:
            if passes is None:
                raise
            dispatcher.last_error = exc
            await _compat.report(dispatcher.error_cb, exc)
            if not dispatcher.allow_reconnect and not isinstance(exc, errors.NoServersError):
                raise
            failed += 1
            if 0 < passes <= failed:
                raise errors.NoServersError(
                    f"nats: no servers available for connection after {failed} attempts "
                    f"(last: {exc})"
                ) from exc
            await asyncio.sleep(dispatcher.initial_wait)


# -- translation ----------------------------------------------------------------------------


def _translate(
    servers: str | Sequence[str] | None,
    options: Mapping[str, Any],
    *,
    for_nats_class: bool,
) -> tuple[ConnectOptions, Dispatcher]:
    rest = dict(options)
    for key, twins in _EQUIVALENTS.items():
        both = twins.intersection(rest)
        if rest.get(key) is not None and both:
            raise TypeError(
                f"connect() got both {key!r} (nats-py) and {sorted(both)[0]!r} (natsrs), "
                "which set the same option; give one"
            )
    callbacks: dict[str, Any] = {name: rest.pop(name, None) for name in CALLBACK_NAMES}
    for name, cb in callbacks.items():
        if cb is not None and not inspect.iscoroutinefunction(cb):
            raise errors.InvalidCallbackTypeError(f"nats: {name} must be a coroutine function")

    opts = ConnectOptions()
    pop = rest.pop
    _warn_no_effect({key: pop(key) for key in _NO_EFFECT if key in rest})
    drain_timeout = pop("drain_timeout", None)
    if drain_timeout is not None and not for_nats_class:
        logger.warning(
            "natsrs: drain_timeout=%r has no effect on natsrs.connect()'s Client, whose "
            "drain() waits at most 10 s; natsrs.NATS.drain() honours it",
            drain_timeout,
        )
    if pop("ws_connection_headers", None):
        raise ValueError(
            "nats: ws_connection_headers is not supported: the engine sends no custom "
            "WebSocket handshake headers"
        )

    name = pop("name", None)
    if name is not None:
        opts.name(name)
    for key, setter in (
        ("connect_timeout", ConnectOptions.connection_timeout),
        ("ping_interval", ConnectOptions.ping_interval),
    ):
        value = pop(key, None)
        if value is not None:
            setter(opts, value)
    attempts = pop("max_reconnect_attempts", None)
    if attempts is not None:
        # nats-py never gives up when the limit is not positive (-1 by convention).
        opts.max_reconnects(attempts if attempts > 0 else None)
    wait = pop("reconnect_time_wait", None)
    if wait is not None:
        opts.reconnect_delay_callback(_constant_delay(float(wait)))
    initial_wait = float(NATS_PY_DEFAULTS["reconnect_time_wait"] if wait is None else wait)
    for key, flag in (
        ("dont_randomize", ConnectOptions.retain_servers_order),
        ("no_echo", ConnectOptions.no_echo),
        ("tls_handshake_first", ConnectOptions.tls_first),
        ("skip_subject_validation", ConnectOptions.skip_subject_validation),
    ):
        value = pop(key, None)
        if value is not None:
            flag(opts, bool(value))
    prefix = pop("inbox_prefix", None)
    if prefix is not None:
        opts.custom_inbox_prefix(_text(prefix))
    _apply_tls(opts, pop("tls", None), pop("tls_hostname", None))
    dynamic_auth = _apply_auth(
        opts,
        user=pop("user", None),
        password=pop("password", None),
        token=pop("token", None),
        signature_cb=pop("signature_cb", None),
        user_jwt_cb=pop("user_jwt_cb", None),
        user_credentials=pop("user_credentials", None),
        nkeys_seed=pop("nkeys_seed", None),
        nkeys_seed_str=pop("nkeys_seed_str", None),
    )
    if dynamic_auth and "auth_callback" in rest:
        raise TypeError("connect() got both nats-py credential callbacks and 'auth_callback'")

    allow_reconnect = pop("allow_reconnect", None)
    handler = pop("reconnect_to_server_handler", None)
    dispatcher = Dispatcher(
        error_cb=callbacks["error_cb"],
        disconnected_cb=callbacks["disconnected_cb"],
        closed_cb=callbacks["closed_cb"],
        discovered_server_cb=callbacks["discovered_server_cb"],
        reconnected_cb=callbacks["reconnected_cb"],
        lame_duck_mode_cb=callbacks["lame_duck_mode_cb"],
        allow_reconnect=True if allow_reconnect is None else bool(allow_reconnect),
        reconnect_to_server_handler=handler,
        event_callback=pop("event_callback", None),
        reconnect_to_server_callback=pop("reconnect_to_server_callback", None),
        configured=_server_list(servers),
        track_pool=for_nats_class or callbacks["discovered_server_cb"] is not None,
        drain_timeout=None if drain_timeout is None else float(drain_timeout),
    )
    if attempts is not None:
        dispatcher.initial_passes = attempts + 1 if attempts > 0 else 0
        dispatcher.initial_wait = initial_wait
    opts.event_callback(dispatcher.on_event)
    if dispatcher.needs_chooser:
        opts.reconnect_to_server_callback(dispatcher.choose)
    elif dispatcher.user_chooser is not None:
        opts.reconnect_to_server_callback(dispatcher.user_chooser)
    apply_native(opts, rest)
    return opts, dispatcher


_TUPLE_OPTIONS = frozenset({"user_and_password", "jwt", "add_client_certificate"})
"""Builder setters that take two arguments; their keyword takes a tuple."""


def apply_native(opts: ConnectOptions, options: Mapping[str, Any]) -> None:
    """Calls the builder setter named by each keyword (``natsrs.connect``'s options).

    Raises:
        TypeError: an unknown keyword.
    """
    for key, value in options.items():
        setter = getattr(ConnectOptions, key, None)
        if key.startswith("_") or key == "connect" or setter is None:
            raise TypeError(f"connect() got an unexpected keyword argument {key!r}")
        if key in _TUPLE_OPTIONS:
            setter(opts, *value)
        else:
            setter(opts, value)


def _warn_no_effect(given: Mapping[str, Any]) -> None:
    for key, value in given.items():
        default, reason = _NO_EFFECT[key]
        if value != default:
            logger.warning("natsrs: %s=%r has no effect: %s", key, value, reason)


def _constant_delay(wait: float) -> Callable[[int], float]:
    """nats-py's ``reconnect_time_wait``: the first attempt after a disconnect is
    immediate (as nats-py's usually is), then ``wait`` seconds before each further one."""
    if wait < 0:
        raise ValueError("reconnect_time_wait must not be negative")

    def delay(attempts: int) -> float:
        return 0.0 if attempts <= 1 else wait

    return delay


def _text(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode()
    return str(value)


# -- TLS ------------------------------------------------------------------------------------


def _apply_tls(opts: ConnectOptions, tls: object, tls_hostname: str | None) -> None:
    if tls is None:
        if tls_hostname is not None:
            opts.tls(TlsConfig(server_name=tls_hostname))
    elif isinstance(tls, ssl.SSLContext):
        opts.tls(tls if tls_hostname is None else _context_for_name(tls, tls_hostname))
    elif not isinstance(tls, TlsConfig):
        raise TypeError("tls must be an ssl.SSLContext or a natsrs.TlsConfig")
    elif tls_hostname is None:
        opts.tls(tls)
    else:
        raise ValueError(
            "nats: tls_hostname cannot be combined with a natsrs.TlsConfig: "
            "give the TlsConfig server_name= instead"
        )


def _context_for_name(context: ssl.SSLContext, server_name: str) -> ssl.SSLContext | TlsConfig:
    """An ``SSLContext`` whose certificate must match ``server_name`` rather than the URL.

    When the context checks no name (``check_hostname=False`` or ``CERT_NONE``) it is
    used as it is. Otherwise it becomes the ``TlsConfig`` natsrs would make of it (the CA
    certificates it can read back, else the platform store) plus ``server_name``.
    """
    if context.verify_mode == ssl.CERT_NONE or not context.check_hostname:
        return context
    cas = context.get_ca_certs(binary_form=True)
    pems = [ssl.DER_cert_to_PEM_cert(der).encode() for der in cas]
    return TlsConfig(ca=pems or None, server_name=server_name)


# -- authentication -------------------------------------------------------------------------


def _apply_auth(
    opts: ConnectOptions,
    *,
    user: object,
    password: object,
    token: object,
    signature_cb: Callable[[str], bytes | str] | None,
    user_jwt_cb: Callable[[], bytes | bytearray | str] | None,
    user_credentials: object,
    nkeys_seed: str | os.PathLike[str] | None,
    nkeys_seed_str: str | None,
) -> bool:
    """Set the credentials; True when they needed an ``auth_callback``.

    nats-py's precedence: a creds file supplies both the JWT and the signature; a seed
    signs (with ``user_jwt_cb``'s JWT if given, else as a plain nkey user); otherwise
    ``signature_cb`` signs. Without a signature: user and password, else the token.
    """
    if (user is None) != (password is None):
        raise ValueError("nats: user and password must be given together")
    seed: str | None = None
    if user_credentials is None:
        if nkeys_seed_str is not None:
            seed = _seed_text(nkeys_seed_str)
        elif nkeys_seed is not None:
            seed = _seed_text(_read(nkeys_seed, "nkeys_seed"))
    if user_credentials is not None:
        signature_cb = user_jwt_cb = None
    elif seed is not None:
        signature_cb = None
    if user_jwt_cb is not None and signature_cb is None and seed is None:
        raise ValueError("nats: user_jwt_cb needs signature_cb to sign the server's nonce")
    dynamic = (
        signature_cb is not None
        or user_jwt_cb is not None
        or any(callable(v) for v in (user, password, token))
    )
    if not dynamic:
        if token is not None:
            opts.token(_text(token))
        if user is not None:
            opts.user_and_password(_text(user), _text(password))
        if seed is not None:
            opts.nkey(seed)
        if user_credentials is not None:
            _apply_credentials(opts, user_credentials)
        return False
    if seed is not None:
        _check_seed(seed)
    creds = user_credentials

    def auth(nonce: bytes) -> Auth:
        jwt: str | None = None
        nkey: str | None = None
        signature: bytes | None = None
        if nonce and creds is not None:
            jwt, creds_seed = _read_credentials(creds)
            signature = nkeys.sign(creds_seed, nonce)
        elif nonce and seed is not None:
            signature = nkeys.sign(seed, nonce)
            if user_jwt_cb is not None:
                jwt = _text(user_jwt_cb()).strip()
            else:
                nkey = nkeys.public_key(seed)
        elif nonce and signature_cb is not None:
            signature = _decode_signature(signature_cb(nonce.decode()))
            if user_jwt_cb is not None:
                jwt = _text(user_jwt_cb()).strip()
        token_text = None if token is None else _text(_called(token))
        if signature is not None:
            # As nats-py: a token may travel with the signature (auth callout).
            return Auth(jwt=jwt, nkey=nkey, signature=signature, token=token_text)
        if user is not None:
            return Auth(username=_text(_called(user)), password=_text(_called(password)))
        return Auth(token=token_text)

    opts.auth_callback(auth)
    return True


def _check_seed(seed: str) -> None:
    """A malformed seed fails when connect() is called, as the native options do."""
    try:
        nkeys.public_key(seed)
    except ValueError as exc:
        raise errors.InvalidCredentialsError("nats: malformed nkey seed") from exc


def _called(value: object) -> object:
    return value() if callable(value) else value


def _read(path: str | os.PathLike[str], what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.InvalidCredentialsError(f"nats: cannot read {what} {path!s}: {exc}") from exc


def _after_marker(text: str, marker: str) -> str | None:
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if marker in line:
            for following in lines[index + 1 :]:
                if following.strip():
                    return following.strip()
    return None


def _seed_text(text: str) -> str:
    """A seed file's seed: the whole (stripped) text, or the seed block of a creds file."""
    return _after_marker(text, "BEGIN USER NKEY SEED") or text.strip()


def _jwt_text(text: str) -> str:
    return _after_marker(text, "BEGIN NATS USER JWT") or text.strip()


def _apply_credentials(opts: ConnectOptions, creds: object) -> None:
    """nats-py's ``user_credentials``: a creds file path, a ``RawCredentials`` (its
    text), or a ``(jwt_file, seed_file)`` pair."""
    if isinstance(creds, UserString):
        opts.credentials(str(creds))
    elif isinstance(creds, (str, os.PathLike)):
        opts.credentials_file(creds)
    elif isinstance(creds, tuple) and len(creds) == 2:
        jwt = _jwt_text(_read(creds[0], "user JWT file"))
        seed = _seed_text(_read(creds[1], "nkey seed file"))
        _check_seed(seed)

        def sign(nonce: bytes) -> bytes:
            return nkeys.sign(seed, nonce)

        opts.jwt(jwt, sign)
    else:
        raise TypeError(
            "user_credentials must be a path, a nats RawCredentials, or a (jwt, seed) pair"
        )


def _read_credentials(creds: object) -> tuple[str, str]:
    """(JWT, seed) from any ``user_credentials`` form, read now (on every connect)."""
    if isinstance(creds, tuple) and len(creds) == 2:
        return (
            _jwt_text(_read(creds[0], "user JWT file")),
            _seed_text(_read(creds[1], "nkey seed file")),
        )
    if isinstance(creds, UserString):
        text = str(creds)
    elif isinstance(creds, (str, os.PathLike)):
        text = _read(creds, "credentials file")
    else:
        raise TypeError(
            "user_credentials must be a path, a nats RawCredentials, or a (jwt, seed) pair"
        )
    jwt = _after_marker(text, "BEGIN NATS USER JWT")
    seed = _after_marker(text, "BEGIN USER NKEY SEED")
    if jwt is None or seed is None:
        raise errors.InvalidCredentialsError("nats: malformed credentials")
    return jwt, seed


def _decode_signature(signature: bytes | bytearray | str) -> bytes:
    """nats-py's ``signature_cb`` returns the signature base64-encoded; the engine wants
    the raw bytes. Standard and URL-safe alphabets, with or without padding, are read;
    a raw 64-byte ed25519 signature is taken as it is."""
    raw = signature.encode() if isinstance(signature, str) else bytes(signature)
    text = raw.strip().replace(b"-", b"+").replace(b"_", b"/")
    text += b"=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        if len(raw) == 64:
            return raw
        raise ValueError("signature_cb must return the base64-encoded signature") from None


# -- servers --------------------------------------------------------------------------------


def _server_list(servers: str | Sequence[str] | None) -> list[str]:
    if servers is None:
        return []
    items = servers.split(",") if isinstance(servers, str) else list(servers)
    return [item.strip() for item in items if item.strip()]


def _with_scheme(url: str) -> str:
    return url if "://" in url else f"nats://{url}"


def _host_port(url: str) -> tuple[str, int | None]:
    try:
        parts = urllib.parse.urlsplit(_with_scheme(url))
        return (parts.hostname or "", parts.port)
    except ValueError:
        return ("", None)


def redact(url: str) -> str:
    """``url`` with its credentials replaced by ``***``, as the engine shows pool entries."""
    url = _with_scheme(url)
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


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


# -- events ---------------------------------------------------------------------------------


def event_error(event: Event) -> Exception:
    """The natsrs exception an error event stands for, with nats-py's class names."""
    message = event.message or str(event.kind)
    low = message.lower()
    if event.kind == EventKind.SLOW_CONSUMER or (
        event.kind == EventKind.SERVER_ERROR and event.sid is not None
    ):
        return errors.SlowConsumerError(message, sid=event.sid)
    if "authorization violation" in low or "failed signing nonce" in low:
        return errors.AuthorizationError(message)
    if event.kind == EventKind.SERVER_ERROR:
        if "stale connection" in low:
            return errors.StaleConnectionError(message)
        return errors.Error(message)
    if "max reconnects" in low:
        return errors.NoServersError(message)
    if "not in pool" in low:
        return errors.ServerNotInPoolError(message)
    if "timed out" in low:
        return errors.ConnectTimeoutError(message)
    if "tls" in low:
        return errors.TlsError(message)
    return errors.ConnectError(message)


class Dispatcher:
    """The ``event_callback`` (and, when needed, the reconnect-to-server callback) behind
    nats-py's connection callbacks, and the state ``natsrs.NATS`` reports.

    Events arrive one at a time, in order, on the loop that connected:

    - ``CONNECTED`` after the first: ``reconnected_cb()``; and, once the pool has been
      read back (in a task of its own: the engine answers nothing while reconnecting),
      ``discovered_server_cb()`` if it gained servers announced by the cluster;
    - ``DISCONNECTED``: ``disconnected_cb()``; ``LAME_DUCK_MODE``: ``lame_duck_mode_cb()``;
    - ``CLOSED``: ``disconnected_cb()`` if the client was connected, then ``closed_cb()``;
    - ``SLOW_CONSUMER``, ``SERVER_ERROR``, ``CLIENT_ERROR``: ``error_cb(exception)``
      (the engine giving up reconnecting only sets ``last_error``, as in nats-py).
    """

    def __init__(
        self,
        *,
        error_cb: ErrorCallback | None,
        disconnected_cb: Callback | None,
        closed_cb: Callback | None,
        discovered_server_cb: Callback | None,
        reconnected_cb: Callback | None,
        lame_duck_mode_cb: Callback | None,
        allow_reconnect: bool,
        reconnect_to_server_handler: Callable[..., Any] | None,
        event_callback: Callable[[Event], object] | None,
        reconnect_to_server_callback: Callable[..., Any] | None,
        configured: list[str],
        track_pool: bool,
        drain_timeout: float | None,
    ) -> None:
        self.error_cb: ErrorCallback = error_cb or default_error_callback
        self.disconnected_cb = disconnected_cb
        self.closed_cb = closed_cb
        self.discovered_server_cb = discovered_server_cb
        self.reconnected_cb = reconnected_cb
        self.lame_duck_mode_cb = lame_duck_mode_cb
        self.allow_reconnect = allow_reconnect
        self.handler = reconnect_to_server_handler
        self.user_event_callback = event_callback
        self.user_chooser = reconnect_to_server_callback
        self.track_pool = track_pool
        self.drain_timeout = drain_timeout
        # Original URLs by host and port: the engine shows pool entries redacted.
        self.configured = {_host_port(url): _with_scheme(url) for url in configured}

        self.client: Client | None = None
        self.connected = False
        self.ever_connected = False
        self.closed = False
        self.closed_event = asyncio.Event()
        self.errors_received = 0
        self.last_error: Exception | None = None
        self.pool: list[Server] = []
        self._discovered: set[str] | None = None
        self._close_when_attached = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._refreshing = asyncio.Lock()
        # The first connect's passes over the servers (0: no limit), when known.
        self.initial_passes: int | None = None
        self.initial_wait = 0.0

    @property
    def needs_chooser(self) -> bool:
        return not self.allow_reconnect or self.handler is not None

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

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
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
                self._spawn(self._refresh_and_report())
            if not first:
                await self._call("reconnected_cb", self.reconnected_cb)
        elif kind == EventKind.DISCONNECTED:
            self.last_error = None
            if self.connected:
                self.connected = False
                await self._call("disconnected_cb", self.disconnected_cb)
            if not self.allow_reconnect:
                self._close_for_good()
        elif kind == EventKind.CLOSED:
            await self._on_closed()
        elif kind == EventKind.LAME_DUCK_MODE:
            await self._call("lame_duck_mode_cb", self.lame_duck_mode_cb)
        elif kind in (EventKind.SLOW_CONSUMER, EventKind.SERVER_ERROR, EventKind.CLIENT_ERROR):
            if kind == EventKind.SERVER_ERROR:
                self.errors_received += 1
            error = event_error(event)
            self.last_error = error
            if isinstance(error, errors.NoServersError):
                return  # nats-py only records it, then closes (closed_cb)
            await _compat.report(self.error_cb, error)

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
            await _compat.report(self.error_cb, exc)
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
        self._spawn(client.close())

    @property
    def is_reconnecting(self) -> bool:
        client = self.client
        return (
            client is not None
            and not client.is_closed
            and client.connection_state == ConnectionState.DISCONNECTED
        )
