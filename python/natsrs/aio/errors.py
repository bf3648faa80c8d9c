"""nats-py's ``nats.aio.errors``: every class of :mod:`natsrs.errors`, plus nats-py's
deprecated ``Err*`` names for them."""

from __future__ import annotations

from natsrs.errors import *  # noqa: F403
from natsrs.errors import (
    AuthorizationError,
    BadSubjectError,
    BadSubscriptionError,
    BadTimeoutError,
    ConnectionClosedError,
    ConnectionDrainingError,
    ConnectionReconnectingError,
    DrainTimeoutError,
    Error,
    InvalidCallbackTypeError,
    InvalidUserCredentialsError,
    JsonParseError,
    MaxPayloadError,
    NoServersError,
    SecureConnFailedError,
    SecureConnRequiredError,
    SecureConnWantedError,
    SlowConsumerError,
    StaleConnectionError,
    TimeoutError,
)
from natsrs.errors import __all__ as _errors_all

NatsError = Error
ErrConnectionClosed = ConnectionClosedError
ErrDrainTimeout = DrainTimeoutError
ErrInvalidUserCredentials = InvalidUserCredentialsError
ErrInvalidCallbackType = InvalidCallbackTypeError
ErrConnectionReconnecting = ConnectionReconnectingError
ErrConnectionDraining = ConnectionDrainingError
ErrMaxPayload = MaxPayloadError
ErrStaleConnection = StaleConnectionError
ErrJsonParse = JsonParseError
ErrSecureConnRequired = SecureConnRequiredError
ErrSecureConnWanted = SecureConnWantedError
ErrSecureConnFailed = SecureConnFailedError
ErrBadSubscription = BadSubscriptionError
ErrBadSubject = BadSubjectError
ErrSlowConsumer = SlowConsumerError
ErrTimeout = TimeoutError
ErrBadTimeout = BadTimeoutError
ErrAuthorization = AuthorizationError
ErrNoServers = NoServersError

__all__ = [
    *_errors_all,
    "ErrAuthorization",
    "ErrBadSubject",
    "ErrBadSubscription",
    "ErrBadTimeout",
    "ErrConnectionClosed",
    "ErrConnectionDraining",
    "ErrConnectionReconnecting",
    "ErrDrainTimeout",
    "ErrInvalidCallbackType",
    "ErrInvalidUserCredentials",
    "ErrJsonParse",
    "ErrMaxPayload",
    "ErrNoServers",
    "ErrSecureConnFailed",
    "ErrSecureConnRequired",
    "ErrSecureConnWanted",
    "ErrSlowConsumer",
    "ErrStaleConnection",
    "ErrTimeout",
    "NatsError",
]
