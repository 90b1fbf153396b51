"""Reading lists: who may see a list (a private list is a 404 to everyone but its owner),
its papers and BibTeX, making and changing lists, saving and removing papers. The pages and
the JSON API of lists both call here."""

from __future__ import annotations

import re

from fastapi import HTTPException

from papertide.clock import utcnow
from papertide.models import Paper, PaperList, User
from papertide.store import Store
from papertide.store.lists import ListError
from papertide.web.bibtex import bibtex_file
from papertide.web.display import PaperView, find_paper, views

MAX_SHOWN = 500


def visible_list(store: Store, owner: str, slug: str, *, viewer: User | None) -> PaperList:
    """The list ``owner``/``slug`` if the viewer may see it, else 404 (never 403: a private
    list's existence is not told)."""
    person = store.user_by_name(owner)
    found = store.get_list(person.pk, slug) if person else None
    if found is None or (not found.public and (viewer is None or viewer.pk != found.user_pk)):
        raise HTTPException(status_code=404, detail=f"No list {owner}/{slug} here.")
    return found


def owned_list(store: Store, owner: str, slug: str, *, user: User) -> PaperList:
    """The list ``owner``/``slug`` when it is the user's own, else 404."""
    found = visible_list(store, owner, slug, viewer=user)
    if found.user_pk != user.pk:
        raise HTTPException(status_code=404, detail=f"You have no list {slug!r}.")
    return found


def own_list(store: Store, user: User, slug: str) -> PaperList:
    """One of the signed-in user's own lists, or 404."""
    found = store.get_list(user.pk, slug)
    if found is None:
        raise HTTPException(status_code=404, detail=f"You have no list {slug!r}.")
    return found


def list_papers(store: Store, paper_list: PaperList) -> list[Paper]:
    """The list's papers, most recently saved first (at most MAX_SHOWN)."""
    pks = store.list_paper_pks(paper_list.pk)[:MAX_SHOWN]
    by_pk = {p.pk: p for p in store.papers_by_pk(pks)}
    return [by_pk[pk] for pk in pks if pk in by_pk]


def list_views(store: Store, paper_list: PaperList, *, viewer: User | None) -> list[PaperView]:
    """The list's papers as cards."""
    return views(store, list_papers(store, paper_list), viewer, utcnow())


def list_bibtex(store: Store, found: PaperList) -> str:
    """Every paper of the list as BibTeX, keys made unique."""
    return bibtex_file(list_papers(store, found))


def bib_filename(paper_list: PaperList) -> str:
    """A safe download name for the list's BibTeX."""
    return re.sub(r"[^A-Za-z0-9_-]", "", f"{paper_list.owner}-{paper_list.slug}") + ".bib"


def create_list(
    store: Store, *, user: User, name: str, public: bool, description: str = ""
) -> PaperList:
    """A new list of the user's; 400 with the reason for a bad name."""
    try:
        return store.create_list(
            user_pk=user.pk, name=name, public=public, description=description, now=utcnow()
        )
    except ListError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc


def update_list(
    store: Store, paper_list: PaperList, *, name: str, public: bool, description: str
) -> None:
    """Rename a list or change who sees it; 400 with the reason for a bad name."""
    try:
        store.update_list(
            pk=paper_list.pk, name=name, public=public, description=description, now=utcnow()
        )
    except ListError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc


def save_paper(store: Store, *, user: User, slug: str, ref: str, saved: bool) -> Paper:
    """Put the paper ``ref`` in the user's list ``slug`` (or take it out)."""
    paper_list = own_list(store, user, slug)
    paper = find_paper(store, ref)
    assert paper.pk is not None
    store.set_saved(list_pk=paper_list.pk, paper_pk=paper.pk, saved=saved, now=utcnow())
    return paper


def lists_for_paper(store: Store, user: User, paper: Paper) -> list[tuple[PaperList, bool]]:
    """The user's lists, each with whether it holds the paper."""
    holding = store.saved_in(user.pk, paper.pk or 0)
    return [(c, c.pk in holding) for c in store.user_lists(user.pk)]
