"""The daily, weekly and monthly feeds: a period's papers, most voted first, as a page
(``/``, ``/papers/date/2026-03-12``, ``/papers/week/2026-W11``, ``/papers/month/2026-03``),
as JSON (``/api/daily``, ``/api/week/..``, ``/api/month/..``) and the newest day as Atom
(``/feeds/daily.atom``), all from ``period_feed``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from papertide.clock import utcnow
from papertide.models import User
from papertide.store import Store
from papertide.web.api_route import api_router
from papertide.web.atom import FEED_SIZE, atom_response
from papertide.web.deps import StoreDep, TemplatesDep, UserDep
from papertide.web.display import PaperView, views
from papertide.web.feature import Feature, NavLink
from papertide.web.periods import Period, day_period, period_containing, period_or_404
from papertide.web.schemas import FeedOut, paper_out, period_out

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API
api = api_router()
Page = Annotated[int, Query(ge=1, le=1000, description="Page number, from 1.")]
ApiPage = Annotated[int, Query(ge=1, le=1000)]
On = Annotated[
    date | None, Query(description="The day the reader came from, kept by Day/Week/Month.")
]


@dataclass(slots=True)
class FeedPage:
    """One page of a period's feed."""

    period: Period
    papers: list[PaperView]
    total: int
    page: int
    per_page: int
    previous: Period | None  # the nearest earlier period with papers
    following: Period | None  # the nearest later period with papers
    anchor: date | None = None  # the day the reader came from (kept by Day/Week/Month)

    @property
    def day(self) -> date:
        """The day the Day / Week / Month links keep: the one the reader came from when it
        lies in this period, else the period's first day."""
        anchor = self.anchor
        if anchor is not None and self.period.start <= anchor < self.period.end:
            return anchor
        return self.period.start

    def kind_path(self, kind: str) -> str:
        """The day, week or month holding ``day``; a week or month remembers the day, so
        Week then Day comes back to it (not to the Monday), Month then Day too."""
        path = period_containing(kind, self.day).path
        return path if kind == "date" else f"{path}?on={self.day.isoformat()}"

    @property
    def pages(self) -> int:
        """How many pages the period has."""
        return max(1, -(-self.total // self.per_page))


def period_feed(
    store: Store,
    period: Period,
    *,
    user: User | None,
    page: int = 1,
    per_page: int = 30,
    anchor: date | None = None,
) -> FeedPage:
    """The papers of a period, most voted first, with the nearest periods that have papers."""
    found, total = store.papers_between(
        period.start, period.end, limit=per_page, offset=(page - 1) * per_page
    )
    before, after = store.neighbour_days(period.start, period.end)
    return FeedPage(
        period=period,
        papers=views(store, found, user, utcnow()),
        total=total,
        page=page,
        per_page=per_page,
        previous=period_containing(period.kind, before) if before else None,
        following=period_containing(period.kind, after) if after else None,
        anchor=anchor,
    )


def latest_period(store: Store) -> Period:
    """The newest day with papers (today when the store is empty)."""
    return day_period(store.latest_day() or utcnow().date())


def _page(
    request: Request,
    store: Store,
    templates: TemplatesDep,
    period: Period,
    page: int,
    on: date | None,
) -> Response:
    feed = period_feed(store, period, user=request.state.user, page=page, anchor=on)
    response: Response = templates.TemplateResponse(request, "feed.html", {"feed": feed})
    return response


@router.get("/", response_class=HTMLResponse)
def daily(
    request: Request, store: StoreDep, templates: TemplatesDep, user: UserDep, page: Page = 1
) -> Response:
    """The latest day with papers."""
    return _page(request, store, templates, latest_period(store), page, None)


@router.get("/papers/{kind:period}/{value}", response_class=HTMLResponse)
def period_page(
    request: Request,
    kind: str,
    value: str,
    store: StoreDep,
    templates: TemplatesDep,
    user: UserDep,
    page: Page = 1,
    on: On = None,
) -> Response:
    """A day (/papers/date/2026-03-12), ISO week (/papers/week/2026-W11) or month
    (/papers/month/2026-03)."""
    return _page(request, store, templates, period_or_404(kind, value), page, on)


def _feed_out(request: Request, feed: FeedPage, user: User | None) -> FeedOut:
    return FeedOut(
        period=period_out(feed.period),
        papers=[paper_out(request, v, user) for v in feed.papers],
        total=feed.total,
        page=feed.page,
        pages=feed.pages,
        previous=feed.previous.slug if feed.previous else None,
        next=feed.following.slug if feed.following else None,
    )


@api.get("/daily", response_model=FeedOut)
def api_daily(
    request: Request, store: StoreDep, user: UserDep, date: str | None = None, page: ApiPage = 1
) -> FeedOut:
    """Papers of a day (default: the latest day with papers), most voted first."""
    period = period_or_404("date", date) if date else latest_period(store)
    return _feed_out(request, period_feed(store, period, user=user, page=page), user)


@api.get("/week/{week}", response_model=FeedOut)
def api_week(
    request: Request, week: str, store: StoreDep, user: UserDep, page: ApiPage = 1
) -> FeedOut:
    """Papers of an ISO week (2026-W11), most voted first."""
    feed = period_feed(store, period_or_404("week", week), user=user, page=page)
    return _feed_out(request, feed, user)


@api.get("/month/{month}", response_model=FeedOut)
def api_month(
    request: Request, month: str, store: StoreDep, user: UserDep, page: ApiPage = 1
) -> FeedOut:
    """Papers of a month (2026-03), most voted first."""
    feed = period_feed(store, period_or_404("month", month), user=user, page=page)
    return _feed_out(request, feed, user)


@router.get("/feeds/daily.atom", response_class=Response, tags=["feeds"])
def daily_feed(request: Request, store: StoreDep) -> Response:
    """The newest day's papers, most voted first."""
    period = latest_period(store)
    page = period_feed(store, period, user=None, per_page=FEED_SIZE)
    return atom_response(
        request,
        title=f"papertide: papers of {period.label}",
        subtitle="The latest day's papers, most voted first.",
        alternate=period.path,
        papers=[view.paper for view in page.papers],
        empty_updated=period.start,
    )


feature = Feature(
    name="feeds",
    routers=(router, api),
    cached=(
        *("/", "/papers/{kind:period}/{value}"),
        *("/api/daily", "/api/week/{week}", "/api/month/{month}", "/feeds/daily.atom"),
    ),
    nav=(
        NavLink(
            "Daily",
            "/",
            order=10,
            current=("/", "/papers/date/*", "/papers/week/*", "/papers/month/*"),
        ),
    ),
)
