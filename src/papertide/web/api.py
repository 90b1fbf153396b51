"""The JSON API under /api/: every page's data, from the same service calls as the pages.

Errors are JSON ``{"error": message, "status": code}``. Writes (vote, submit, comments, lists,
not interested) need a session cookie and the CSRF token in an ``X-CSRF-Token`` header (the
``pt_csrf`` cookie's value). Comments, lists and For you are in web/social_api.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from papertide.clock import utcnow
from papertide.models import User
from papertide.normalize import web_url
from papertide.web import community, service
from papertide.web.deps import CsrfDep, RequiredUserDep, SettingsDep, StoreDep, UserDep
from papertide.web.service import FeedPage, PaperView, Period

router = APIRouter(prefix="/api", tags=["api"])
Page = Annotated[int, Query(ge=1, le=1000)]


class Links(BaseModel):
    """Where the paper lives elsewhere."""

    abstract: str | None = None
    pdf: str | None = None
    code: str | None = None
    project: str | None = None


class PaperOut(BaseModel):
    """A paper as the API shows it."""

    id: str
    url: str = Field(description="This paper's page on the site.")
    arxiv_id: str | None
    arxiv_version: int | None
    doi: str | None
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published: datetime | None
    updated: datetime | None
    day: date | None = Field(
        description="The paper's date, as its card shows it and as feeds, date sorts and "
        "after:/before: use it: the day it was listed, else published, else first seen."
    )
    day_kind: str = Field(description='Which date `day` is: "listed", "published" or "added".')
    links: Links
    votes: int = Field(description="Votes here plus upvotes seen on the source site.")
    site_votes: int
    upvotes_external: int | None
    github_stars: int | None
    comments_count: int | None = Field(description="Comments on the source site (Hugging Face).")
    site_comments: int = Field(default=0, description="Live comments on this site.")
    ai_summary: str | None = Field(
        default=None, description="The source's machine-written summary, when it gave one."
    )
    ai_keywords: list[str] = Field(
        default_factory=list, description="The source's machine-picked keywords, if any."
    )
    submitted_by: str | None
    submitter_url: str | None = Field(
        default=None, description="The submitter's profile (here, or on the source site)."
    )
    sources: list[str]
    is_new: bool
    voted: bool | None = Field(description="Whether you upvoted it (null when not logged in).")
    why: list[str] = Field(default_factory=list, description="Why it is in this list.")


class PeriodOut(BaseModel):
    """A feed's period."""

    kind: str
    slug: str
    label: str
    start: date
    end: date = Field(description="First day after the period.")


class FeedOut(BaseModel):
    """One page of papers of a period, or of trending, or of a search."""

    period: PeriodOut | None = None
    papers: list[PaperOut]
    total: int | None = None
    page: int
    pages: int | None = None
    previous: str | None = Field(
        default=None, description="The nearest earlier period with papers."
    )
    next: str | None = Field(default=None, description="The nearest later period with papers.")
    notice: str | None = None
    warming: bool = Field(
        default=False,
        description="Search only: this server's index is still being built, so the result "
        "is not the answer yet (see notice); try again shortly.",
    )


class VoteOut(BaseModel):
    """A paper's votes after a vote."""

    votes: int
    voted: bool


class SubmitIn(BaseModel):
    """A submission."""

    ref: str = Field(max_length=300, description="arXiv id or URL, e.g. 2407.02490.")


class SubmitOut(BaseModel):
    """The submitted paper."""

    paper: PaperOut
    new: bool = Field(description="False when someone had submitted it before.")


def paper_out(request: Request, view: PaperView, user: User | None) -> PaperOut:
    """The API form of a displayed paper."""
    p = view.paper
    return PaperOut(
        id=p.id or "",
        # The paper page's address, written out: url_for searched the routes for each paper,
        # a tenth of an /api/search request's time.
        url=_absolute(request, f"/papers/{quote(p.id or '', safe='/')}") or "",
        arxiv_id=p.arxiv_id,
        arxiv_version=p.arxiv_version,
        doi=p.doi,
        title=p.title,
        abstract=p.abstract,
        authors=p.authors,
        categories=p.categories,
        published=p.published,
        updated=p.updated,
        day=p.day,
        day_kind=p.day_kind,
        links=Links(
            abstract=view.abs_url,
            pdf=view.pdf_url,
            code=web_url(p.url_code),
            project=web_url(p.url_project),
        ),
        votes=view.votes,
        site_votes=p.site_votes,
        upvotes_external=p.upvotes_external,
        github_stars=p.github_stars,
        comments_count=p.comments_count,
        site_comments=view.site_comments,
        ai_summary=view.ai_summary,
        ai_keywords=view.ai_keywords,
        submitted_by=p.submitted_by,
        submitter_url=_absolute(request, view.submitter_url),
        sources=p.sources,
        is_new=view.is_new,
        voted=view.voted if user else None,
        why=view.why,
    )


