"""Atom feeds (RFC 4287): the latest day, trending, and a saved search, for feed readers.

Everything shown comes from the same calls the pages make;
web/atom.py writes it as Atom. Feeds are public and anonymous: no reader's votes, no cookies.
"""

from __future__ import annotations

from typing import Annotated, Protocol
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from papertide.models import Hit
from papertide.web.atom import FEED_SIZE, atom_response
from papertide.web.deps import StoreDep
from papertide.web.display import hits_to_views

router = APIRouter(tags=["feeds"])


class _SearchResult(Protocol):
    hits: list[Hit]


class _Searcher(Protocol):
    def search(self, q: str, k: int = ...) -> _SearchResult: ...


@router.get("/feeds/search.atom", response_class=Response)
def search_feed(
    request: Request,
    store: StoreDep,
    q: Annotated[str, Query(max_length=500, description="The search, as typed on /search.")] = "",
) -> Response:
    """A saved search as a feed: the best matches for ``q``."""
    query = q.strip()
    if not query:
        raise HTTPException(status_code=400, detail="Say what to search for: ?q=sparse+attention")
    searcher: _Searcher | None = getattr(request.app.state, "search", None)
    if searcher is None:
        raise HTTPException(status_code=503, detail="Search is not available on this site.")
    result = searcher.search(query, k=FEED_SIZE)
    shown = hits_to_views(store, result.hits, None)
    return atom_response(
        request,
        title=f"papertide: search for {query}",
        subtitle=f"Papers matching “{query}”, best first.",
        alternate="/search?" + urlencode({"q": query}),
        papers=[view.paper for view in shown],
        empty_updated=None,
    )


__all__ = ["atom_response", "router"]
