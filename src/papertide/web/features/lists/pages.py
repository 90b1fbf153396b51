"""The pages of lists: your lists, a list's page, its Atom feed and BibTeX, and the save
form every card links to (it works without JavaScript; static/social.js turns it into a
menu of your lists)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from papertide.web.access import login_first, safe_next
from papertide.web.atom import atom_response
from papertide.web.deps import CsrfDep, StoreDep, TemplatesDep, UserDep
from papertide.web.display import find_paper
from papertide.web.features.lists import rules

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API
Name = Annotated[str, Form(max_length=200)]
Description = Annotated[str, Form(max_length=4000)]
Next = Annotated[str, Form(max_length=2000)]


def _login_first(next_path: str) -> RedirectResponse:
    return login_first(quote(next_path))


def _list_path(owner: str, slug: str) -> str:
    return f"/users/{quote(owner)}/lists/{slug}"


@router.get("/lists", response_class=HTMLResponse)
def my_lists(request: Request, store: StoreDep, templates: TemplatesDep, user: UserDep) -> Response:
    """Your lists, and a form for a new one."""
    if user is None:
        return _login_first("/lists")
    context = {"lists": store.user_lists(user.pk)}
    return templates.TemplateResponse(request, "lists.html", context)


@router.post("/lists", response_model=None)
def new_list(
    store: StoreDep,
    user: UserDep,
    _csrf: CsrfDep,
    name: Name,
    public: Annotated[bool, Form()] = False,
    description: Description = "",
    paper: Annotated[str, Form(max_length=300)] = "",
    next: Next = "",
) -> Response:
    """Create a list; with ``paper``, save that paper in it at once."""
    if user is None:
        return _login_first("/lists")
    made = rules.create_list(store, user=user, name=name, public=public, description=description)
    if paper:
        rules.save_paper(store, user=user, slug=made.slug, ref=paper, saved=True)
    target = safe_next(next) if next else _list_path(made.owner, made.slug)
    return RedirectResponse(target, status_code=303)


@router.get("/lists/save", response_class=HTMLResponse)
def save_form(
    request: Request,
    store: StoreDep,
    templates: TemplatesDep,
    user: UserDep,
    paper: Annotated[str, Query(max_length=300)],
) -> Response:
    """Which of your lists hold this paper: add or remove it, or start a new list."""
    if user is None:
        return _login_first(f"/lists/save?paper={paper}")
    found = find_paper(store, paper)
    context = {"paper": found, "choices": rules.lists_for_paper(store, user, found)}
    return templates.TemplateResponse(request, "save.html", context)


@router.post("/lists/save", response_model=None)
def save(
    store: StoreDep,
    user: UserDep,
    _csrf: CsrfDep,
    paper: Annotated[str, Form(max_length=300)],
    slug: Annotated[str, Form(max_length=80, alias="list")],
    saved: Annotated[bool, Form()] = True,
    next: Next = "",
) -> Response:
    """Put a paper in one of your lists, or take it out."""
    if user is None:
        return _login_first(f"/lists/save?paper={paper}")
    found = rules.save_paper(store, user=user, slug=slug, ref=paper, saved=saved)
    target = safe_next(next) if next else f"/lists/save?paper={quote(found.id or '')}"
    return RedirectResponse(target, status_code=303)


@router.get("/users/{owner}/lists/{slug}.atom", response_class=Response)
def list_feed(request: Request, owner: str, slug: str, store: StoreDep, user: UserDep) -> Response:
    """A list as an Atom feed, most recently saved first."""
    found = rules.visible_list(store, owner, slug, viewer=user)
    return atom_response(
        request,
        title=f"papertide: {found.name} ({found.owner})",
        subtitle=found.description or f"Papers {found.owner} saved in {found.name}.",
        alternate=_list_path(found.owner, found.slug),
        papers=rules.list_papers(store, found),
        empty_updated=found.updated.date(),
    )


@router.get("/users/{owner}/lists/{slug}.bib", response_class=Response)
def list_bibtex(owner: str, slug: str, store: StoreDep, user: UserDep) -> Response:
    """Every paper of a list as BibTeX, one file."""
    found = rules.visible_list(store, owner, slug, viewer=user)
    headers = {"Content-Disposition": f'inline; filename="{rules.bib_filename(found)}"'}
    return Response(
        rules.list_bibtex(store, found),
        media_type="application/x-bibtex; charset=utf-8",
        headers=headers,
    )


@router.get("/users/{owner}/lists/{slug}", response_class=HTMLResponse)
def list_page(
    request: Request, owner: str, slug: str, store: StoreDep, templates: TemplatesDep, user: UserDep
) -> Response:
    """A list's papers; its owner also gets its settings."""
    found = rules.visible_list(store, owner, slug, viewer=user)
    context = {
        "paper_list": found,
        "papers": rules.list_views(store, found, viewer=user),
        "path": _list_path(found.owner, found.slug),
    }
    return templates.TemplateResponse(request, "list.html", context)


@router.post("/users/{owner}/lists/{slug}/settings", response_model=None)
def list_settings(
    owner: str,
    slug: str,
    store: StoreDep,
    user: UserDep,
    _csrf: CsrfDep,
    name: Name,
    public: Annotated[bool, Form()] = False,
    description: Description = "",
) -> Response:
    """Rename your list, describe it, make it public or private."""
    if user is None:
        return _login_first(_list_path(owner, slug))
    found = rules.owned_list(store, owner, slug, user=user)
    rules.update_list(store, found, name=name, public=public, description=description)
    return RedirectResponse(_list_path(found.owner, found.slug), status_code=303)


@router.post("/users/{owner}/lists/{slug}/delete", response_model=None)
def delete_list(owner: str, slug: str, store: StoreDep, user: UserDep, _csrf: CsrfDep) -> Response:
    """Delete your list (the papers stay on the site)."""
    if user is None:
        return _login_first(_list_path(owner, slug))
    store.delete_list(rules.owned_list(store, owner, slug, user=user).pk)
    return RedirectResponse("/lists", status_code=303)
