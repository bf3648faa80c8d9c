"""Runs user callbacks for the extension, on the event loop that connected."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Generator
from contextvars import ContextVar
from typing import Any, Callable

logger = logging.getLogger("natsrs")

in_event_callback: ContextVar[bool] = ContextVar("natsrs_in_event_callback", default=False)
"""True in a connection-event callback (and the tasks it starts): ``close()`` called there
does not wait for the callback to have seen CLOSED, which would be waiting for itself."""


async def call(callback: Callable[..., Any], *args: Any) -> Any:
    """Call ``callback`` (a plain function or a coroutine function) and return its result."""
    result = callback(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def call_reporting(what: str, callback: Callable[..., Any], *args: Any) -> str | None:
    """Like :func:`call` for callbacks whose exceptions must not break anything.

    The exception is logged on the ``natsrs`` logger with its traceback, and described
    in the returned text (``None`` when the callback succeeded).
    """
    in_event_callback.set(True)
    try:
        await call(callback, *args)
    except Exception as exc:
        logger.exception("natsrs: the %s raised %s", what, type(exc).__name__)
        return f"the {what} raised {type(exc).__name__}: {exc}"
    return None


class Later:
    """``function(*args)``'s coroutine, made only when awaited.

    The engine's threads hand callbacks to the loop as one of these: if the loop closes
    before it runs them, no coroutine was ever made, so none is left never awaited.
    """

    __slots__ = ("_args", "_function")

    def __init__(self, function: Callable[..., Any], *args: Any) -> None:
        self._function = function
        self._args = args

    def __await__(self) -> Generator[Any, None, Any]:
        return self._function(*self._args).__await__()  # type: ignore[no-any-return]


def warn(message: str) -> None:
    logger.warning("natsrs: %s", message)
