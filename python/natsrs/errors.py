"""Exceptions raised by natsrs.

The tree mirrors async-nats's error kinds and keeps nats-py's class names where the
meaning is the same, so ``except nats.errors.TimeoutError`` style code keeps working.
It is defined in Python rather than with ``create_exception!`` because several classes
inherit from builtins as well (``TimeoutError`` is the builtin ``TimeoutError`` and
``asyncio.TimeoutError`` on every supported Python; input errors are ``ValueError``),
and the extension raises these exact classes.

JetStream's errors hang off the same tree::

    Error
    └── JetStreamError                  nats-py's nats.js.errors.Error
        ├── JetStreamAPIError           nats-py's APIError: the server's JSON error
        │   └── (natsrs.js.errors)      ServiceUnavailableError, ServerError,
        │                               NotFoundError, BadRequestError, KV and Object
        │                               Store errors
        ├── MsgAlreadyAckdError
        └── NotJSMessageError
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, NoReturn

__all__ = [
    "AuthorizationError",
    "BadHeaderError",
    "BadQueueError",
    "BadSubjectError",
    "BadSubscriptionError",
    "ConnectError",
    "ConnectTimeoutError",
    "ConnectionClosedError",
    "DrainTimeoutError",
    "Error",
    "FlushTimeoutError",
    "InvalidCallbackTypeError",
    "InvalidCredentialsError",
    "InvalidServerAddressError",
    "MaxPayloadError",
    "NoReplySubjectError",
    "NoRespondersError",
    "NoServersError",
    "RequestError",
    "ServerPoolError",
    "SlowConsumerError",
    "TimeoutError",
    "TlsError",
]

# On 3.11+ asyncio.TimeoutError *is* the builtin; listing it twice would be a
# duplicate base class.
_TIMEOUT_BASES: tuple[type[BaseException], ...] = (
    (TimeoutError,)
    if asyncio.TimeoutError is TimeoutError
    else (TimeoutError, asyncio.TimeoutError)
)


class Error(Exception):
    """Base class of every natsrs error."""


class ConnectionClosedError(Error):
    """The client was closed (or drained); no further operation is possible."""


class TimeoutError(Error, *_TIMEOUT_BASES):  # type: ignore[misc]
    """An operation did not complete in time (request, flush, next message)."""


class FlushTimeoutError(TimeoutError):
    """``flush`` did not complete in time."""


class DrainTimeoutError(TimeoutError):
    """``drain`` did not complete in time."""


class NoRespondersError(Error):
    """A request reached no subscriber (the server answered with status 503)."""


class RequestError(Error):
    """A request failed for another reason (its reply channel broke)."""


class SlowConsumerError(Error):
    """A subscription's buffer was full and a message was dropped."""

    def __init__(
        self, message: str = "slow consumer", *, subject: str | None = None, sid: int | None = None
    ) -> None:
        super().__init__(message)
        self.subject = subject
        self.sid = sid


class InvalidCallbackTypeError(Error, TypeError):
    """A callback that must be a coroutine function is not one."""


class ConnectError(Error):
    """The connection could not be established."""


class NoServersError(ConnectError):
    """No server in the pool could be reached (refused, unreachable, DNS, I/O)."""


class ConnectTimeoutError(NoServersError, TimeoutError):
    """A connection attempt exceeded ``connection_timeout``."""


class AuthorizationError(ConnectError):
    """The server rejected the client's credentials or permissions."""


class TlsError(ConnectError, ssl.SSLError):
    """TLS could not be negotiated (handshake, certificates, or TLS required).

    Also an :class:`ssl.SSLError` (so an ``OSError``), which is what code written for
    Python's own TLS sockets (and nats-py) catches."""

    # SSLError's str() shows the argument tuple; the message reads better.
    __str__ = Exception.__str__


class InvalidServerAddressError(ConnectError, ValueError):
    """A server URL could not be parsed."""


class InvalidCredentialsError(Error, ValueError):
    """A token, nkey seed, JWT or ``.creds`` content is malformed (raised when it is set)."""


