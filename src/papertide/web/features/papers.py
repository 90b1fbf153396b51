"""A paper: its page (the record, BibTeX, similar papers, discussion, the pages that listed
it) at ``/papers/ID``, as JSON at ``/api/papers/ID`` with its similar papers at
``/api/papers/ID/similar``, and its upvotes (a form on every card, and the JSON API)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.background import BackgroundTask

from papertide.clock import utcnow
from papertide.models import User
from papertide.store import Store
from papertide.web.access import came_from
from papertide.web.api_route import api_router
from papertide.web.deps import CsrfDep, RequiredUserDep, StoreDep, TemplatesDep, UserDep
from papertide.web.display import find_paper, paper_detail, views, wish_picture
from papertide.web.feature import Feature
from papertide.web.schemas import PaperDetailOut, PaperOut, paper_detail_out, paper_out

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API
api = api_router()


class VoteOut(BaseModel):
    """A paper's votes after a vote."""

    votes: int
    voted: bool


def cast_vote(store: Store, ref: str, *, user: User, up: bool) -> tuple[int, bool]:
    """Cast (up) or withdraw a vote; returns the paper's total votes and the user's state."""
    paper = find_paper(store, ref)
    assert paper.pk is not None
    site = store.set_vote(user_pk=user.pk, paper_pk=paper.pk, up=up, now=utcnow())
    return site + (paper.upvotes_external or 0), up


@router.get("/papers/{ref:path}", response_class=HTMLResponse)
def paper_page(
    request: Request, ref: str, store: StoreDep, templates: TemplatesDep, user: UserDep
) -> Response:
    """One paper: the record, BibTeX, votes, similar papers, the pages that listed it; a
    paper without a picture is put on the worker's list (after the page is sent)."""
    detail = paper_detail(request, store, ref, user=user, busy_ok=True)
    wish = BackgroundTask(wish_picture, store, detail.view)
    return templates.TemplateResponse(request, "paper.html", {"detail": detail}, background=wish)


@router.post("/papers/{ref:path}/vote", response_model=None)
def vote(
    request: Request,
    ref: str,
    store: StoreDep,
    user: UserDep,
    _csrf: CsrfDep,
    up: Annotated[bool, Form()] = True,
) -> Response:
    """Cast or withdraw an upvote; JSON for scripts, a redirect back for plain forms."""
    wants_json = "application/json" in request.headers.get("accept", "")
    if user is None:
        if wants_json:
            return JSONResponse({"error": "Log in to vote.", "status": 401}, status_code=401)
        return RedirectResponse(f"/login?next=/papers/{ref}", status_code=303)
    votes, voted = cast_vote(store, ref, user=user, up=up)
    if wants_json:
        return JSONResponse({"votes": votes, "voted": voted})
    # Back to the page, with the paper named in the fragment: app.js puts the focus back on
    # its vote button (a keyboard user is not sent to the top of the page).
    # Only a page of this site (never another site's page, even in a Referer).
    back = came_from(request) or f"/papers/{quote(ref, safe='/')}"
    return RedirectResponse(f"{back}#voted={quote(ref, safe='')}", status_code=303)


@api.get("/papers/{ref:path}/similar", response_model=list[PaperOut])
def api_similar(request: Request, ref: str, store: StoreDep, user: UserDep) -> list[PaperOut]:
    """The papers most similar to this one."""
    detail = paper_detail(request, store, ref, user=user)
    return [paper_out(request, v, user) for v in detail.similar]


@api.get("/papers/{ref:path}", response_model=PaperDetailOut)
def api_paper(request: Request, ref: str, store: StoreDep, user: UserDep) -> PaperDetailOut:
    """One paper by id, arXiv id or URL, or DOI, with the models, datasets and Spaces that
    cite it on Hugging Face."""
    (view,) = views(store, [find_paper(store, ref)], user, utcnow())
    return paper_detail_out(request, view, user, store.hub_links(view.paper.pk or 0))


@api.post("/papers/{ref:path}/vote", response_model=VoteOut)
def api_vote(ref: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> VoteOut:
    """Upvote a paper (once per user)."""
    votes, voted = cast_vote(store, ref, user=user, up=True)
    return VoteOut(votes=votes, voted=voted)


@api.delete("/papers/{ref:path}/vote", response_model=VoteOut)
def api_unvote(ref: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> VoteOut:
    """Withdraw your upvote."""
    votes, voted = cast_vote(store, ref, user=user, up=False)
    return VoteOut(votes=votes, voted=voted)


feature = Feature(
    name="papers",
    routers=(router, api),
    cached=("/papers/{ref:path}", "/api/papers/{ref:path}/similar", "/api/papers/{ref:path}"),
)
