"""HTML pages: feeds, trending, search, paper pages, profiles, votes and submissions."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from papertide.web import community
from papertide.web.deps import (
    StoreDep,
    TemplatesDep,
    UserDep,
)

log = logging.getLogger(__name__)
router = APIRouter()
Page = Annotated[int, Query(ge=1, le=1000, description="Page number, from 1.")]


@router.get("/users/{username}", response_class=HTMLResponse)
def profile(
    request: Request, username: str, store: StoreDep, templates: TemplatesDep, user: UserDep
) -> Response:
    """A user's upvotes and submissions; another spelling of the name (``ADA_UX`` for
    ``ada_ux``) redirects to the account's own address."""
    context = community.profile(store, username, viewer=user)
    canonical = context["person"].username
    if canonical != username:
        return RedirectResponse(f"/users/{quote(canonical)}", status_code=301)
    return templates.TemplateResponse(request, "profile.html", context)
