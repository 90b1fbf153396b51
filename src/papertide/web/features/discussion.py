"""Discussion: comments and one level of replies on a paper's page, in Markdown with math;
post (rate-limited per account and address), edit or delete your own, moderators hide. As
forms on the paper page (``/papers/ID/comments``, ``/comments/N/...``) and as JSON
(``/api/papers/ID/comments``, ``/api/comments/N``), both through the functions below; each
store refusal becomes an HTTP error that says why. Without a session a form goes to the
log-in page; JSON writes need the session and the CSRF header, as votes do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import Comment, User
from papertide.store import Store
from papertide.store.comments import CommentError, CommentForbidden, CommentNotFound
from papertide.web.access import allow, login_first, too_many
from papertide.web.api_route import api_router
from papertide.web.deps import (
    MAX_ID,
    CommentId,
    CsrfDep,
    RequiredUserDep,
    SettingsDep,
    StoreDep,
    TemplatesDep,
    UserDep,
)
from papertide.web.display import find_paper, paper_detail
from papertide.web.feature import Feature
from papertide.web.markdown import render_comment

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API
api = api_router()
Body = Annotated[str, Form(max_length=20_000)]
# Comments are up to store.comments.MAX_COMMENT characters, which a form sends
# percent-encoded: up to 9 bytes a character for most scripts.
LARGER = 8


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
        raise too_many("Too many comments from you; try again in an hour.")
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


class CommentOut(BaseModel):
    """A comment; top-level ones carry their replies."""

    id: int
    paper_id: str
    author: str | None = Field(description="null once deleted or hidden from you.")
    body: str = Field(description="The Markdown source ('' once deleted or hidden).")
    html: str = Field(description="The body as safe HTML (math left as $..$ for KaTeX).")
    created: datetime
    edited: datetime | None
    deleted: bool
    hidden: bool
    parent: int | None
    replies: list[CommentOut] = Field(default_factory=list)


class CommentIn(BaseModel):
    """A new comment, or a reply to the comment ``parent``."""

    body: str = Field(max_length=20_000, description="Markdown; math as $..$.")
    parent: int | None = Field(default=None, ge=1, le=MAX_ID)


class CommentEdit(BaseModel):
    """New text for your comment."""

    body: str = Field(max_length=20_000)


class HideIn(BaseModel):
    """Hide a comment (moderators), or show it again."""

    hidden: bool = True


def _comment_out(comment: Comment, paper_id: str) -> CommentOut:
    gone = bool(comment.deleted) or (bool(comment.hidden) and not comment.body)
    return CommentOut(
        id=comment.pk,
        paper_id=paper_id,
        author=None if gone else comment.username,
        body=comment.body,
        html=str(render_comment(comment.body)) if comment.body else "",
        created=comment.created,
        edited=comment.edited,
        deleted=comment.deleted is not None,
        hidden=comment.hidden is not None,
        parent=comment.parent_pk,
        replies=[_comment_out(r, paper_id) for r in comment.replies],
    )


def _to_comment(store: StoreDep, pk: int, ref: str | None = None) -> RedirectResponse:
    found = store.get_comment(pk)
    ref = ref or (paper_ref(store, found) if found else "")
    anchor = f"comment-{pk}" if found else "discussion"
    return RedirectResponse(f"/papers/{ref}#{anchor}", status_code=303)


@router.post("/papers/{ref:path}/comments", response_model=None)
def post_comment_form(
    request: Request,
    ref: str,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    user: UserDep,
    _csrf: CsrfDep,
    body: Body,
    parent: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None,
) -> Response:
    """Post a comment or a reply; on a refusal the page comes back with the text kept."""
    if user is None:
        return login_first(f"/papers/{ref}%23discussion")
    try:
        comment = post_comment(request, store, settings, ref, user=user, body=body, parent=parent)
    except HTTPException as exc:
        if exc.status_code not in (400, 429):
            raise
        detail = paper_detail(request, store, ref, user=user)
        context = {"detail": detail, "comment_error": exc.detail, "comment_text": body}
        return templates.TemplateResponse(
            request, "paper.html", context, status_code=exc.status_code, headers=exc.headers
        )
    return _to_comment(store, comment.pk, ref)


@router.post("/comments/{pk}/edit", response_model=None)
def edit_comment_form(
    pk: CommentId, store: StoreDep, user: UserDep, _csrf: CsrfDep, body: Body
) -> Response:
    """Change your own comment."""
    if user is None:
        return login_first("/")
    edit_comment(store, pk, user=user, body=body)
    return _to_comment(store, pk)


@router.post("/comments/{pk}/delete", response_model=None)
def delete_comment_form(pk: CommentId, store: StoreDep, user: UserDep, _csrf: CsrfDep) -> Response:
    """Delete your own comment (a placeholder stays while it has replies)."""
    if user is None:
        return login_first("/")
    gone = delete_comment(store, pk, user=user)
    return RedirectResponse(f"/papers/{paper_ref(store, gone)}#discussion", 303)


@router.post("/comments/{pk}/hide", response_model=None)
def hide_comment_form(
    pk: CommentId,
    store: StoreDep,
    user: UserDep,
    _csrf: CsrfDep,
    hidden: Annotated[bool, Form()] = True,
) -> Response:
    """A moderator hides a comment, or shows it again."""
    if user is None:
        return login_first("/")
    hide_comment(store, pk, user=user, hidden=hidden)
    return _to_comment(store, pk)


@api.get("/papers/{ref:path}/comments", response_model=list[CommentOut])
def api_comments(ref: str, store: StoreDep, user: UserDep) -> list[CommentOut]:
    """A paper's discussion: threads oldest first, each with its replies."""
    paper = find_paper(store, ref)
    threads = store.paper_comments(paper.pk or 0, viewer=user)
    return [_comment_out(c, paper.id or "") for c in threads]


