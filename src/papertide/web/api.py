"""The JSON API under /api/: every page's data, from the same service calls as the pages.

Errors are JSON ``{"error": message, "status": code}``. Writes (vote, submit, comments, lists,
not interested) need a session cookie and the CSRF token in an ``X-CSRF-Token`` header (the
``pt_csrf`` cookie's value). Comments, lists and For you are in web/social_api.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from papertide.clock import utcnow
from papertide.web import community
from papertide.web.deps import CsrfDep, RequiredUserDep, SettingsDep, StoreDep
from papertide.web.display import views
from papertide.web.schemas import FeedOut, PaperOut, paper_out

router = APIRouter(prefix="/api", tags=["api"])
Page = Annotated[int, Query(ge=1, le=1000)]


class SubmitIn(BaseModel):
    """A submission."""

    ref: str = Field(max_length=300, description="arXiv id or URL, e.g. 2407.02490.")


class SubmitOut(BaseModel):
    """The submitted paper."""

    paper: PaperOut
    new: bool = Field(description="False when someone had submitted it before.")


@router.post("/submit", response_model=SubmitOut)
def api_submit(
    request: Request,
    body: SubmitIn,
    store: StoreDep,
    settings: SettingsDep,
    user: RequiredUserDep,
    _csrf: CsrfDep,
) -> SubmitOut:
    """Submit a paper by arXiv id or URL (deduplicated; fetched from arXiv when new)."""
    outcome = community.submit_paper(request, store, settings, body.ref, user=user)
    if outcome.paper is None:
        raise HTTPException(status_code=400, detail=outcome.message)
    (view,) = views(store, [outcome.paper], user, utcnow())
    return SubmitOut(paper=paper_out(request, view, user), new=outcome.new)


__all__ = ["FeedOut", "PaperOut", "paper_out", "router"]
