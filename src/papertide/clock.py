"""The one place papertide reads the clock: naive UTC, as the store keeps it.

``frozen`` makes every ``utcnow()`` (and its exact and aware forms) of this process answer
one moment, so that tests (and anything else that must be reproducible) never depend on when
they run: a setup made at 23:59:59 UTC is not split across two days.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def utcnow() -> datetime:
    """Now in UTC, naive, to the second."""
    return exact_utcnow().replace(microsecond=0)


def exact_utcnow() -> datetime:
    """Now in UTC, naive, with its microseconds: orders writes made within one second."""
    return aware_utcnow().replace(tzinfo=None)


def aware_utcnow() -> datetime:
    """Now in UTC as an aware datetime (with microseconds), to compare with aware times."""
    return _source()


@contextmanager
def frozen(at: datetime) -> Iterator[datetime]:
    """Within the block, ``utcnow()`` answers ``at`` (naive UTC) in every thread, and so do
    ``exact_utcnow()`` and ``aware_utcnow()`` (the latter with tzinfo UTC)."""
    global _source
    previous, moment = _source, at.replace(tzinfo=UTC)
    _source = lambda: moment  # noqa: E731
    try:
        yield at
    finally:
        _source = previous
