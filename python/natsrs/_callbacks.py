"""Runs user callbacks for the extension, on the event loop that connected."""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable

logger = logging.getLogger("natsrs")


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
    try:
        await call(callback, *args)
    except Exception as exc:
        logger.exception("natsrs: the %s raised %s", what, type(exc).__name__)
        return f"the {what} raised {type(exc).__name__}: {exc}"
    return None


def warn(message: str) -> None:
    logger.warning("natsrs: %s", message)
