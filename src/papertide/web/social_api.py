"""The JSON API for For you, from the same calls as the
pages. Writes need a session cookie and the CSRF token in ``X-CSRF-Token``, as votes do."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from papertide.web import foryou
from papertide.web.deps import CsrfDep, RequiredUserDep, StoreDep
from papertide.web.display import find_paper
from papertide.web.schemas import FeedOut, paper_out

router = APIRouter(prefix="/api", tags=["api"])


class DismissOut(BaseModel):
    """Whether a paper is now marked "not interested"."""

    paper_id: str
    dismissed: bool


@router.get("/for-you", response_model=FeedOut)
def api_for_you(request: Request, store: StoreDep, user: RequiredUserDep) -> FeedOut:
    """Recommendations from your upvotes and saved papers; ``why`` says which it is like."""
    page = foryou.for_you(request, store, user)
    return FeedOut(papers=[paper_out(request, v, user) for v in page.papers], page=1)


@router.post("/papers/{ref:path}/dismiss", response_model=DismissOut)
def api_dismiss(ref: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> DismissOut:
    """Not interested: the paper leaves For you and weighs against papers like it."""
    paper = find_paper(store, ref)
    foryou.not_interested(store, paper, user=user)
    return DismissOut(paper_id=paper.id or "", dismissed=True)


@router.delete("/papers/{ref:path}/dismiss", response_model=DismissOut)
def api_undismiss(ref: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> DismissOut:
    """Take back a "not interested"."""
    paper = find_paper(store, ref)
    foryou.not_interested(store, paper, user=user, undo=True)
    return DismissOut(paper_id=paper.id or "", dismissed=False)
