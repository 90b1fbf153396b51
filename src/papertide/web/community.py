"""Page logic the HTML and JSON routes share: search, paper detail, votes, profile, submit."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from papertide.clock import utcnow
from papertide.models import User
from papertide.store import Store
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
