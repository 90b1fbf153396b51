"""The one place papertide reads the clock: naive UTC, as the store keeps it."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now in UTC, naive, to the second."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
