"""Trending: the papers of the last days ranked by votes decayed by age (ranking/trending.py),
as a page that shows its formula (``/trending``), as JSON (``/api/trending``) and as Atom
(``/feeds/trending.atom``), all from ``trending``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import User
from papertide.ranking.trending import keys_trending
from papertide.store import Store
from papertide.web.api_route import api_router
from papertide.web.atom import FEED_SIZE, atom_response
from papertide.web.deps import SettingsDep, StoreDep, TemplatesDep, UserDep
from papertide.web.display import PaperView, views
from papertide.web.feature import Feature, NavLink
from papertide.web.periods import day_period
from papertide.web.schemas import FeedOut, paper_out

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API
api = api_router()
PER_PAGE = 30
Page = Annotated[int, Query(ge=1, le=1000, description="Page number, from 1.")]
ApiPage = Annotated[int, Query(ge=1, le=1000)]


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
    limit: int = PER_PAGE,
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


@router.get("/trending", response_class=HTMLResponse)
def trending_page(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    user: UserDep,
    page: Page = 1,
) -> Response:
    """Papers ranked by votes decayed by age; the formula is shown on the page."""
    until = trending_until(store, settings)
    papers = trending(
        store, settings, user=user, limit=PER_PAGE, offset=(page - 1) * PER_PAGE, until=until
    )
    context = {
        "papers": papers,
        "page": page,
        "settings": settings,
        "per_page": PER_PAGE,
        "until": None if until == utcnow().date() else day_period(until),
    }
    return templates.TemplateResponse(request, "trending.html", context)


@api.get("/trending", response_model=FeedOut)
def api_trending(
    request: Request, store: StoreDep, settings: SettingsDep, user: UserDep, page: ApiPage = 1
) -> FeedOut:
    """Papers ranked by votes / (age_hours + 2) ** gravity (see the trending page)."""
    found = trending(store, settings, user=user, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
    return FeedOut(papers=[paper_out(request, v, user) for v in found], page=page)


@router.get("/feeds/trending.atom", response_class=Response, tags=["feeds"])
def trending_feed(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """The trending papers, highest trending score first."""
    shown = trending(store, settings, user=None, limit=FEED_SIZE)
    return atom_response(
        request,
        title="papertide: trending papers",
        subtitle=f"Papers of the last {settings.trending_window_days} days, ranked by votes "
        "and age.",
        alternate="/trending",
        papers=[view.paper for view in shown],
        empty_updated=None,
    )


feature = Feature(
    name="trending",
    routers=(router, api),
    cached=("/trending", "/api/trending", "/feeds/trending.atom"),
    nav=(NavLink("Trending", "/trending", order=20, current=("/trending*",)),),
)
