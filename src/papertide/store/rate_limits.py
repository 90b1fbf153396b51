"""Store methods for rate limits shared by every process: counted events per key and window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, text

from papertide.store.schema import (
    rate_events,
)
from papertide.store.writer import writing

# pg_advisory_xact_lock(space, hashtext(key)): the rate limit checks of one key take turns.
_RATE_LOCK_SPACE = 0x70740001


class RateLimitsMixin:
    """Rate limits and their events; mixed into Store, which provides ``engine``."""

    engine: Engine

    def allow(self, key: str, *, limit: int, window: timedelta, now: datetime) -> bool:
        """Sliding-window rate limit shared by every process: record a hit if under ``limit``."""
        since = now - window
        with writing(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                # READ COMMITTED lets two requests count the same rows and both insert (15 of
                # 24 simultaneous logins passed a limit of 7): one key's checks take turns.
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
                    {"space": _RATE_LOCK_SPACE, "key": key},
                )
            conn.execute(
                delete(rate_events).where(rate_events.c.key == key, rate_events.c.at < since)
            )
            count = conn.execute(
                select(func.count()).select_from(rate_events).where(rate_events.c.key == key)
            ).scalar_one()
            if count >= limit:
                return False
            conn.execute(insert(rate_events), {"key": key, "at": now})
            return True

    def count_events(self, *, low: str, high: str, since: datetime) -> tuple[int, datetime | None]:
        """Rate events whose key lies in [low, high) at or after ``since``: how many, and
        the oldest (a key range, so one index scan counts every key under a prefix)."""
        key: Any = rate_events.c.key
        if self.engine.dialect.name == "postgresql":
            key = key.collate("C")  # byte order, as on SQLite: the range is a prefix
        where = (key >= low, key < high, rate_events.c.at >= since)
        query = select(func.count(), func.min(rate_events.c.at)).where(*where)
        with self.engine.connect() as conn:
            count, oldest = conn.execute(query).one()
        return int(count), oldest

    def add_events(self, keys: list[str], *, now: datetime, forget_before: datetime) -> None:
        """Record one rate event per key (and forget those keys' events before
        ``forget_before``), in one transaction."""
        with writing(self.engine) as conn:
            for key in keys:
                conn.execute(
                    delete(rate_events).where(
                        rate_events.c.key == key, rate_events.c.at < forget_before
                    )
                )
                conn.execute(insert(rate_events), {"key": key, "at": now})

    def clear_events(self, keys: list[str]) -> None:
        """Forget every rate event of these keys (a success resets its failures)."""
        with writing(self.engine) as conn:
            conn.execute(delete(rate_events).where(rate_events.c.key.in_(keys)))
