"""HTML routes for discussion (comments on paper pages) and For you. Forms post with the
CSRF token like every other form; without a session they go to the log-in page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from papertide.web import discussion, foryou
from papertide.web.access import safe_next
from papertide.web.deps import CsrfDep, SettingsDep, StoreDep, TemplatesDep, UserDep
from papertide.web.display import find_paper, paper_detail

router = APIRouter()
Body = Annotated[str, Form(max_length=20_000)]


def _login(next_path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={next_path}", status_code=303)


def _to_comment(store: StoreDep, pk: int, ref: str | None = None) -> RedirectResponse:
    found = store.get_comment(pk)
    ref = ref or (discussion.paper_ref(store, found) if found else "")
    anchor = f"comment-{pk}" if found else "discussion"
    return RedirectResponse(f"/papers/{ref}#{anchor}", status_code=303)


@router.post("/papers/{ref:path}/comments", response_model=None)
def post_comment(
    request: Request,
    ref: str,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    user: UserDep,
    _csrf: CsrfDep,
    body: Body,
    parent: Annotated[int | None, Form()] = None,
) -> Response:
    """Post a comment or a reply; on a refusal the page comes back with the text kept."""
    if user is None:
        return _login(f"/papers/{ref}%23discussion")
    try:
        comment = discussion.post_comment(
            request, store, settings, ref, user=user, body=body, parent=parent
        )
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
def edit_comment(pk: int, store: StoreDep, user: UserDep, _csrf: CsrfDep, body: Body) -> Response:
    """Change your own comment."""
    if user is None:
        return _login("/")
    discussion.edit_comment(store, pk, user=user, body=body)
    return _to_comment(store, pk)


@router.post("/comments/{pk}/delete", response_model=None)
def delete_comment(pk: int, store: StoreDep, user: UserDep, _csrf: CsrfDep) -> Response:
    """Delete your own comment (a placeholder stays while it has replies)."""
    if user is None:
        return _login("/")
    gone = discussion.delete_comment(store, pk, user=user)
    return RedirectResponse(f"/papers/{discussion.paper_ref(store, gone)}#discussion", 303)


@router.post("/comments/{pk}/hide", response_model=None)
def hide_comment(
    pk: int,
    store: StoreDep,
    user: UserDep,
    _csrf: CsrfDep,
    hidden: Annotated[bool, Form()] = True,
) -> Response:
    """A moderator hides a comment, or shows it again."""
    if user is None:
        return _login("/")
    discussion.hide_comment(store, pk, user=user, hidden=hidden)
    return _to_comment(store, pk)


@router.get("/for-you", response_class=HTMLResponse)
def for_you(request: Request, store: StoreDep, templates: TemplatesDep, user: UserDep) -> Response:
    """Recommendations from your upvotes and saved papers, each with its reason."""
    if user is None:
        return _login("/for-you")
    page = foryou.for_you(request, store, user)
    return templates.TemplateResponse(request, "for_you.html", {"page": page})


@router.post("/for-you/dismiss", response_model=None)
def dismiss(
    store: StoreDep,
    user: UserDep,
    _csrf: CsrfDep,
    paper: Annotated[str, Form(max_length=300)],
    undo: Annotated[bool, Form()] = False,
    next: Annotated[str, Form(max_length=2000)] = "/for-you",
) -> Response:
    """Not interested: the paper leaves For you and the model learns from it."""
    if user is None:
        return _login("/for-you")
    found = find_paper(store, paper)
    foryou.not_interested(store, found, user=user, undo=undo)
    return RedirectResponse(safe_next(next), status_code=303)
