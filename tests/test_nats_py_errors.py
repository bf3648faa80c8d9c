"""nats-py's error classes: names, inheritance, and the same tree as nats-py's.

Everything goes through ``import natsrs as nats`` against real ``nats-server``
processes from the fixtures, one per test on free ports. Every wait is bounded.
"""

from __future__ import annotations

import asyncio

import pytest

import natsrs as nats

pytestmark = pytest.mark.timeout(60)


# -- errors ----------------------------------------------------------------------------------


def test_errors_have_nats_py_names_and_inheritance() -> None:
    e = nats.errors
    assert issubclass(e.TimeoutError, asyncio.TimeoutError)
    assert issubclass(e.TimeoutError, TimeoutError)
    for cls in (e.FlushTimeoutError, e.DrainTimeoutError):
        assert issubclass(cls, e.TimeoutError)
    assert issubclass(e.UnexpectedEOF, e.StaleConnectionError)
    for name in (
        "NoServersError",
        "ConnectionClosedError",
        "BadSubjectError",
        "SlowConsumerError",
        "NoRespondersError",
        "MaxPayloadError",
        "FlushTimeoutError",
        "AuthorizationError",
        "BadSubscriptionError",
        "BadHeaderError",
        "BadTimeoutError",
        "ConnectionDrainingError",
        "ConnectionReconnectingError",
        "InvalidCallbackTypeError",
        "InvalidUserCredentialsError",
        "SecureConnRequiredError",
        "SecureConnWantedError",
        "SecureConnFailedError",
        "ServerNotInPoolError",
        "StaleConnectionError",
        "OutboundBufferLimitError",
        "JsonParseError",
        "ProtocolError",
    ):
        assert issubclass(getattr(e, name), e.Error), name
    from natsrs.aio import errors as aio_errors

    assert aio_errors.ErrTimeout is e.TimeoutError and aio_errors.NatsError is e.Error
    assert aio_errors.ErrNoServers is e.NoServersError


def test_errors_match_nats_py_where_it_is_installed() -> None:
    nats_py_errors = pytest.importorskip("nats.errors")
    theirs = {
        name: cls
        for name, cls in vars(nats_py_errors).items()
        if isinstance(cls, type) and issubclass(cls, Exception)
    }
    assert "MsgAlreadyAckdError" in theirs
    for name, cls in theirs.items():
        ours = getattr(nats.errors, name, None)
        assert ours is not None, f"natsrs.errors lacks {name}"
        for base_name, base in theirs.items():
            if issubclass(cls, base):
                assert issubclass(ours, getattr(nats.errors, base_name)), (name, base_name)
