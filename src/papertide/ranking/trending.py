"""Trending: how hot a paper is from its votes and age (pure). The one formula the site, the
API, the Atom feed, search's sort=trending and the mail digests all use.

The Hacker News formula, score = votes / (age_hours + 2) ** gravity, as described by
Salihefendic (2010, "How Hacker News ranking algorithm works", amix.dk) from the published
Arc source (news.arc): votes push a paper up, age pulls it down, and gravity sets how fast
(1.8 as on Hacker News). Here votes = votes cast on this site + external_weight x upvotes
seen on the source (e.g. Hugging Face), and age counts from the day the paper reached the
feeds (``Paper.day``: listed, else published, else first seen).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from papertide.models import Paper


@dataclass(frozen=True, slots=True)
class TrendingParams:
    """The formula's knobs (Settings.trending_gravity, trending_external_weight)."""

    gravity: float = 1.8
    external_weight: float = 1.0


DEFAULT = TrendingParams()


def trending_score(votes: float, age_hours: float, *, gravity: float = 1.8) -> float:
    """votes / (age_hours + 2) ** gravity; negative votes and ages count as zero."""
    return float(max(votes, 0.0) / (max(age_hours, 0.0) + 2.0) ** gravity)


def age_hours(day: date | None, now: datetime) -> float:
    """Hours since a paper filed under ``day`` reached the feeds: midnight UTC of that day."""
    if day is None:
        return 1e6
    return max(0.0, (now - datetime(day.year, day.month, day.day)).total_seconds() / 3600)


def keys_trending(
    site_votes: int,
    upvotes_external: int | None,
    day: date | None,
    now: datetime,
    params: TrendingParams = DEFAULT,
) -> float:
    """The score from the three columns it reads, for ranking without loading whole papers:
    votes = site votes + external_weight x upvotes seen on the source site."""
    votes = site_votes + params.external_weight * (upvotes_external or 0)
    return trending_score(votes, age_hours(day, now), gravity=params.gravity)


def paper_trending(paper: Paper, now: datetime, params: TrendingParams = DEFAULT) -> float:
    """A paper's trending score at ``now`` (naive UTC)."""
    return keys_trending(paper.site_votes, paper.upvotes_external, paper.day, now, params)
