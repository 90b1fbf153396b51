"""Comment logic the HTML forms and the JSON API share: post (rate-limited), edit, delete,
hide; each store refusal becomes an HTTP error that says why."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from fastapi import HTTPException, Request

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import Comment, User
from papertide.store import Store
from papertide.store.comments import CommentError, CommentForbidden, CommentNotFound
from papertide.web.access import allow
from papertide.web.display import find_paper


@contextmanager
def _refusals() -> Iterator[None]:
    """Store refusals as HTTP errors: 404 missing, 403 not yours, 400 otherwise."""
    try:
        yield
    except CommentNotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except CommentForbidden as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc
    except CommentError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc


def _allowed(request: Request, store: Store, settings: Settings, user: User) -> bool:
    """Posting is limited per address and per account (rate_limit_per_hour each)."""
    hour, now = timedelta(hours=1), utcnow()
    if not allow(request, store, settings, "comment"):
        return False
    key = f"comment:user:{user.pk}"
    return store.allow(key, limit=settings.rate_limit_per_hour, window=hour, now=now)


def post_comment(
    request: Request,
    store: Store,
    settings: Settings,
    ref: str,
    *,
    user: User,
    body: str,
    parent: int | None,
) -> Comment:
    """A new comment (or reply) on the paper ``ref``; 429 past the rate limit."""
    paper = find_paper(store, ref)
    assert paper.pk is not None
    if not body.strip():
        raise HTTPException(status_code=400, detail="The comment is empty.")
    if not _allowed(request, store, settings, user):
        raise HTTPException(
            status_code=429,
            detail="Too many comments from you; try again in an hour.",
            headers={"Retry-After": "3600"},
        )
    with _refusals():
        return store.add_comment(
            paper_pk=paper.pk, user=user, body=body, parent_pk=parent, now=utcnow()
        )


def edit_comment(store: Store, pk: int, *, user: User, body: str) -> Comment:
    """Change the text of your own comment."""
    with _refusals():
        return store.edit_comment(pk=pk, user=user, body=body, now=utcnow())


def delete_comment(store: Store, pk: int, *, user: User) -> Comment:
    """Delete your own comment; returns it as it was (for the page to go back to)."""
    found = store.get_comment(pk)
    with _refusals():
        store.delete_comment(pk=pk, user=user, now=utcnow())
    assert found is not None
    return found


def hide_comment(store: Store, pk: int, *, user: User, hidden: bool) -> Comment:
    """A moderator hides a comment (or shows it again)."""
    with _refusals():
        store.hide_comment(pk=pk, moderator=user, hidden=hidden, now=utcnow())
    found = store.get_comment(pk)
    assert found is not None
    return found


def paper_ref(store: Store, comment: Comment) -> str:
    """The public id of the paper a comment is on."""
    found = store.papers_by_pk([comment.paper_pk])
    return found[0].id or "" if found else ""
