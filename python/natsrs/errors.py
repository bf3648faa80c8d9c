"""Exceptions raised by natsrs.

The tree mirrors async-nats's error kinds and keeps nats-py's class names where the
meaning is the same, so ``except nats.errors.TimeoutError`` style code keeps working.
It is defined in Python rather than with ``create_exception!`` because several classes
inherit from builtins as well (``TimeoutError`` is the builtin ``TimeoutError`` and
``asyncio.TimeoutError`` on every supported Python; input errors are ``ValueError``),
and the extension raises these exact classes.
"""

from __future__ import annotations

import asyncio

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


class TlsError(ConnectError):
    """TLS could not be negotiated (handshake, certificates, or TLS required)."""


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


class BadQueueError(Error, ValueError):
    """A queue group name is empty or contains whitespace."""


class MaxPayloadError(Error, ValueError):
    """The message is larger than the server's ``max_payload``; nothing was sent."""


class BadHeaderError(Error, ValueError):
    """A header name or value is invalid (``:``/non-ASCII name, CR/LF in a value)."""


class NoReplySubjectError(Error, ValueError):
    """``respond`` was called on a message that has no reply subject."""
