"""The spans of days a feed shows: a day (``2026-03-12``), an ISO week (``2026-W11``) or a
month (``2026-03``), as written in URLs and for people."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from fastapi import HTTPException
from starlette.convertors import Convertor, register_url_convertor

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Period:
    """A span of days a feed shows: [start, end)."""

    kind: str  # "date" | "week" | "month"
    start: date
    end: date

    @property
    def slug(self) -> str:
        """How the period is written in URLs."""
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        return self.start.isoformat()

    @property
    def label(self) -> str:
        """How the period is written for people."""
        if self.kind == "week":
            return f"Week {self.slug[-2:]} of {self.start.isocalendar()[0]}"
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        return f"{self.start:%A, %B} {self.start.day}, {self.start.year}"

    @property
    def path(self) -> str:
        """The page of this period."""
        return f"/papers/{self.kind}/{self.slug}"

    def as_kind(self, kind: str) -> Period:
        """The day, week or month that holds this period's first day."""
        return period_containing(kind, self.start)

    def shifted(self, steps: int) -> Period:
        """The period ``steps`` before (negative) or after this one."""
        if self.kind == "date":
            return day_period(self.start + timedelta(days=steps))
        if self.kind == "week":
            return period_containing("week", self.start + timedelta(weeks=steps))
        month = self.start.month - 1 + steps
        return period_containing("month", date(self.start.year + month // 12, month % 12 + 1, 1))


def day_period(day: date) -> Period:
    """The period of one day."""
    return Period("date", day, day + timedelta(days=1))


def period_containing(kind: str, day: date) -> Period:
    """The day, ISO week or month that holds ``day``."""
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period("week", start, start + timedelta(days=7))
    if kind == "month":
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return Period("month", start, following)
    return day_period(day)


def parse_period(kind: str, value: str) -> Period:
    """Read a period from its URL form, or raise ValueError saying what was expected.

    The year 9999 is refused: its last day, week or month ends past ``date.max``, which
    would be an OverflowError (a 500) instead of a clear 404.
    """
    if value[:4].isdigit() and int(value[:4]) >= date.max.year:
        raise ValueError(f"{value!r} is past the last year this site shows ({date.max.year - 1})")
    if kind == "date":
        try:
            return day_period(date.fromisoformat(value))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a date like 2026-03-12") from exc
    if kind == "week" and (m := _WEEK_RE.match(value)):
        try:
            return period_containing("week", date.fromisocalendar(int(m[1]), int(m[2]), 1))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an ISO week") from exc
    if kind == "month" and (m := _MONTH_RE.match(value)) and 1 <= int(m[2]) <= 12:
        return period_containing("month", date(int(m[1]), int(m[2]), 1))
    examples = {"week": "2026-W11", "month": "2026-03"}
    raise ValueError(f"{value!r} is not a {kind} like {examples.get(kind, '2026-03-12')}")


def period_or_404(kind: str, value: str) -> Period:
    """The period a URL names, or a 404 that says what was expected."""
    try:
        return parse_period(kind, value)
    except ValueError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


class _PeriodKind(Convertor[str]):
    """A path segment that names a kind of period: ``/papers/{kind:period}/...`` takes
    ``date``, ``week`` and ``month`` and leaves every other segment (an old-style arXiv id's
    archive, ``cs/0101001``) to the routes after it."""

    regex = "date|week|month"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("period", _PeriodKind())
