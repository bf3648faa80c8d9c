"""JetStream, Key-Value and Object Store errors under nats-py's ``nats.js.errors`` names.

``Error`` and ``APIError`` are ``natsrs.errors.JetStreamError`` and
``natsrs.errors.JetStreamAPIError`` (so every error here is a ``natsrs.errors.Error``);
the classes below keep nats-py's names, bases and messages. ``APIError.from_error``
raises the one of ``ServiceUnavailableError``, ``ServerError``, ``NotFoundError`` and
``BadRequestError`` that matches the response's ``code``.
"""

from __future__ import annotations

from typing import Any

from natsrs import errors as _errors
from natsrs.errors import JetStreamAPIError, JetStreamError, MsgAlreadyAckdError, NotJSMessageError

__all__ = [
    "APIError",
    "BadBucketError",
    "BadObjectMetaError",
    "BadRequestError",
    "BucketNotFoundError",
    "ConsumerInvalidResetError",
    "ConsumerSequenceMismatchError",
    "DigestMismatchError",
    "Error",
    "FetchTimeoutError",
    "InvalidBucketNameError",
    "InvalidKeyError",
    "InvalidObjectNameError",
    "KeyDeletedError",
    "KeyHistoryTooLargeError",
    "KeyNotFoundError",
    "KeyValueError",
    "KeyValueLimitMarkerTTLNotSupportedError",
    "KeyWrongLastSequenceError",
    "LinkIsABucketError",
    "MsgAlreadyAckdError",
    "NoKeysError",
    "NoStreamResponseError",
    "NotFoundError",
    "NotJSMessageError",
    "ObjectAlreadyExists",
    "ObjectDeletedError",
    "ObjectNotFoundError",
    "ServerError",
    "ServiceUnavailableError",
    "TooManyStalledMsgsError",
]

Error = JetStreamError
"""nats-py's ``nats.js.errors.Error``: the base of every JetStream error."""

APIError = JetStreamAPIError
"""nats-py's ``nats.js.errors.APIError``: an error answer of the JetStream API."""


class ServiceUnavailableError(APIError):
    """Code 503: JetStream is not enabled, not available, or nobody answered."""


class ServerError(APIError):
    """Code 500: the server failed the request."""


class NotFoundError(APIError):
    """Code 404: no such stream, consumer or message."""


class BadRequestError(APIError):
    """Code 400: the server refused the request as invalid."""


class ConsumerInvalidResetError(BadRequestError):
    """A consumer reset to a sequence its deliver policy forbids (err_code 10204)."""


class NoStreamResponseError(Error):
    """A JetStream publish reached no stream (the server answered 503)."""

    def __str__(self) -> str:
        return "nats: no response from stream"


class TooManyStalledMsgsError(Error):
    """Too many asynchronous publishes are waiting for their acknowledgement."""

    def __str__(self) -> str:
        return "nats: stalled with too many outstanding async published messages"


class FetchTimeoutError(_errors.TimeoutError):
    """A pull consumer's ``fetch`` got no message in time.

    As in nats-py it is a timeout error (``natsrs.errors.TimeoutError``, so also the
    builtin ``TimeoutError``), not a JetStream ``Error``.
    """

    def __str__(self) -> str:
        return "nats: fetch timeout"


class ConsumerSequenceMismatchError(Error):
    """A push consumer with idle heartbeats saw a gap in the consumer sequence."""

    def __init__(
        self,
        stream_resume_sequence: int | None = None,
        consumer_sequence: int | None = None,
        last_consumer_sequence: int | None = None,
    ) -> None:
        super().__init__()
        self.stream_resume_sequence = stream_resume_sequence
        self.consumer_sequence = consumer_sequence
        self.last_consumer_sequence = last_consumer_sequence

    def __str__(self) -> str:
        gap = (self.last_consumer_sequence or 0) - (self.consumer_sequence or 0)
        return (
            f"nats: sequence mismatch for consumer at sequence {self.consumer_sequence} "
            f"({gap} sequences behind), should restart consumer from stream sequence "
            f"{self.stream_resume_sequence}"
        )


# -- Key-Value -----------------------------------------------------------------------------


class BucketNotFoundError(NotFoundError):
    """The Key-Value or Object Store bucket does not exist."""


class BadBucketError(APIError):
    """The stream behind a bucket is not configured as one."""


class KeyValueError(APIError):
    """Base of the Key-Value store's errors."""


class KeyDeletedError(KeyValueError, NotFoundError):
    """The key's latest entry is a delete or purge marker; ``entry`` and ``op`` are it."""

    def __init__(self, entry: Any = None, op: Any = None) -> None:
        super().__init__()
        self.entry = entry
        self.op = op

    def __str__(self) -> str:
        return "nats: key was deleted"


class KeyNotFoundError(KeyValueError, NotFoundError):
    """The key has no entry (``message`` says more when set)."""

    def __init__(self, entry: Any = None, op: Any = None, message: str | None = None) -> None:
        super().__init__()
        self.entry = entry
        self.op = op
        self.message = message

    def __str__(self) -> str:
        if self.message:
            return f"nats: key not found: {self.message}"
        return "nats: key not found"


class KeyWrongLastSequenceError(KeyValueError, BadRequestError):
    """An update's expected last revision was not the key's."""

    def __init__(self, description: str | None = None) -> None:
        super().__init__(description=description)

    def __str__(self) -> str:
        return f"nats: {self.description}"


class NoKeysError(KeyValueError):
    """The bucket has no keys."""

    def __str__(self) -> str:
        return "nats: no keys found"


class KeyHistoryTooLargeError(KeyValueError):
    """A bucket's ``history`` is over 64."""

    def __str__(self) -> str:
        return "nats: history limited to a max of 64"


class InvalidKeyError(Error):
    """A key is empty or has characters a key may not have."""


class InvalidBucketNameError(Error):
    """A Key-Value or Object Store bucket name is invalid."""


class KeyValueLimitMarkerTTLNotSupportedError(Error):
    """``limit_marker_ttl`` was asked of a server older than 2.11."""

    def __str__(self) -> str:
        return "nats: limit marker TTLs not supported by server"


# -- Object Store --------------------------------------------------------------------------


class InvalidObjectNameError(Error):
    """An object name is empty or invalid."""


class BadObjectMetaError(Error):
    """An object's stored metadata cannot be read."""


class LinkIsABucketError(Error):
    """The object is a link to a whole bucket, not to an object."""


class DigestMismatchError(Error):
    """An object's content does not match its recorded digest."""


class ObjectNotFoundError(NotFoundError):
    """No such object."""


class ObjectDeletedError(NotFoundError):
    """The object was deleted."""


class ObjectAlreadyExists(Error):
    """An object of that name exists already."""
