"""Choosing what goes in a digest: pure functions over hits, preferences and the ledger.

A digest has up to three sections: the period's top trending papers, new papers matching
the subscriber's interests (hybrid search, categories, authors), and recommendations from
the papers they upvoted. Every paper carries its reasons. Papers already sent to the
subscriber, and papers mentioning an excluded keyword, never appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from papertide.mail.records import DigestItem, Preferences, Section
from papertide.models import Hit, Paper

# How many days of papers a digest looks at; the ledger drops what an overlap re-finds.
LOOKBACK_DAYS = {"daily": 2, "weekly": 8}


def current_period(prefs: Preferences, now: datetime) -> str:
    """The subscriber's period at ``now`` (naive UTC): 'd2026-11-22' or 'w2026-W47' (ISO)."""
    local = now.replace(tzinfo=UTC).astimezone(ZoneInfo(prefs.timezone))
    if prefs.frequency == "daily":
        return f"d{local.date().isoformat()}"
    year, week, _ = local.isocalendar()
    return f"w{year}-W{week:02d}"


def due_period(prefs: Preferences, now: datetime, *, weekly_day: int) -> str | None:
    """The period whose digest is due at ``now`` (naive UTC), or None if not yet.

    Daily: once the subscriber's local clock passed the send hour that day. Weekly: once it
    passed the send hour of the weekly day (0 = Monday) in that ISO week.
    """
    local = now.replace(tzinfo=UTC).astimezone(ZoneInfo(prefs.timezone))
    if local.hour < prefs.send_hour:
        return None
    if prefs.frequency == "weekly" and local.weekday() < weekly_day:
        return None
    return current_period(prefs, now)


def period_window(period: str) -> tuple[date, date]:
    """The days [start, end) whose papers a digest for ``period`` considers."""
    if period.startswith("d"):
        end = date.fromisoformat(period[1:]) + timedelta(days=1)
        return end - timedelta(days=LOOKBACK_DAYS["daily"] + 1), end
    year, week = period[1:].split("-W")
    end = date.fromisocalendar(int(year), int(week), 7) + timedelta(days=1)
    return end - timedelta(days=LOOKBACK_DAYS["weekly"] + 6), end


def period_label(period: str) -> str:
    """A human name for a period: '22 Nov 2026' or 'week 47, 2026'."""
    if period.startswith("d"):
        return date.fromisoformat(period[1:]).strftime("%-d %b %Y")
    year, week = period[1:].split("-W")
    return f"week {int(week)}, {year}"


def digest_subject(period: str, count: int) -> str:
    """The subject line of a digest."""
    kind = "Daily" if period.startswith("d") else "Weekly"
    papers = "nothing new" if count == 0 else f"{count} paper{'s' * (count != 1)}"
    return f"{kind} papertide digest, {period_label(period)}: {papers}"


def excluded(paper: Paper, keywords: Iterable[str]) -> bool:
    """Whether the paper's title or abstract mentions any excluded keyword (whole words)."""
    text = f"{paper.title}\n{paper.abstract}"
    return any(
        re.search(rf"(?<!\w){re.escape(word.strip())}(?!\w)", text, re.IGNORECASE)
        for word in keywords
        if word.strip()
    )


