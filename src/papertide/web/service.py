"""What every page, API route and feed shows, computed once: HTML, JSON and Atom all call here.

Periods: a day (``2026-03-12``), an ISO week (``2026-W11``) or a month (``2026-03``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import User
from papertide.ranking.trending import keys_trending
from papertide.store import Store
from papertide.web.display import PaperView, views


def trending_until(store: Store, settings: Settings) -> date:
    """The last day of the trending window: today, or the newest day with papers when no
    paper arrived in the window's days before today."""
    today = utcnow().date()
    latest = store.latest_day()
    if latest is None or latest >= today - timedelta(days=settings.trending_window_days):
        return today
    return latest


def trending(
    store: Store,
    settings: Settings,
    *,
    user: User | None,
    limit: int = 30,
    offset: int = 0,
    until: date | None = None,
) -> list[PaperView]:
    """Papers of the trending window ranked by ``trending_score`` (formula in ranking/).

    Only papers with votes can score above zero, so only they are scored; papers without
    votes follow, newest first, from an indexed query (fast at any store size).

    The window ends today, or on the newest day with papers when that is older
    (``trending_until``, read here unless the caller has it): a store that stopped
    receiving papers (the demo's captures, a site whose sync is paused) shows the ranking as
    it stood then, said so on the page, rather than "nothing trending".
    """
    until = until or trending_until(store, settings)
    now = min(utcnow(), datetime(until.year, until.month, until.day) + timedelta(days=1))
    window_start = until - timedelta(days=settings.trending_window_days)
    params = settings.trending
    scored = [
        (keys_trending(k.site_votes, k.upvotes_external, k.day, now, params), k.pk)
        for k in store.voted_keys_since(window_start)
    ]
    scored.sort(key=lambda item: (-item[0], -item[1]))
    page = scored[offset : offset + limit]
    found = {p.pk: p for p in store.papers_by_pk([pk for _, pk in page])}
    chosen = [(score, found[pk]) for score, pk in page if pk in found]
    if len(chosen) < limit:
        skip = max(0, offset - len(scored))
        rest = store.unvoted_since(window_start, limit=limit - len(chosen), offset=skip)
        chosen += [(0.0, p) for p in rest]
    shown = views(store, [p for _, p in chosen], user, now)
    for view, (score, _) in zip(shown, chosen, strict=True):
        view.why = [f"trending score {score:.3f}"]
    return shown
