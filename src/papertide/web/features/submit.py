"""Community submission: a signed-in reader submits a paper by arXiv id or URL, found in the
store or fetched from arXiv, deduplicated and rate-limited, from the form at ``/submit`` or
by JSON at ``/api/submit``, both through ``submit_paper``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import User
from papertide.normalize import parse_arxiv_id
from papertide.store import Store
from papertide.submit import SubmitOutcome, resolve_submission
from papertide.web.access import allow, too_many
from papertide.web.api_route import api_router
from papertide.web.deps import (
    CsrfDep,
    RequiredUserDep,
    SettingsDep,
    StoreDep,
    TemplatesDep,
    UserDep,
)
from papertide.web.display import views
from papertide.web.feature import Feature, NavLink
from papertide.web.schemas import PaperOut, paper_out

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API
api = api_router()


class SubmitIn(BaseModel):
    """A submission."""

    ref: str = Field(max_length=300, description="arXiv id or URL, e.g. 2407.02490.")


class SubmitOut(BaseModel):
    """The submitted paper."""

    paper: PaperOut
    new: bool = Field(description="False when someone had submitted it before.")


def submit_paper(
    request: Request, store: Store, settings: Settings, ref: str, *, user: User
) -> SubmitOutcome:
    """Submit by arXiv id or URL: found in the store, or fetched from arXiv; rate-limited."""
    if parse_arxiv_id(ref.strip()) is None:
        return SubmitOutcome(None, False, f"{ref!r} is not an arXiv id or URL (e.g. 2407.02490).")
    if not allow(request, store, settings, "submit"):
        raise too_many("Too many submissions; try again in an hour.")
    outcome = resolve_submission(store, settings, ref.strip())
    if outcome.paper is not None:
        outcome.new = store.record_submission(user=user, paper=outcome.paper, now=utcnow())
        # Searchable here at once (elsewhere within a follow interval); never wait for a
        # build or another process's index write.
        request.app.state.search.refresh(wait=False)
    return outcome


@router.get("/submit", response_class=HTMLResponse)
def submit_form(request: Request, templates: TemplatesDep, user: UserDep) -> Response:
    """The submission form (log in first)."""
    if user is None:
        return RedirectResponse("/login?next=/submit", status_code=303)
    return templates.TemplateResponse(request, "submit.html", {})


@router.post("/submit", response_model=None)
def submit(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    user: UserDep,
    _csrf: CsrfDep,
    ref: Annotated[str, Form(max_length=300)],
) -> Response:
    """Submit a paper by arXiv id or URL; deduplicated against the store."""
    if user is None:
        return RedirectResponse("/login?next=/submit", status_code=303)
    try:
        outcome = submit_paper(request, store, settings, ref, user=user)
    except HTTPException as refused:  # the rate limit: the form again, with its Retry-After
        context = {"error": refused.detail, "ref": ref}
        return templates.TemplateResponse(
            request, "submit.html", context, refused.status_code, refused.headers
        )
    if outcome.paper is None:
        context = {"error": outcome.message, "ref": ref}
        return templates.TemplateResponse(request, "submit.html", context, status_code=400)
    return RedirectResponse(f"/papers/{outcome.paper.id}?submitted={int(outcome.new)}", 303)


@api.post("/submit", response_model=SubmitOut)
def api_submit(
    request: Request,
    body: SubmitIn,
    store: StoreDep,
    settings: SettingsDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
) -> SubmitOut:
    """Submit a paper by arXiv id or URL (deduplicated; fetched from arXiv when new)."""
    outcome = submit_paper(request, store, settings, body.ref, user=user)
    if outcome.paper is None:
        raise HTTPException(status_code=400, detail=outcome.message)
    (view,) = views(store, [outcome.paper], user, utcnow())
    return SubmitOut(paper=paper_out(request, view, user), new=outcome.new)


feature = Feature(
    name="submit",
    routers=(router, api),
    nav=(NavLink("Submit", "/submit", order=40, current=("/submit*",)),),
)
