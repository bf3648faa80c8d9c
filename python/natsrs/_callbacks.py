"""Runs user callbacks for the extension, on the event loop that connected."""

from __future__ import annotations

import inspect
from typing import Any, Callable


async def call(callback: Callable[..., Any], *args: Any) -> Any:
    """Call ``callback`` (a plain function or a coroutine function) and return its result."""
    result = callback(*args)
    if inspect.isawaitable(result):
        result = await result
    return result
