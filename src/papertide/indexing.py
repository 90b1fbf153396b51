"""Indexing what was stored: the one entry point that `ingest`, `sync`, `search`, the worker
and the eval use to bring a process's search index up to the store (the web processes
follow the store in the background instead, search/background.py).

The index is a follower of the store's change feed (search/follow.py): this applies every
change committed since the position the index recorded, or builds the first generation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from papertide.config import Settings
    from papertide.search.service import SearchService
    from papertide.store import Store

Progress = Callable[[int], None]


def index_stored(
    settings: Settings, store: Store, *, progress: Progress | None = None
) -> SearchService:
    """Open the search index and apply what was stored since it last looked; the caller
    closes the service it gets back."""
    from papertide.search.service import SearchService  # numpy, tantivy: only when needed

    svc = SearchService.open(settings, store, catch_up=False)
    try:
        svc.refresh(progress)
    except BaseException:
        svc.close()
        raise
    return svc


def index_and_list_similar(
    settings: Settings,
    store: Store,
    *,
    progress: Progress | None = None,
) -> int:
    """Index what was stored, then compute and keep the similar lists of the papers just
    indexed (the feeds show new papers first); returns how many papers were indexed."""
    svc = index_stored(settings, store, progress=progress)
    try:
        indexed = list(svc.indexed)
        svc.precompute_similar(indexed)
        return len(indexed)
    finally:
        svc.close()