class BadSubscriptionError(Error):
    """The subscription has ended (unsubscribed, drained or closed)."""


class ServerPoolError(Error, ValueError):
    """A server pool is empty or mixes websocket and plain URLs."""


class BadSubjectError(Error, ValueError):
    """A subject is empty, contains whitespace, or has an invalid token structure."""


class BadQueueError(BadSubjectError):
    """A queue group name is empty or contains whitespace (a ``BadSubjectError`` too, the
    error nats-py raises for a bad queue group)."""


class MaxPayloadError(Error, ValueError):
    """The message is larger than the server's ``max_payload``; nothing was sent."""


class BadHeaderError(Error, ValueError):
    """A header name or value is invalid (``:``/non-ASCII name, CR/LF in a value)."""


class NoReplySubjectError(Error, ValueError):
    """``respond`` was called on a message that has no reply subject."""


# -- nats-py's remaining names ------------------------------------------------------------
#
# nats-py (``nats.errors``) defines these too. The ones natsrs raises are documented where
# they come from; the others are defined so that code written for nats-py, which names
# them in ``except`` clauses, keeps importing and running (an ``except`` naming a missing
# class fails with ``AttributeError`` the moment any exception reaches it).

__all__ += [
    "BadTimeoutError",
    "ConnectionDrainingError",
    "ConnectionReconnectingError",
    "InvalidUserCredentialsError",
    "JsonParseError",
    "OutboundBufferLimitError",
    "ProtocolError",
    "SecureConnFailedError",
    "SecureConnRequiredError",
    "SecureConnWantedError",
    "ServerNotInPoolError",
    "StaleConnectionError",
    "UnexpectedEOF",
]


class StaleConnectionError(Error):
    """The server closed the connection as stale (``-ERR 'Stale Connection'``); given to
    ``error_cb``. The engine's own ping check reconnects without raising it."""


class UnexpectedEOF(StaleConnectionError):
    """The connection ended without the client closing, draining or asking for a
    reconnect: the error of such a ``DISCONNECTED`` event, given to nats-py's ``error_cb``
    before ``disconnected_cb``. Never raised."""


class OutboundBufferLimitError(Error):
    """nats-py's full publish buffer. Never raised by natsrs: while disconnected the
    engine keeps up to ``client_capacity`` commands and ``publish`` waits for room."""


class BadTimeoutError(Error, ValueError):
    """A timeout that is not a positive number (``flush``/``rtt`` of ``natsrs.NATS``)."""


class ConnectionDrainingError(Error):
    """nats-py's "connection draining". natsrs raises ``ConnectionClosedError`` for an
    operation made after ``drain()`` started; this name exists for ``except`` clauses."""


class ConnectionReconnectingError(Error):
    """``natsrs.NATS.drain()`` was called while the client was connecting or reconnecting."""


class ProtocolError(Error):
    """A message from the server did not parse (a peer published a header block or a
    subject the client cannot read) and was dropped; the connection stays up. Never
    raised by a call: it reaches ``error_cb`` and the ``CLIENT_ERROR`` event, with the
    subscription's ``sid``. A stream that cannot be parsed at all costs a reconnect."""

    def __init__(self, message: str = "protocol error", *, sid: int | None = None) -> None:
        super().__init__(message)
        self.sid = sid


class JsonParseError(Error):
    """nats-py's INFO parse error. Never raised by natsrs (a bad INFO fails the connect
    with ``NoServersError``)."""


class ServerNotInPoolError(Error):
    """A reconnect handler chose a server that is not in the pool (given to ``error_cb``;
    the default choice is used instead)."""


InvalidUserCredentialsError = InvalidCredentialsError
"""nats-py's name for :class:`InvalidCredentialsError`."""

# natsrs has one TLS failure class; nats-py's three names all catch it.
SecureConnRequiredError = TlsError
SecureConnWantedError = TlsError
SecureConnFailedError = TlsError


# -- JetStream ----------------------------------------------------------------------------

__all__ += [
    "JetStreamAPIError",
    "JetStreamError",
    "MsgAlreadyAckdError",
    "NotJSMessageError",
]


