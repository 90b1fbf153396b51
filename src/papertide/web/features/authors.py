"""Authors: an author's page (``/authors/NAME``): their papers newest first, their
co-authors and categories, and a search within their papers; the same as JSON
(``/api/authors/NAME``) and the papers as an Atom feed (``/authors/NAME.atom``), all from
``author_page``.

A name is matched as the search's ``author:`` filter matches it: accents folded, case and
spacing ignored (``Stéphane  Mallat`` is ``stephane mallat``), so every spelling of a name
that folds the same reaches one page. A page says so: one name may be several people.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from papertide.clock import utcnow
from papertide.models import Paper, User
from papertide.store import AuthorClaim, ClaimError, Store
from papertide.web.api_route import api_router
from papertide.web.atom import atom_response
from papertide.web.cards import author_url, name_key_of
from papertide.web.deps import MAX_ID, CsrfDep, RequiredUserDep, StoreDep, TemplatesDep, UserDep
from papertide.web.display import PaperView, hits_to_views
from papertide.web.feature import Feature
from papertide.web.schemas import PaperOut, paper_out

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API
api = api_router()
PER_PAGE = 20
PROFILE_PAPERS = 300  # the newest papers read for co-authors and categories
SHOWN_COAUTHORS = 20
SHOWN_CATEGORIES = 10
Page = Annotated[int, Query(ge=1, le=500, description="Page number, from 1.")]
Within = Annotated[str, Query(max_length=300, description="Search within the papers.")]


@dataclass(slots=True)
class AuthorPage:
    """What an author's page shows."""

    name: str  # as the papers spell it most often
    papers: list[PaperView]
    total: int
    page: int = 1
    q: str = ""
    coauthors: list[tuple[str, int]] = field(default_factory=list)
    categories: list[tuple[str, int]] = field(default_factory=list)
    spellings: list[str] = field(default_factory=list)  # others than ``name``
    notice: str | None = None
    per_page: int = PER_PAGE
    claims: list[AuthorClaim] = field(default_factory=list)

    @property
    def owner(self) -> AuthorClaim | None:
        """The account a moderator confirmed as this author, if any."""
        return next((c for c in self.claims if c.confirmed), None)

    @property
    def path(self) -> str:
        """The page's address."""
        return author_url(self.name)

    @property
    def pages(self) -> int:
        """How many pages the papers take."""
        return max(1, -(-self.total // self.per_page))


def author_page(
    request: Request, store: Store, name: str, *, user: User | None, q: str = "", page: int = 1
) -> AuthorPage:
    """The papers of ``name`` (404 when there are none), with co-authors and categories."""
    key = name_key_of(name)
    if not key:
        raise HTTPException(status_code=404, detail=f"{name!r} is not an author's name.")
    svc = request.app.state.search
    only = f'author:"{key}"'
    offset, sort = (page - 1) * PER_PAGE, "relevance" if q.strip() else "date"
    found = svc.search(f"{only} {q}".strip(), k=PER_PAGE, offset=offset, sort=sort)
    profile = svc.search(only, k=PROFILE_PAPERS, sort="date")
    if profile.total == 0 and not profile.warming:
        raise HTTPException(status_code=404, detail=f"No papers by {name} here.")
    mine = [h.paper for h in profile.hits if h.paper is not None]
    spellings, coauthors, categories = _profile(mine, key)
    shown = max(spellings, key=lambda s: (spellings[s], *_written_out(s))) if spellings else name
    papers = hits_to_views(store, found.hits, user)
    for view in papers:  # "author: ..." on every card says what the page already says
        view.why = [w for w in view.why if not w.startswith("author:")]
    return AuthorPage(
        name=shown,
        papers=papers,
        total=found.total,
        page=page,
        q=q.strip(),
        coauthors=coauthors.most_common(SHOWN_COAUTHORS),
        categories=categories.most_common(SHOWN_CATEGORIES),
        spellings=[s for s in spellings if s != shown],
        notice=found.notice,
        claims=store.author_claims(key),
    )


def _written_out(spelling: str) -> tuple[bool, bool]:
    """Between equally common spellings, the one in mixed case and with its accents."""
    return (not spelling.isupper(), not spelling.isascii())


def _profile(papers: list[Paper], key: str) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """How the papers spell the name, who wrote them with the author, in which categories."""
    spellings, coauthors, categories = Counter[str](), Counter[str](), Counter[str]()
    spelled: dict[str, str] = {}  # a co-author's key -> the first spelling met
    for paper in papers:
        for author in paper.authors:
            other = name_key_of(author)
            if other == key:
                spellings[author.strip()] += 1
            elif other:
                coauthors[spelled.setdefault(other, author.strip())] += 1
        categories.update(paper.categories)
    return spellings, coauthors, categories


@router.get("/authors/{name}", response_class=HTMLResponse)
def author(
    request: Request,
    name: str,
    store: StoreDep,
    templates: TemplatesDep,
    user: UserDep,
    q: Within = "",
    page: Page = 1,
) -> Response:
    """An author's papers, newest first, with co-authors and categories."""
    found = author_page(request, store, name, user=user, q=q, page=page)
    return templates.TemplateResponse(request, "author.html", {"author": found})


@router.post("/authors/{name}/claim", response_model=None)
def claim(
    request: Request,
    name: str,
    store: StoreDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
    withdraw: Annotated[bool, Form()] = False,
) -> Response:
    """Claim this author page as one's own (a moderator confirms), or take the claim back."""
    found = author_page(request, store, name, user=user)
    key = name_key_of(found.name)
    if withdraw:
        store.withdraw_claim(user_pk=user.pk, name_key=key)
    else:
        store.claim_author(user_pk=user.pk, name=found.name, name_key=key, now=utcnow())
    return RedirectResponse(f"{found.path}#claims", status_code=303)


@router.post("/authors/{name}/claims/{pk}", response_model=None)
def decide(
    request: Request,
    name: str,
    pk: Annotated[int, Path(ge=1, le=MAX_ID)],
    store: StoreDep,
    templates: TemplatesDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
    confirm: Annotated[bool, Form()],
) -> Response:
    """A moderator confirms or rejects a claim on this page."""
    if not user.moderator:
        raise HTTPException(status_code=403, detail="Only moderators decide claims.")
    found = author_page(request, store, name, user=user)
    if pk not in {c.pk for c in found.claims}:
        raise HTTPException(status_code=404, detail="No such claim on this page.")
    try:
        store.decide_claim(pk=pk, moderator_pk=user.pk, confirm=confirm, now=utcnow())
    except ClaimError as refused:
        context = {"author": found, "claim_error": str(refused)}
        return templates.TemplateResponse(request, "author.html", context, status_code=409)
    return RedirectResponse(f"{found.path}#claims", status_code=303)


@router.get("/authors/{name}.atom", response_class=Response, tags=["feeds"])
def author_feed(request: Request, name: str, store: StoreDep) -> Response:
    """An author's newest papers as an Atom feed."""
    found = author_page(request, store, name, user=None)
    return atom_response(
        request,
        title=f"papertide: papers by {found.name}",
        subtitle=f"The newest papers with {found.name} among their authors.",
        alternate=found.path,
        papers=[view.paper for view in found.papers],
        empty_updated=None,
    )


class AuthorOut(BaseModel):
    """An author's page as JSON."""

    name: str = Field(description="The name as the papers spell it most often.")
    spellings: list[str] = Field(description="Other spellings that fold to the same name.")
    total: int = Field(description="Papers with this name among their authors (or matching q).")
    page: int
    pages: int
    coauthors: list[tuple[str, int]] = Field(description="Co-authors and shared papers.")
    categories: list[tuple[str, int]]
    claimed_by: str | None = Field(
        default=None, description="The account a moderator confirmed as this author, if any."
    )
    papers: list[PaperOut]


@api.get("/authors/{name}", response_model=AuthorOut)
def api_author(
    request: Request, name: str, store: StoreDep, user: UserDep, q: Within = "", page: Page = 1
) -> AuthorOut:
    """An author's papers (newest first, or by relevance to ``q``), co-authors, categories."""
    found = author_page(request, store, name, user=user, q=q, page=page)
    return AuthorOut(
        name=found.name,
        spellings=found.spellings,
        total=found.total,
        page=found.page,
        pages=found.pages,
        coauthors=found.coauthors,
        categories=found.categories,
        claimed_by=found.owner.username if found.owner else None,
        papers=[paper_out(request, v, user) for v in found.papers],
    )


feature = Feature(
    name="authors",
    routers=(router, api),
    cached=("/authors/{name}", "/authors/{name}.atom", "/api/authors/{name}"),
)
