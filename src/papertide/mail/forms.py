"""Reading the preferences form into Preferences (pure; the web route stays thin)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from papertide.mail.records import Preferences, limits_problem

_CATEGORY = re.compile(r"^[a-z-]+(\.[A-Za-z-]+)?$")


@dataclass(slots=True)
class PrefsForm:
    """The preferences form's fields, as submitted (strings)."""

    frequency: str = "daily"
    send_hour: str = "7"
    timezone: str = "UTC"
    queries: str = ""
    categories: str = ""
    authors: str = ""
    exclude: str = ""
    papers_per_mail: str = "10"
    include_trending: str = ""
    send_empty: str = ""

    @classmethod
    def of(cls, data: dict[str, str]) -> PrefsForm:
        """The form from submitted fields (unknown ones, like csrf_token, are ignored)."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _words(text: str) -> list[str]:
    return [w.strip() for w in re.split(r"[,\n]", text) if w.strip()]


def _int(text: str, name: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise ValueError(f"{name} must be a whole number") from exc
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}")
    return value


def prefs_from_form(form: PrefsForm) -> Preferences:
    """Validated preferences, or ValueError saying which field is wrong."""
    if form.frequency not in ("daily", "weekly"):
        raise ValueError("frequency must be daily or weekly")
    try:
        ZoneInfo(form.timezone.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {form.timezone!r} (e.g. Europe/Paris)") from exc
    categories = _words(form.categories.replace(" ", ","))
    wrong = [c for c in categories if not _CATEGORY.match(c)]
    if wrong:
        raise ValueError(f"not arXiv categories: {', '.join(wrong)} (e.g. cs.CL)")
    prefs = Preferences(
        frequency="weekly" if form.frequency == "weekly" else "daily",
        send_hour=_int(form.send_hour, "send hour", 0, 23),
        timezone=form.timezone.strip(),
        queries=_lines(form.queries),
        categories=categories,
        authors=_lines(form.authors),
        exclude=_words(form.exclude),
        papers_per_mail=_int(form.papers_per_mail, "papers per mail", 1, 50),
        include_trending=bool(form.include_trending),
        send_empty=bool(form.send_empty),
    )
    if problem := limits_problem(prefs):
        raise ValueError(problem)
    return prefs
