"""For you: recommendations from the reader's upvotes and saved papers, by the digest's own
model (mail/recommend.py: tf-idf and one logistic regression per reader), each with its
reason; "not interested" removes a paper and becomes a weighted negative for the model.

Candidates are the papers of the FOR_YOU_DAYS days up to the newest day (at most
MAX_CANDIDATES, the newest); their tf-idf space is built once per process and rebuilt
when papers were added or the newest day moved.

Pages at ``/for-you`` (with "Not interested" forms), JSON at ``/api/for-you`` and
``/api/papers/ID/dismiss``, both through ``for_you`` and ``not_interested``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel

from papertide.clock import utcnow
from papertide.mail.recommend import TfidfSpace, recommend
from papertide.models import Hit, Paper, User
from papertide.store import Store
from papertide.store import subscriptions as subs
from papertide.web.access import login_first, safe_next
from papertide.web.api_route import api_router
from papertide.web.deps import CsrfDep, RequiredUserDep, StoreDep, TemplatesDep, UserDep
from papertide.web.display import PaperView, find_paper, hits_to_views
from papertide.web.feature import Feature, NavLink
from papertide.web.schemas import FeedOut, paper_out

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API
api = api_router()
FOR_YOU_DAYS = 30
MAX_CANDIDATES = 5000
SHOWN = 30
KEPT_READERS = 256  # readers whose last recommendations each process keeps
_LOCK = threading.Lock()


@dataclass(slots=True)
class ForYou:
    """What the For you page shows."""

    papers: list[PaperView] = field(default_factory=list)
    upvoted: int = 0
    saved: int = 0
    dismissed: int = 0
    days: int = FOR_YOU_DAYS


@dataclass(slots=True)
class _Space:
    key: tuple[object, ...]
    candidates: list[Paper]
    space: TfidfSpace


def _candidates(request: Request, store: Store) -> _Space:
    """The window's papers and their tf-idf space, reused while nothing was added."""
    latest = store.latest_day() or utcnow().date()
    start = latest - timedelta(days=FOR_YOU_DAYS)
    key = (start, latest, store.max_paper_pk(), store.count_papers())
    with _LOCK:
        kept: _Space | None = getattr(request.app.state, "for_you_space", None)
        if kept is not None and kept.key == key:
            return kept
        found = subs.papers_between(
            store,
            start=datetime.combine(start, time()),
            end=datetime.combine(latest + timedelta(days=1), time()),
        )[-MAX_CANDIDATES:]
        kept = _Space(key, found, TfidfSpace(found))
        request.app.state.for_you_space = kept
        return kept


def _reasons(hit: Hit, upvoted: set[int], titles: dict[str, int]) -> list[str]:
    """ "like: <title>" plus whether the reader upvoted or saved that paper."""
    out = []
    for why in hit.why:
        pk = titles.get(why.removeprefix("like: "))
        how = "you upvoted it" if pk in upvoted else "you saved it"
        out.append(f"{why} ({how})" if pk is not None else why)
    return out


def for_you(request: Request, store: Store, user: User, *, k: int = SHOWN) -> ForYou:
    """The reader's recommendations, best first, each saying which of their papers it is like."""
    voted, saved = store.user_votes(user.pk), store.user_saved(user.pk)
    dismissed = store.user_dismissed(user.pk)
    result = ForYou(upvoted=len(voted), saved=len(saved), dismissed=len(dismissed))
    liked = subs.papers_by_pk(store, [*voted, *saved])
    if not liked:
        return result
    window = _candidates(request, store)
    key = (user.pk, k, window.key, tuple(voted), tuple(saved), tuple(dismissed))
    kept: OrderedDict[tuple[object, ...], list[Hit]] = _kept(request)
    hits = kept.get(key)
    if hits is None:
        dislikes = list(subs.papers_by_pk(store, dismissed).values())
        found = recommend(
            window.space,
            window.candidates,
            list(liked.values()),
            k=k,
            seed=user.pk,
            dislikes=dislikes,
        )
        titles = {p.title: pk for pk, p in liked.items()}
        hits = [Hit(h.paper_id, h.score, _reasons(h, set(voted), titles)) for h in found]
        with _LOCK:
            kept[key] = hits
            while len(kept) > KEPT_READERS:
                kept.popitem(last=False)
    result.papers = hits_to_views(store, hits, user)
    return result


def _kept(request: Request) -> OrderedDict[tuple[object, ...], list[Hit]]:
    """The process's last recommendations per reader, keyed on everything they depend on
    (the candidates, the reader's votes, saves and dismissals): a repeat visit is a lookup."""
    with _LOCK:
        kept = getattr(request.app.state, "for_you_kept", None)
        if kept is None:
            kept = request.app.state.for_you_kept = OrderedDict()
        return kept


def not_interested(store: Store, paper: Paper, *, user: User, undo: bool = False) -> bool:
    """Record (or take back) "not interested" in a paper; True when that changed anything."""
    assert paper.pk is not None
    if undo:
        return store.undismiss(user_pk=user.pk, paper_pk=paper.pk)
    return store.dismiss(user_pk=user.pk, paper_pk=paper.pk, now=utcnow())


class DismissOut(BaseModel):
    """Whether a paper is now marked "not interested"."""

    paper_id: str
    dismissed: bool


@router.get("/for-you", response_class=HTMLResponse)
def for_you_page(
    request: Request, store: StoreDep, templates: TemplatesDep, user: UserDep
) -> Response:
    """Recommendations from your upvotes and saved papers, each with its reason."""
    if user is None:
        return login_first("/for-you")
    page = for_you(request, store, user)
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
        return login_first("/for-you")
    found = find_paper(store, paper)
    not_interested(store, found, user=user, undo=undo)
    return RedirectResponse(safe_next(next), status_code=303)


@api.get("/for-you", response_model=FeedOut)
def api_for_you(request: Request, store: StoreDep, user: RequiredUserDep) -> FeedOut:
    """Recommendations from your upvotes and saved papers; ``why`` says which it is like."""
    page = for_you(request, store, user)
    return FeedOut(papers=[paper_out(request, v, user) for v in page.papers], page=1)


@api.post("/papers/{ref:path}/dismiss", response_model=DismissOut)
def api_dismiss(ref: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> DismissOut:
    """Not interested: the paper leaves For you and weighs against papers like it."""
    paper = find_paper(store, ref)
    not_interested(store, paper, user=user)
    return DismissOut(paper_id=paper.id or "", dismissed=True)


@api.delete("/papers/{ref:path}/dismiss", response_model=DismissOut)
def api_undismiss(ref: str, store: StoreDep, user: RequiredUserDep, _csrf: CsrfDep) -> DismissOut:
    """Take back a "not interested"."""
    paper = find_paper(store, ref)
    not_interested(store, paper, user=user, undo=True)
    return DismissOut(paper_id=paper.id or "", dismissed=False)


feature = Feature(
    name="for-you",
    routers=(router, api),
    nav=(NavLink("For you", "/for-you", order=50, audience="signed_in"),),
)
