"""Search: the site's query language with filters as form controls, as a page (``/search``),
as JSON (``/api/search``) and as a saved search's Atom feed (``/feeds/search.atom``), all
through ``run_search``, the one search path the whole site uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Literal, Protocol
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, field_validator

from papertide.models import Hit, User
from papertide.store import Store
from papertide.web.api_route import api_router
from papertide.web.atom import FEED_SIZE, atom_response
from papertide.web.deps import StoreDep, TemplatesDep, UserDep
from papertide.web.display import PaperView, hits_to_views
from papertide.web.feature import Feature, NavLink
from papertide.web.schemas import FeedOut, paper_out

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API
api = api_router()
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
    suggestion: str | None = None  # did you mean (search/spelling.py)
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
    result.warming, result.suggestion = found.warming, found.suggestion
    return result


class _SearchResult(Protocol):
    hits: list[Hit]


class _Searcher(Protocol):
    def search(self, q: str, k: int = ...) -> _SearchResult: ...


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    store: StoreDep,
    templates: TemplatesDep,
    user: UserDep,
    form: Annotated[SearchForm, Query()],
) -> Response:
    """Search with the query language, filters as form controls, paging."""
    results = run_search(request, store, form, user=user)
    return templates.TemplateResponse(request, "search.html", {"form": form, "results": results})


@api.get("/search", response_model=FeedOut)
def api_search(
    request: Request,
    store: StoreDep,
    user: UserDep,
    form: Annotated[SearchForm, Query()],
) -> FeedOut:
    """Search with the site's query language; each paper says why it matched."""
    result = run_search(request, store, form, user=user)
    papers = [paper_out(request, v, user) for v in result.papers]
    pages = max(1, -(-result.total // result.per_page))
    return FeedOut(
        papers=papers,
        total=result.total,
        page=form.page,
        pages=pages,
        notice=result.notice,
        warming=result.warming,
        suggestion=result.suggestion,
    )


@router.get("/feeds/search.atom", response_class=Response, tags=["feeds"])
def search_feed(
    request: Request,
    store: StoreDep,
    q: Annotated[str, Query(max_length=500, description="The search, as typed on /search.")] = "",
) -> Response:
    """A saved search as a feed: the best matches for ``q``."""
    query = q.strip()
    if not query:
        raise HTTPException(status_code=400, detail="Say what to search for: ?q=sparse+attention")
    searcher: _Searcher | None = getattr(request.app.state, "search", None)
    if searcher is None:
        raise HTTPException(status_code=503, detail="Search is not available on this site.")
    result = searcher.search(query, k=FEED_SIZE)
    shown = hits_to_views(store, result.hits, None)
    return atom_response(
        request,
        title=f"papertide: search for {query}",
        subtitle=f"Papers matching “{query}”, best first.",
        alternate="/search?" + urlencode({"q": query}),
        papers=[view.paper for view in shown],
        empty_updated=None,
    )


feature = Feature(
    name="search",
    routers=(router, api),
    cached=("/search", "/api/search", "/feeds/search.atom"),
    nav=(NavLink("Search", "/search", order=30, current=("/search*",)),),
)