class JetStreamError(Error):
    """Base class of every JetStream error (nats-py's ``nats.js.errors.Error``).

    ``description`` is the detail, when there is one; ``str()`` reads as nats-py's
    ``nats: JetStream.<ClassName> <description>``.
    """

    def __init__(self, description: str | None = None) -> None:
        super().__init__(*(() if description is None else (description,)))
        self.description = description

    def __str__(self) -> str:
        return f"nats: JetStream.{_nats_py_name(self)} {self.description or ''}"


class JetStreamAPIError(JetStreamError):
    """The JetStream API answered with an error (nats-py's ``nats.js.errors.APIError``).

    ``code`` is the HTTP-like status (404, 400, 503, ...), ``err_code`` the server's
    JetStream error code (10059 is "stream not found"): branch on those, never on
    ``description``. ``from_error`` raises the subclass ``natsrs.js.errors`` has for
    the code.
    """

    def __init__(
        self,
        code: int | None = None,
        description: str | None = None,
        err_code: int | None = None,
        stream: str | None = None,
        seq: int | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.err_code = err_code
        self.stream = stream
        self.seq = seq

    @classmethod
    def from_error(cls, err: dict[str, Any]) -> NoReturn:
        """Raise the error an API response's ``"error"`` object describes.

        As nats-py, the class follows ``code``: 503 ``ServiceUnavailableError``, 500
        ``ServerError``, 404 ``NotFoundError``, 400 ``BadRequestError``, any other
        ``APIError`` (all from ``natsrs.js.errors``). Fields a newer server adds are
        ignored.
        """
        # Imported here: natsrs.js.errors defines the subclasses on top of this module.
        from natsrs.js import errors as js_errors

        by_code: dict[object, type[JetStreamAPIError]] = {
            503: js_errors.ServiceUnavailableError,
            500: js_errors.ServerError,
            404: js_errors.NotFoundError,
            400: js_errors.BadRequestError,
        }
        code = err.get("code")
        raise by_code.get(code, JetStreamAPIError)(
            code=code,
            description=err.get("description"),
            err_code=err.get("err_code"),
            stream=err.get("stream"),
            seq=err.get("seq"),
        )

    @classmethod
    def from_msg(cls, msg: Any) -> NoReturn:
        """Raise the error a status reply (headers, no JSON body) stands for.

        As nats-py: 503 ``ServiceUnavailableError``, any other status an ``APIError``
        with that ``code`` and the ``Description`` header.
        """
        from natsrs.js import errors as js_errors

        headers = msg.headers
        status = getattr(msg, "status", None)
        if status is None and headers:
            status = headers.get("Status")
        if status is None:
            raise JetStreamAPIError()
        if int(status) == 503:
            raise js_errors.ServiceUnavailableError()
        description = getattr(msg, "description", None)
        if description is None and headers:
            description = headers.get("Description")
        raise JetStreamAPIError(code=int(status), description=description)

    def __str__(self) -> str:
        return (
            f"nats: {_nats_py_name(self)}: code={self.code} err_code={self.err_code} "
            f"description='{self.description}'"
        )


def _nats_py_name(err: JetStreamError) -> str:
    """The class name ``str()`` shows: nats-py's for the two base classes, whose natsrs
    names differ (``natsrs.js.errors`` has them as ``Error`` and ``APIError``)."""
    cls = type(err)
    if cls is JetStreamError:
        return "Error"
    if cls is JetStreamAPIError:
        return "APIError"
    return cls.__name__


class NotJSMessageError(JetStreamError):
    """A JetStream-only operation (ack, metadata) on a message that did not come from a
    stream. nats-py defines it in ``nats.errors``, as here."""

    def __str__(self) -> str:
        return "nats: not a JetStream message"


class MsgAlreadyAckdError(JetStreamError):
    """A JetStream message was acknowledged (ack, nak, term) a second time; ``_msg`` is
    the message, as in nats-py."""

    def __init__(self, msg: object = None) -> None:
        super().__init__()
        self._msg = msg

    def __str__(self) -> str:
        return f"nats: message was already acknowledged: {self._msg}"
