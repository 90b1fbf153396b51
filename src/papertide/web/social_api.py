"""The JSON API for lists (collections) and For you, from the same calls as the
pages. Writes need a session cookie and the CSRF token in ``X-CSRF-Token``, as votes do."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from papertide.models import Collection, User
from papertide.store import Store
from papertide.web import foryou, lists
from papertide.web.deps import CsrfDep, RequiredUserDep, StoreDep, UserDep
from papertide.web.display import find_paper
from papertide.web.schemas import FeedOut, PaperOut, paper_out

router = APIRouter(prefix="/api", tags=["api"])


class ListOut(BaseModel):
    """One of a user's lists."""

    owner: str
    slug: str
    name: str
    description: str
    public: bool
    size: int
    url: str
    feed: str
    bibtex: str
    created: datetime
    updated: datetime
    saved: bool | None = Field(
        default=None, description="With ?paper=ID: whether this list holds that paper."
    )


class ListIn(BaseModel):
    """A new list, or a list's new settings."""

    name: str = Field(max_length=200)
    public: bool = False
    description: str = Field(default="", max_length=4000)


class ListPage(BaseModel):
    """A list and its papers, most recently saved first."""

    collection: ListOut = Field(alias="list")
    papers: list[PaperOut]

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


class DismissOut(BaseModel):
    """Whether a paper is now marked "not interested"."""

    paper_id: str
    dismissed: bool


def _list_out(request: Request, c: Collection, saved: bool | None = None) -> ListOut:
    base = str(request.base_url).rstrip("/") + f"/users/{quote(c.owner)}/lists/{c.slug}"
    return ListOut(
        owner=c.owner,
        slug=c.slug,
        name=c.name,
        description=c.description,
        public=c.public,
        size=c.size,
        url=base,
        feed=base + ".atom",
        bibtex=base + ".bib",
        created=c.created,
        updated=c.updated,
        saved=saved,
    )


@router.get("/lists", response_model=list[ListOut])
def api_my_lists(
    request: Request,
    store: StoreDep,
    user: RequiredUserDep,
    paper: Annotated[str | None, Query(max_length=300, description="Say which hold it.")] = None,
) -> list[ListOut]:
    """Your lists, most recently changed first."""
    if paper:
        found = find_paper(store, paper)
        return [
            _list_out(request, c, held) for c, held in lists.lists_for_paper(store, user, found)
        ]
    return [_list_out(request, c) for c in store.user_collections(user.pk)]


@router.post("/lists", response_model=ListOut, status_code=201)
def api_new_list(
    request: Request, body: ListIn, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep
) -> ListOut:
    """Start a list (private unless public is true); its slug comes from the name."""
    made = lists.create_collection(
        store, user=user, name=body.name, public=body.public, description=body.description
    )
    return _list_out(request, made)


@router.get("/users/{owner}/lists/{slug}", response_model=ListPage)
def api_list(request: Request, owner: str, slug: str, store: StoreDep, user: UserDep) -> ListPage:
    """A public list (or your own private one) with its papers."""
    found = lists.visible_collection(store, owner, slug, viewer=user)
    views = lists.collection_views(store, found, viewer=user)
    return ListPage(
        list=_list_out(request, found), papers=[paper_out(request, v, user) for v in views]
    )


@router.put("/users/{owner}/lists/{slug}", response_model=ListOut)
def api_edit_list(
    request: Request,
    owner: str,
    slug: str,
    body: ListIn,
    store: StoreDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
) -> ListOut:
    """Rename your list, describe it, or change who sees it (its slug stays)."""
    found = lists.owned_collection(store, owner, slug, user=user)
    lists.update_collection(
        store, found, name=body.name, public=body.public, description=body.description
    )
    return _list_out(request, lists.own_collection(store, user, slug))


@router.delete("/users/{owner}/lists/{slug}", status_code=204, response_class=Response)
def api_delete_list(
    owner: str, slug: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep
) -> Response:
    """Delete your list (its papers stay on the site)."""
    store.delete_collection(lists.owned_collection(store, owner, slug, user=user).pk)
    return Response(status_code=204)


@router.put("/users/{owner}/lists/{slug}/papers/{ref:path}", response_model=ListOut)
def api_save(
    request: Request,
    owner: str,
    slug: str,
    ref: str,
    store: StoreDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
) -> ListOut:
    """Save a paper in your list (saving twice changes nothing)."""
    return _set_saved(request, store, user, owner, slug, ref, saved=True)


@router.delete("/users/{owner}/lists/{slug}/papers/{ref:path}", response_model=ListOut)
def api_unsave(
    request: Request,
    owner: str,
    slug: str,
    ref: str,
    store: StoreDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
) -> ListOut:
    """Take a paper out of your list."""
    return _set_saved(request, store, user, owner, slug, ref, saved=False)


def _set_saved(
    request: Request, store: Store, user: User, owner: str, slug: str, ref: str, *, saved: bool
) -> ListOut:
    """Save or unsave ``ref`` in the caller's own list ``owner/slug`` (404 if not theirs)."""
    lists.owned_collection(store, owner, slug, user=user)
    lists.save_paper(store, user=user, slug=slug, ref=ref, saved=saved)
    return _list_out(request, lists.own_collection(store, user, slug), saved)


@router.get("/for-you", response_model=FeedOut)
def api_for_you(request: Request, store: StoreDep, user: RequiredUserDep) -> FeedOut:
    """Recommendations from your upvotes and saved papers; ``why`` says which it is like."""
    page = foryou.for_you(request, store, user)
    return FeedOut(papers=[paper_out(request, v, user) for v in page.papers], page=1)


@router.post("/papers/{ref:path}/dismiss", response_model=DismissOut)
def api_dismiss(ref: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> DismissOut:
    """Not interested: the paper leaves For you and weighs against papers like it."""
    paper = find_paper(store, ref)
    foryou.not_interested(store, paper, user=user)
    return DismissOut(paper_id=paper.id or "", dismissed=True)


@router.delete("/papers/{ref:path}/dismiss", response_model=DismissOut)
def api_undismiss(ref: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> DismissOut:
    """Take back a "not interested"."""
    paper = find_paper(store, ref)
    foryou.not_interested(store, paper, user=user, undo=True)
    return DismissOut(paper_id=paper.id or "", dismissed=False)
