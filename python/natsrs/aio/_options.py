"""nats-py's ``connect`` keywords, translated onto :class:`natsrs.ConnectOptions`.

``natsrs.connect(servers, **kw)`` hands its keywords here as soon as one of them is
nats-py's (see :func:`uses_nats_py`); ``natsrs.NATS.connect`` always does. Every keyword
becomes a builder setting (the table is in ``MIGRATING.md``) except the connection
callbacks and the settings nats-py's callbacks depend on, which :func:`translate` returns
as :class:`Settings` for :mod:`natsrs.aio._dispatch`.

Keywords natsrs cannot honour are accepted; when one is given a value that would change
nats-py's behaviour, a warning on the ``natsrs`` logger says so and why.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import logging
import os
import ssl
from collections import UserString
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natsrs import errors, nkeys
from natsrs._natsrs import Auth, ConnectOptions, Event, TlsConfig, _redact_url, _server_list

__all__ = [
    "CALLBACK_NAMES",
    "NATS_PY_DEFAULTS",
    "NATS_PY_KEYWORDS",
    "OptionsDict",
    "Settings",
    "apply_native",
    "translate",
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


_SECRET_OPTIONS = frozenset({"password", "token", "nkeys_seed_str", "nkey", "credentials"})
"""Keywords whose value is a credential (as text; a callable is shown, it holds none)."""


class OptionsDict(dict[str, Any]):
    """nats-py's ``Client.options``: the ``connect`` keywords as given, a plain ``dict``
    whose ``repr`` (and ``str``) hides the credentials: passwords, tokens, seeds, raw
    credentials, and the userinfo of server URLs. Callbacks and file paths are shown."""

    def __repr__(self) -> str:
        return repr({key: _shown(key, value) for key, value in self.items()})

    __str__ = __repr__


def _shown(key: str, value: Any) -> Any:
    if value is None or callable(value):
        return value
    if key in _SECRET_OPTIONS:
        return "***"
    if key == "user_credentials" and isinstance(value, UserString):
        return "***"
    if key == "user_and_password" and isinstance(value, tuple) and len(value) == 2:
        return (value[0], "***")
    if key == "jwt" and isinstance(value, tuple) and len(value) == 2:
        return ("***", value[1])
    if key == "servers":
        return _shown_servers(value)
    return value


def _shown_servers(servers: Any) -> Any:
    try:
        if isinstance(servers, str):
            return ",".join(_redact_url(url) for url in _server_list(servers))
        return [_redact_url(str(url)) for url in servers]
    except Exception:
        # Something connect() would have refused; it may still hold a credential.
        return "***"


@dataclass
class Settings:
    """What nats-py's keywords ask of the callbacks rather than of the engine."""

    callbacks: dict[str, Any]
    """The six connection callbacks by keyword (``None`` when not given)."""
    allow_reconnect: bool
    reconnect_to_server_handler: Callable[..., Any] | None
    event_callback: Callable[[Event], object] | None
    """natsrs's own ``event_callback=``, still called with every event."""
    reconnect_to_server_callback: Callable[..., Any] | None
    configured: list[str]
    """The server URLs as given (with their credentials)."""
    track_pool: bool
    """Whether the pool is followed (``natsrs.NATS``, or a ``discovered_server_cb``)."""
    drain_timeout: float | None
    initial_passes: int | None = None
    """The first connect's passes over the servers (0: no limit), when known."""
    initial_wait: float = 0.0
    reconnect_time_wait: float | None = None
    """nats-py's pause before trying a server tried that recently (``None``: not given,
    the engine's backoff applies)."""
    max_reconnect_attempts: int | None = None
    """nats-py's limit of failed attempts per server (not positive: no limit)."""
    retain_order: bool = False
    """``dont_randomize``: the servers are tried in the order given."""


def translate(
    servers: str | Sequence[str] | None,
    options: Mapping[str, Any],
    *,
    for_nats_class: bool,
) -> tuple[ConnectOptions, Settings]:
    """The builder for ``options`` (both APIs' keywords), and the callbacks' settings.

    Raises:
        TypeError: an unknown keyword, or a nats-py keyword together with its native twin.
        natsrs.errors.InvalidCallbackTypeError: a connection callback is not a coroutine
            function.
        ValueError: a value natsrs cannot use (the message says which and why).
    """
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
    retain_order = bool(rest.get("dont_randomize") or rest.get("retain_servers_order"))
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
    settings = Settings(
        callbacks=callbacks,
        allow_reconnect=True if allow_reconnect is None else bool(allow_reconnect),
        reconnect_to_server_handler=pop("reconnect_to_server_handler", None),
        event_callback=pop("event_callback", None),
        reconnect_to_server_callback=pop("reconnect_to_server_callback", None),
        configured=_server_list(servers),
        track_pool=for_nats_class or callbacks["discovered_server_cb"] is not None,
        drain_timeout=None if drain_timeout is None else float(drain_timeout),
    )
    if attempts is not None:
        settings.initial_passes = attempts + 1 if attempts > 0 else 0
        settings.initial_wait = initial_wait
        settings.max_reconnect_attempts = int(attempts)
    settings.reconnect_time_wait = None if wait is None else float(wait)
    settings.retain_order = retain_order
    apply_native(opts, rest)
    return opts, settings


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
    used as it is. Otherwise it becomes what natsrs makes of it (its CA certificates and
    client certificate, as for any ``SSLContext``) verified against ``server_name``.
    """
    if context.verify_mode == ssl.CERT_NONE or not context.check_hostname:
        return context
    return TlsConfig.from_ssl_context(context, server_name=server_name)


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
