"""The records of the mail stage: subscribers, their preferences, digests. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

Frequency = Literal["daily", "weekly"]
Section = Literal["trending", "interests", "recommended"]


@dataclass(slots=True)
class Preferences:
    """What a subscriber wants in a digest and when (stored as JSON beside the subscriber).

    Each list has a count and a length limit (``LIST_LIMITS``): every topic is a search on
    every digest, so twenty 45 KB topics made one preview take 12.8 s: the limits keep one
    subscriber from slowing every digest run.
    Input over them is refused (``limits_problem``); stored preferences are cut to them.
    """

    frequency: Frequency = "daily"
    send_hour: int = 7
    timezone: str = "UTC"
    queries: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    papers_per_mail: int = 10
    include_trending: bool = True
    send_empty: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Preferences:
        """Preferences from stored JSON; unknown keys (from newer versions) are ignored."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        for name, (count, chars) in LIST_LIMITS.items():
            if isinstance(known.get(name), list):
                known[name] = [str(v)[:chars] for v in known[name][:count]]
        return cls(**known)


# Per list: at most this many entries, each of at most this many characters.
LIST_LIMITS: dict[str, tuple[int, int]] = {
    "queries": (20, 200),
    "categories": (50, 40),
    "authors": (50, 100),
    "exclude": (50, 100),
}
_LABELS = {
    "queries": "topics",
    "categories": "categories",
    "authors": "authors",
    "exclude": "excluded words",
}


def limits_problem(prefs: Preferences) -> str | None:
    """What in ``prefs`` is over the list limits, in words, or None."""
    for name, (count, chars) in LIST_LIMITS.items():
        values: list[str] = getattr(prefs, name)
        label = _LABELS[name]
        if len(values) > count:
            return f"at most {count} {label} ({len(values)} given)"
        longest = max(values, key=len, default="")
        if len(longest) > chars:
            start = longest[:30]
            return (
                f"{label} have at most {chars} characters each ({start!r}... has {len(longest):,})"
            )
    return None


@dataclass(slots=True)
class Subscriber:
    """An address that asked for digests; ``status``: pending, active, unsubscribed, bouncing."""

    pk: int
    email: str
    status: str
    prefs: Preferences
    user_pk: int | None = None
    bounces: int = 0
    created: datetime | None = None
    confirmed: datetime | None = None


@dataclass(slots=True)
class DigestItem:
    """One paper in a digest, the section it sits in, and why it was chosen."""

    paper_pk: int
    section: Section
    why: list[str]
    score: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DigestItem:
        """An item from stored JSON."""
        return cls(data["paper_pk"], data["section"], list(data["why"]), data.get("score", 0.0))


@dataclass(slots=True)
class NewDigest:
    """A composed digest, before it enters the outbox."""

    subscriber_pk: int
    period: str
    message_id: str
    subject: str
    items: list[DigestItem]
    created: datetime


@dataclass(slots=True)
class OutboxDigest:
    """A digest as the outbox holds it (with its subscriber's address)."""

    pk: int
    subscriber_pk: int
    email: str
    period: str
    status: str
    message_id: str
    subject: str
    items: list[DigestItem]
    created: datetime
    attempts: int
    claim: str | None = None
