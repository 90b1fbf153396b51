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

import numpy as np
from numpy.typing import NDArray

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
            if len(usable[key]) >= prefs.papers_per_mail:  # enough to fill the mail alone
                break
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
    """A period's new papers, indexed once so that each subscriber costs a few array ops:
    positions by pk and public id, positions by category, (position, name) by name word."""

    papers: list[Paper]
    position: dict[int, int] = field(default_factory=dict)
    by_id: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, NDArray[np.int64]] = field(default_factory=dict)
    by_name_word: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, papers: list[Paper]) -> Candidates:
        """Index ``papers`` (each with a pk)."""
        found = cls(papers)
        categories: dict[str, list[int]] = {}
        for i, paper in enumerate(papers):
            assert paper.pk is not None
            found.position[paper.pk] = i
            if paper.id:
                found.by_id[paper.id] = i
            for cat in paper.categories:
                categories.setdefault(cat.lower(), []).append(i)
            for author in paper.authors:
                for word in set(_WORD.findall(author.lower())):
                    found.by_name_word.setdefault(word, []).append((i, author))
        found.by_category = {c: np.asarray(v, dtype=np.int64) for c, v in categories.items()}
        return found


_WORD = re.compile(r"\w+")


def match_interests(
    *,
    prefs: Preferences,
    candidates: Candidates,
    searched: dict[str, list[Hit]],
    skip: set[int] | None = None,
    limit: int = 50,
) -> list[Hit]:
    """The ``limit`` candidates best matching the subscriber's queries, categories or
    authors (papers in ``skip`` left out), each with its reasons.

    ``searched`` maps each query to its hybrid-search hits (papers that match it, as the
    search page lists them; only candidates count). Score: the hit's score relative to the
    query's best, plus 1 per matching category and 1.5 per matching author, so several
    reasons outrank one.
    """
    scores = np.zeros(len(candidates.papers))
    per_query: list[tuple[str, set[int]]] = []
    for query in prefs.queries:
        # Search hits are matches already (search/query.py MatchRule and the cosine floor):
        # a digest mails what the search page lists for the same query.
        hits = [h for h in searched.get(query, []) if h.paper_id in candidates.by_id]
        top = max((h.score for h in hits), default=0.0) or 1.0
        for hit in hits:
            scores[candidates.by_id[hit.paper_id]] += hit.score / top
        per_query.append((query, {candidates.by_id[h.paper_id] for h in hits}))
    wanted_cats = {c.strip().lower() for c in prefs.categories if c.strip()}
    for cat in wanted_cats:
        if cat in candidates.by_category:
            scores[candidates.by_category[cat]] += 1.0
    by_author: dict[int, list[str]] = {}
    for wanted in {a.strip().lower() for a in prefs.authors if a.strip()}:
        words = _WORD.findall(wanted)
        for i, author in candidates.by_name_word.get(words[-1] if words else "", []):
            if _same_author(author.lower(), wanted):
                scores[i] += 1.5
                by_author.setdefault(i, []).append(f"by: {author}")
    for pk in skip or ():
        if pk in candidates.position:
            scores[candidates.position[pk]] = 0.0
    ranked = [int(i) for i in np.argsort(-scores, kind="stable")[:limit] if scores[i] > 0]
    hits = []
    for i in ranked:
        paper = candidates.papers[i]
        why = [f"matches: {q}" for q, found in per_query if i in found]
        why += [f"in: {c}" for c in paper.categories if c.lower() in wanted_cats]
        why += by_author.get(i, [])
        hits.append(Hit(paper.id or str(paper.pk), float(scores[i]), why, paper))
    return hits


def _same_author(name: str, wanted: str) -> bool:
    # "hinton" matches "Geoffrey E. Hinton"; "g. hinton" needs both words in the name.
    return all(re.search(rf"(?<!\w){re.escape(part)}", name) for part in wanted.split())