def _quotas(prefs: Preferences) -> dict[Section, int]:
    n = prefs.papers_per_mail
    trending = max(1, n // 3) if prefs.include_trending else 0
    rest = n - trending
    return {"trending": trending, "interests": (rest + 1) // 2, "recommended": rest // 2}


def compose_items(
    *,
    prefs: Preferences,
    trending: list[Hit],
    interests: list[Hit],
    recommended: list[Hit],
    already_sent: set[int],
) -> list[DigestItem]:
    """The digest's papers: each section up to its share, leftovers filled from the others.

    Order of precedence when a paper qualifies twice: interests, recommended, trending (the
    more personal reason wins). Hits must carry their Paper (with pk).
    """
    lists: dict[Section, list[Hit]] = {
        "interests": interests,
        "recommended": recommended,
        "trending": trending if prefs.include_trending else [],
    }
    usable: dict[Section, list[Hit]] = {key: [] for key in lists}
    taken: set[int] = set(already_sent)
    for key, hits in lists.items():
        for hit in hits:
            paper = hit.paper
            if paper is None or paper.pk is None or paper.pk in taken:
                continue
            if excluded(paper, prefs.exclude):
                continue
            taken.add(paper.pk)
            usable[key].append(hit)
    quotas = _quotas(prefs)
    chosen = {key: usable[key][: quotas[key]] for key in usable}
    room = prefs.papers_per_mail - sum(len(v) for v in chosen.values())
    for key in ("interests", "recommended", "trending"):
        extra = usable[key][len(chosen[key]) : len(chosen[key]) + max(room, 0)]
        chosen[key].extend(extra)
        room -= len(extra)
    order: tuple[Section, ...] = ("trending", "interests", "recommended")
    return [
        DigestItem(paper_pk=hit.paper.pk, section=key, why=list(hit.why), score=hit.score)
        for key in order
        for hit in chosen[key]
        if hit.paper is not None and hit.paper.pk is not None
    ]


@dataclass(slots=True)
class Candidates:
    """A period's new papers with lookups by public id, category and author name word."""

    papers: dict[int, Paper]
    by_id: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, list[int]] = field(default_factory=dict)
    by_name_word: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, papers: dict[int, Paper]) -> Candidates:
        """Index ``papers`` (by pk) once per period; every subscriber reuses it."""
        found = cls(papers)
        for pk, paper in papers.items():
            if paper.id:
                found.by_id[paper.id] = pk
            for cat in paper.categories:
                found.by_category.setdefault(cat.lower(), []).append(pk)
            for author in paper.authors:
                for word in set(_WORD.findall(author.lower())):
                    found.by_name_word.setdefault(word, []).append((pk, author))
        return found


_WORD = re.compile(r"\w+")
SEMANTIC_MIN = 0.5  # cosine above which a paper matches a query without sharing its words


def match_interests(
    *, prefs: Preferences, candidates: Candidates, searched: dict[str, list[Hit]]
) -> list[Hit]:
    """Candidate papers matching the subscriber's queries, categories or authors, best first.

    ``searched`` maps each query to its hybrid-search hits (any papers; only candidates
    count). Score: the hit's score relative to the query's best, plus 1 per matching
    category and 1.5 per matching author, so several reasons outrank one.
    """
    scores: dict[int, float] = {}
    reasons: dict[int, list[str]] = {}

    def add(pk: int, score: float, why: str) -> None:
        scores[pk] = scores.get(pk, 0.0) + score
        reasons.setdefault(pk, []).append(why)

    for query in prefs.queries:
        hits = [
            h for h in searched.get(query, []) if h.paper_id in candidates.by_id and relevant(h)
        ]
        top = max((h.score for h in hits), default=0.0) or 1.0
        for hit in hits:
            add(candidates.by_id[hit.paper_id], hit.score / top, f"matches: {query}")
    for cat in {c.strip().lower() for c in prefs.categories if c.strip()}:
        for pk in candidates.by_category.get(cat, []):
            add(pk, 1.0, f"in: {_original(candidates.papers[pk].categories, cat)}")
    for wanted in {a.strip().lower() for a in prefs.authors if a.strip()}:
        words = _WORD.findall(wanted)
        for pk, author in candidates.by_name_word.get(words[-1] if words else "", []):
            if _same_author(author.lower(), wanted):
                add(pk, 1.5, f"by: {author}")
    ranked = sorted(scores, key=lambda pk: (-scores[pk], pk))
    papers = candidates.papers
    return [Hit(papers[pk].id or str(pk), scores[pk], reasons[pk], papers[pk]) for pk in ranked]


def relevant(hit: Hit) -> bool:
    """Whether a search hit really matches: query words found in it (the search's
    "matched:"/"author:" reasons) or a cosine of at least SEMANTIC_MIN. Hybrid search ranks
    every paper; a digest only wants the ones that match."""
    for why in hit.why:
        if why.startswith(("matched:", "author:")):
            return True
        if why.startswith("semantic ") and float(why.split()[1]) >= SEMANTIC_MIN:
            return True
    return False


def _original(categories: list[str], lowered: str) -> str:
    return next((c for c in categories if c.lower() == lowered), lowered)


def _same_author(name: str, wanted: str) -> bool:
    # "hinton" matches "Geoffrey E. Hinton"; "g. hinton" needs both words in the name.
    return all(re.search(rf"(?<!\w){re.escape(part)}", name) for part in wanted.split())