@api.post("/papers/{ref:path}/comments", response_model=CommentOut, status_code=201)
def api_post_comment(
    request: Request,
    ref: str,
    body: CommentIn,
    store: StoreDep,
    settings: SettingsDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
) -> CommentOut:
    """Comment on a paper, or reply to a comment (one level: a reply to a reply joins its
    thread). Rate-limited per account and address (429 with Retry-After)."""
    made = post_comment(
        request, store, settings, ref, user=user, body=body.body, parent=body.parent
    )
    return _comment_out(made, find_paper(store, ref).id or "")


@api.patch("/comments/{pk}", response_model=CommentOut)
def api_edit_comment(
    pk: CommentId, body: CommentEdit, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep
) -> CommentOut:
    """Change your own comment's text."""
    made = edit_comment(store, pk, user=user, body=body.body)
    return _comment_out(made, paper_ref(store, made))


@api.delete("/comments/{pk}", status_code=204, response_class=Response)
def api_delete_comment(
    pk: CommentId, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep
) -> Response:
    """Delete your own comment (a "[deleted]" placeholder stays while it has replies)."""
    delete_comment(store, pk, user=user)
    return Response(status_code=204)


@api.post("/comments/{pk}/hide", response_model=CommentOut)
def api_hide_comment(
    pk: CommentId, body: HideIn, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep
) -> CommentOut:
    """Moderators: hide a comment from everyone but its author and moderators, or show it."""
    made = hide_comment(store, pk, user=user, hidden=body.hidden)
    return _comment_out(made, paper_ref(store, made))


feature = Feature(
    name="discussion",
    routers=(router, api),
    cached=("/api/papers/{ref:path}/comments",),
    larger_bodies={
        "/papers/{ref:path}/comments": LARGER,
        "/comments/{pk}/edit": LARGER,
        "/api/papers/{ref:path}/comments": LARGER,
        "/api/comments/{pk}": LARGER,
        "/api/comments/{pk}/hide": LARGER,
    },
)
