"""HTML routes for For you. Forms post with the
CSRF token like every other form; without a session they go to the log-in page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from papertide.web import foryou
from papertide.web.access import safe_next
from papertide.web.deps import CsrfDep, StoreDep, TemplatesDep, UserDep
from papertide.web.display import find_paper

router = APIRouter()


def _login(next_path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={next_path}", status_code=303)


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
