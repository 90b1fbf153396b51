"""Page logic the HTML and JSON routes share: search, paper detail, votes, profile, submit."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import User
from papertide.normalize import parse_arxiv_id
from papertide.store import Store
from papertide.submit import SubmitOutcome, resolve_submission
from papertide.web.access import allow
from papertide.web.display import views


def profile(store: Store, username: str, *, viewer: User | None) -> dict[str, Any]:
    """A user's page: their upvotes and submissions."""
    person = store.user_by_name(username)
    if person is None:
        raise HTTPException(status_code=404, detail=f"No user {username!r}.")
    now = utcnow()
    upvoted = views(store, store.papers_by_pk(store.user_votes(person.pk)), viewer, now)
    submitted = views(store, store.papers_by_pk(store.user_submissions(person.pk)), viewer, now)
    own = viewer is not None and viewer.pk == person.pk
    shown = [c for c in store.user_collections(person.pk) if c.public or own]
    return {"person": person, "upvoted": upvoted, "submitted": submitted, "lists": shown}


def submit_paper(
    request: Request, store: Store, settings: Settings, ref: str, *, user: User
) -> SubmitOutcome:
    """Submit by arXiv id or URL: found in the store, or fetched from arXiv; rate-limited."""
    if parse_arxiv_id(ref.strip()) is None:
        return SubmitOutcome(None, False, f"{ref!r} is not an arXiv id or URL (e.g. 2407.02490).")
    if not allow(request, store, settings, "submit"):
        return SubmitOutcome(None, False, "Too many submissions; try again in an hour.")
    outcome = resolve_submission(store, settings, ref.strip())
    if outcome.paper is not None:
        outcome.new = store.record_submission(user=user, paper=outcome.paper, now=utcnow())
        # Searchable here at once (elsewhere within a follow interval); never wait for a
        # build or another process's index write.
        request.app.state.search.refresh(wait=False)
    return outcome
