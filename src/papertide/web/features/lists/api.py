"""The JSON API of lists: yours, one list with its papers, making, changing and deleting
lists, saving and removing papers. Writes need the session and the CSRF header."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Query, Request, Response
from pydantic import BaseModel, Field

from papertide.models import PaperList, User
from papertide.store import Store
from papertide.web.api_route import api_router
from papertide.web.deps import CsrfDep, RequiredUserDep, StoreDep, UserDep
from papertide.web.display import find_paper
from papertide.web.features.lists import rules
from papertide.web.schemas import PaperOut, paper_out

api = api_router()


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

    paper_list: ListOut = Field(alias="list")
    papers: list[PaperOut]

    model_config = {"populate_by_name": True, "serialize_by_alias": True}


def _list_out(request: Request, c: PaperList, saved: bool | None = None) -> ListOut:
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


@api.get("/lists", response_model=list[ListOut])
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
            _list_out(request, c, held) for c, held in rules.lists_for_paper(store, user, found)
        ]
    return [_list_out(request, c) for c in store.user_lists(user.pk)]


@api.post("/lists", response_model=ListOut, status_code=201)
def api_new_list(
    request: Request, body: ListIn, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep
) -> ListOut:
    """Start a list (private unless public is true); its slug comes from the name."""
    made = rules.create_list(
        store, user=user, name=body.name, public=body.public, description=body.description
    )
    return _list_out(request, made)


@api.get("/users/{owner}/lists/{slug}", response_model=ListPage)
def api_list(request: Request, owner: str, slug: str, store: StoreDep, user: UserDep) -> ListPage:
    """A public list (or your own private one) with its papers."""
    found = rules.visible_list(store, owner, slug, viewer=user)
    views = rules.list_views(store, found, viewer=user)
    return ListPage(
        list=_list_out(request, found), papers=[paper_out(request, v, user) for v in views]
    )


@api.put("/users/{owner}/lists/{slug}", response_model=ListOut)
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
    found = rules.owned_list(store, owner, slug, user=user)
    rules.update_list(
        store, found, name=body.name, public=body.public, description=body.description
    )
    return _list_out(request, rules.own_list(store, user, slug))


@api.delete("/users/{owner}/lists/{slug}", status_code=204, response_class=Response)
def api_delete_list(
    owner: str, slug: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep
) -> Response:
    """Delete your list (its papers stay on the site)."""
    store.delete_list(rules.owned_list(store, owner, slug, user=user).pk)
    return Response(status_code=204)


@api.put("/users/{owner}/lists/{slug}/papers/{ref:path}", response_model=ListOut)
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


@api.delete("/users/{owner}/lists/{slug}/papers/{ref:path}", response_model=ListOut)
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
    rules.owned_list(store, owner, slug, user=user)
    rules.save_paper(store, user=user, slug=slug, ref=ref, saved=saved)
    return _list_out(request, rules.own_list(store, user, slug), saved)