def _absolute(request: Request, url: str | None) -> str | None:
    """A site path as an absolute URL (other URLs as they are)."""
    if url and url.startswith("/"):
        return str(request.base_url).rstrip("/") + url
    return url


def _period_out(period: Period) -> PeriodOut:
    return PeriodOut(
        kind=period.kind, slug=period.slug, label=period.label, start=period.start, end=period.end
    )


def _feed_out(request: Request, feed: FeedPage, user: User | None) -> FeedOut:
    return FeedOut(
        period=_period_out(feed.period),
        papers=[paper_out(request, v, user) for v in feed.papers],
        total=feed.total,
        page=feed.page,
        pages=feed.pages,
        previous=feed.previous.slug if feed.previous else None,
        next=feed.following.slug if feed.following else None,
    )


def _period(kind: str, value: str) -> Period:
    try:
        return service.parse_period(kind, value)
    except ValueError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc


@router.get("/daily", response_model=FeedOut)
def api_daily(
    request: Request, store: StoreDep, user: UserDep, date: str | None = None, page: Page = 1
) -> FeedOut:
    """Papers of a day (default: the latest day with papers), most voted first."""
    period = _period("date", date) if date else service.latest_period(store)
    return _feed_out(request, service.period_feed(store, period, user=user, page=page), user)


@router.get("/week/{week}", response_model=FeedOut)
def api_week(
    request: Request, week: str, store: StoreDep, user: UserDep, page: Page = 1
) -> FeedOut:
    """Papers of an ISO week (2026-W11), most voted first."""
    feed = service.period_feed(store, _period("week", week), user=user, page=page)
    return _feed_out(request, feed, user)


@router.get("/month/{month}", response_model=FeedOut)
def api_month(
    request: Request, month: str, store: StoreDep, user: UserDep, page: Page = 1
) -> FeedOut:
    """Papers of a month (2026-03), most voted first."""
    feed = service.period_feed(store, _period("month", month), user=user, page=page)
    return _feed_out(request, feed, user)


@router.get("/trending", response_model=FeedOut)
def api_trending(
    request: Request, store: StoreDep, settings: SettingsDep, user: UserDep, page: Page = 1
) -> FeedOut:
    """Papers ranked by votes / (age_hours + 2) ** gravity (see the trending page)."""
    found = service.trending(store, settings, user=user, limit=30, offset=(page - 1) * 30)
    return FeedOut(papers=[paper_out(request, v, user) for v in found], page=page)


@router.get("/search", response_model=FeedOut)
def api_search(
    request: Request,
    store: StoreDep,
    user: UserDep,
    form: Annotated[community.SearchForm, Query()],
) -> FeedOut:
    """Search with the site's query language; each paper says why it matched."""
    result = community.run_search(request, store, form, user=user)
    papers = [paper_out(request, v, user) for v in result.papers]
    pages = max(1, -(-result.total // result.per_page))
    return FeedOut(
        papers=papers,
        total=result.total,
        page=form.page,
        pages=pages,
        notice=result.notice,
        warming=result.warming,
    )


@router.get("/papers/{ref:path}/similar", response_model=list[PaperOut])
def api_similar(request: Request, ref: str, store: StoreDep, user: UserDep) -> list[PaperOut]:
    """The papers most similar to this one."""
    detail = community.paper_detail(request, store, ref, user=user)
    return [paper_out(request, v, user) for v in detail.similar]


@router.get("/papers/{ref:path}", response_model=PaperOut)
def api_paper(request: Request, ref: str, store: StoreDep, user: UserDep) -> PaperOut:
    """One paper by id, arXiv id or URL, or DOI."""
    (view,) = service.views(store, [community.find_paper(store, ref)], user, utcnow())
    return paper_out(request, view, user)


@router.post("/papers/{ref:path}/vote", response_model=VoteOut)
def api_vote(ref: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> VoteOut:
    """Upvote a paper (once per user)."""
    votes, voted = community.cast_vote(store, ref, user=user, up=True)
    return VoteOut(votes=votes, voted=voted)


@router.delete("/papers/{ref:path}/vote", response_model=VoteOut)
def api_unvote(ref: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> VoteOut:
    """Withdraw your upvote."""
    votes, voted = community.cast_vote(store, ref, user=user, up=False)
    return VoteOut(votes=votes, voted=voted)


@router.post("/submit", response_model=SubmitOut)
def api_submit(
    request: Request,
    body: SubmitIn,
    store: StoreDep,
    settings: SettingsDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
) -> SubmitOut:
    """Submit a paper by arXiv id or URL (deduplicated; fetched from arXiv when new)."""
    outcome = community.submit_paper(request, store, settings, body.ref, user=user)
    if outcome.paper is None:
        raise HTTPException(status_code=400, detail=outcome.message)
    (view,) = service.views(store, [outcome.paper], user, utcnow())
    return SubmitOut(paper=paper_out(request, view, user), new=outcome.new)
