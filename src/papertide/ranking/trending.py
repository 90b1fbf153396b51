"""Trending: how hot a paper is from its votes and age (pure).

The Hacker News formula, score = votes / (age_hours + 2) ** gravity, as described by
Salihefendic (2010, "How Hacker News ranking algorithm works", amix.dk) from the published
Arc source (news.arc): votes push a paper up, age pulls it down, and gravity sets how fast
(1.8 as on Hacker News). Votes are the source's upvotes for now; site votes join later.
"""

from __future__ import annotations

from datetime import datetime

from papertide.models import Paper


def trending_score(votes: int, age_hours: float, *, gravity: float = 1.8) -> float:
    """votes / (age_hours + 2) ** gravity; negative votes and ages count as zero."""
    return float(max(votes, 0) / (max(age_hours, 0.0) + 2.0) ** gravity)


def paper_trending(paper: Paper, now: datetime, *, gravity: float = 1.8) -> float:
    """A paper's trending score at ``now`` (naive UTC), from its upvotes and publication."""
    when = paper.published or paper.first_seen
    age = (now - when).total_seconds() / 3600 if when else 1e6
    return trending_score(paper.upvotes_external or 0, age, gravity=gravity)
