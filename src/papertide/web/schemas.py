"""The JSON API's shared shapes: a paper, a feed page, a period; and how a displayed paper
becomes its API form. Errors are JSON ``{"error": message, "status": code}``; writes need a
session cookie and the CSRF token in an ``X-CSRF-Token`` header (the ``pt_csrf`` cookie's
value)."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote

from fastapi import Request
from pydantic import BaseModel, Field

from papertide.models import HubLinks, User
from papertide.normalize import web_url
from papertide.web.display import PaperView
from papertide.web.periods import Period


class Links(BaseModel):
    """Where the paper lives elsewhere."""

    abstract: str | None = None
    pdf: str | None = None
    code: str | None = None
    project: str | None = None


class HubCountsOut(BaseModel):
    """How many repositories on the Hugging Face Hub cite the paper."""

    models: int = 0
    datasets: int = 0
    spaces: int = 0
    more: list[str] = Field(
        default_factory=list,
        description="Kinds (model, dataset, space) the Hub listed more of than are kept: "
        "the count is then a lower bound.",
    )


class HubRepoOut(BaseModel):
    """A model, dataset or Space on the Hugging Face Hub that cites the paper."""

    id: str = Field(description='The repository, "owner/name".')
    url: str
    likes: int
    downloads: int | None = Field(description="Models and datasets: recent downloads.")
    updated: datetime | None


class SnippetOut(BaseModel):
    """The passage of the abstract that shows why a paper matched a search."""

    text: str = Field(description="Plain text (not HTML): up to about 300 characters.")
    marks: list[tuple[int, int]] = Field(
        default_factory=list,
        description="The query's words in ``text``: [start, end) offsets in characters "
        "(Unicode code points), in order; never inside $...$ math.",
    )


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
    picture_url: str = Field(
        description="The paper's picture on this site: its stored picture (WebP, cached for "
        "a year; a new picture gets a new address), else its drawn cover (SVG)."
    )
    submitted_by: str | None
    submitter_url: str | None = Field(
        default=None, description="The submitter's profile (here, or on the source site)."
    )
    sources: list[str]
    is_new: bool
    voted: bool | None = Field(description="Whether you upvoted it (null when not logged in).")
    why: list[str] = Field(default_factory=list, description="Why it is in this list.")
    hub: HubCountsOut = Field(
        default_factory=HubCountsOut,
        description="Models, datasets and Spaces citing it on Hugging Face (as last synced).",
    )

    snippet: SnippetOut | None = Field(
        default=None, description="Search only: the passage of the abstract that matched."
    )


class PaperDetailOut(PaperOut):
    """One paper with the repositories citing it on the Hugging Face Hub, most liked first."""

    models: list[HubRepoOut] = Field(default_factory=list)
    datasets: list[HubRepoOut] = Field(default_factory=list)
    spaces: list[HubRepoOut] = Field(default_factory=list)


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
    suggestion: str | None = Field(
        default=None,
        description="Search only: the query spelt as the collection spells its words (did "
        "you mean), given when the query finds little and the suggestion finds more.",
    )


def paper_out(request: Request, view: PaperView, user: User | None) -> PaperOut:
    """The API form of a displayed paper."""
    p = view.paper
    return PaperOut(
        id=p.id or "",
        # The paper page's address, written out: url_for searched the routes for each paper,
        # a tenth of an /api/search request's time.
        url=absolute(request, f"/papers/{quote(p.id or '', safe='/')}") or "",
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
        picture_url=absolute(request, view.picture_url) or "",
        submitted_by=p.submitted_by,
        submitter_url=absolute(request, view.submitter_url),
        sources=p.sources,
        is_new=view.is_new,
        voted=view.voted if user else None,
        why=view.why,
        hub=HubCountsOut(
            models=view.hub.models,
            datasets=view.hub.datasets,
            spaces=view.hub.spaces,
            more=sorted(view.hub.more),
        ),
        snippet=SnippetOut(text=view.snippet.text, marks=view.snippet.marks)
        if view.snippet
        else None,
    )


def paper_detail_out(
    request: Request, view: PaperView, user: User | None, links: HubLinks
) -> PaperDetailOut:
    """The API form of one paper with its Hub repositories (those with a valid id)."""

    def repos(kind: str) -> list[HubRepoOut]:
        return [
            HubRepoOut(
                id=r.repo, url=r.url, likes=r.likes, downloads=r.downloads, updated=r.updated
            )
            for r in links.of(kind)
            if r.url
        ]

    base = paper_out(request, view, user).model_dump()
    return PaperDetailOut(
        **base, models=repos("model"), datasets=repos("dataset"), spaces=repos("space")
    )


def absolute(request: Request, url: str | None) -> str | None:
    """A site path as an absolute URL (other URLs as they are)."""
    if url and url.startswith("/"):
        return str(request.base_url).rstrip("/") + url
    return url


def period_out(period: Period) -> PeriodOut:
    """The API form of a period."""
    return PeriodOut(
        kind=period.kind, slug=period.slug, label=period.label, start=period.start, end=period.end
    )
