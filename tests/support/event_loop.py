"""Where a call runs: on an event loop, or in a thread (for tests that keep blocking work,
such as a database read or write, off the loop every other connection waits on)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


def watching_where(call: Callable[..., Any]) -> tuple[Callable[..., Any], list[str]]:
    """``call`` wrapped to note, on each call, "event loop" or "thread"; and the notes."""
    where: list[str] = []

    def watched(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            where.append("event loop")
        except RuntimeError:
            where.append("thread")
        return call(*args, **kwargs)

    return watched, where
