"""Page logic the HTML and JSON routes share: search, paper detail, votes, profile, submit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from fastapi import HTTPException, Request
from pydantic import BaseModel, Field, field_validator

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import User
from papertide.normalize import parse_arxiv_id
from papertide.store import Store
from papertide.submit import SubmitOutcome, resolve_submission
from papertide.web.access import allow
from papertide.web.display import PaperView, find_paper, hits_to_views, views

PER_PAGE = 20


class SearchForm(BaseModel):
    """The search page's controls; the filters become query-language terms."""

    q: str = Field(default="", max_length=500, description='Query: words, "phrases", -words.')
    mode: Literal["hybrid", "bm25", "dense"] = "hybrid"
    sort: Literal["relevance", "date", "trending"] = "relevance"
    cat: str = Field(default="", max_length=40, description="arXiv category, e.g. cs.CL.")
    author: str = Field(default="", max_length=100)
    after: date | None = None
    before: date | None = None
    page: int = Field(default=1, ge=1, le=500)

    @field_validator("after", "before", mode="before")
    @classmethod
    def _blank_date_is_none(cls, value: object) -> object:
        """A date control left empty sends ``after=``: that means no filter."""
        return None if value == "" else value

    def query(self) -> str:
        """The full query string: the text plus a term per filter."""
        terms = [self.q.strip()]
        if self.cat.strip():
            terms.append(f"cat:{self.cat.strip()}")
        if self.author.strip():
            name = self.author.strip()
            terms.append(f'author:"{name}"' if " " in name else f"author:{name}")
        if self.after:
            terms.append(f"after:{self.after.isoformat()}")
        if self.before:
            terms.append(f"before:{self.before.isoformat()}")
        return " ".join(t for t in terms if t)


@dataclass(slots=True)
class SearchPage:
    """What a search shows."""

    query: str
    papers: list[PaperView] = field(default_factory=list)
    total: int = 0
    notice: str | None = None
    terms: list[str] = field(default_factory=list)
    warming: bool = False  # the index is still being built (search/service.py)
    page: int = 1
    per_page: int = PER_PAGE

    @property
    def has_next(self) -> bool:
        """Whether another page follows."""
        return self.page * self.per_page < self.total


def run_search(
    request: Request, store: Store, form: SearchForm, *, user: User | None
) -> SearchPage:
    """Run the form's query through the one search path the whole site uses."""
    query = form.query()
    result = SearchPage(query=query, page=form.page)
    if not query:
        return result
    svc = request.app.state.search
    found = svc.search(
        query, k=PER_PAGE, offset=(form.page - 1) * PER_PAGE, mode=form.mode, sort=form.sort
    )
    result.papers = hits_to_views(store, found.hits, user)
    result.total, result.notice, result.terms = found.total, found.notice, found.terms
    result.warming = found.warming
    return result


def cast_vote(store: Store, ref: str, *, user: User, up: bool) -> tuple[int, bool]:
    """Cast (up) or withdraw a vote; returns the paper's total votes and the user's state."""
    paper = find_paper(store, ref)
    assert paper.pk is not None
    site = store.set_vote(user_pk=user.pk, paper_pk=paper.pk, up=up, now=utcnow())
    return site + (paper.upvotes_external or 0), up


def profile(store: Store, username: str, *, viewer: User | None) -> dict[str, Any]:
    """A user's page: their upvotes and submissions."""
    person = store.user_by_name(username)
    if person is None:
        raise HTTPException(status_code=404, detail=f"No user {username!r}.")
    now = utcnow()
    upvoted = views(store, store.papers_by_pk(store.user_votes(person.pk)), viewer, now)
    submitted = views(store, store.papers_by_pk(store.user_submissions(person.pk)), viewer, now)
    own = viewer is not None and viewer.pk == person.pk
    shown = [c for c in store.user_collections(person.pk) if c.public or own]
    return {"person": person, "upvoted": upvoted, "submitted": submitted, "lists": shown}


def submit_paper(
    request: Request, store: Store, settings: Settings, ref: str, *, user: User
) -> SubmitOutcome:
    """Submit by arXiv id or URL: found in the store, or fetched from arXiv; rate-limited."""
    if parse_arxiv_id(ref.strip()) is None:
        return SubmitOutcome(None, False, f"{ref!r} is not an arXiv id or URL (e.g. 2407.02490).")
    if not allow(request, store, settings, "submit"):
        return SubmitOutcome(None, False, "Too many submissions; try again in an hour.")
    outcome = resolve_submission(store, settings, ref.strip())
    if outcome.paper is not None:
        outcome.new = store.record_submission(user=user, paper=outcome.paper, now=utcnow())
        # Searchable here at once (elsewhere within a follow interval); never wait for a
        # build or another process's index write.
        request.app.state.search.refresh(wait=False)
    return outcome
