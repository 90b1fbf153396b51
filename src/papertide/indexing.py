"""Indexing what was stored: the one entry point that `ingest`, `sync`, `search`, the worker
and the eval use to bring a process's search index up to the store (the web processes
follow the store in the background instead, search/background.py).

The index is a follower of the store's change feed (search/follow.py): this applies every
change committed since the position the index recorded, or builds the first generation.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from papertide.config import Settings
    from papertide.search.service import SearchService
    from papertide.store import Store

Progress = Callable[[int], None]


def index_stored(
    settings: Settings,
    store: Store,
    *,
    progress: Progress | None = None,
    bar: Callable[[int], AbstractContextManager[Progress]] | None = None,
) -> SearchService:
    """Open the search index and apply what was stored since it last looked; the caller
    closes the service it gets back. ``bar(total)``, when given, makes the progress
    callback once the papers to index are counted."""
    from papertide.search.service import SearchService  # numpy, tantivy: only when needed

    svc = SearchService.open(settings, store, catch_up=False)
    try:
        if bar is None:
            svc.refresh(progress)
        else:
            with bar(svc.pending()) as advance:
                svc.refresh(advance)
    except BaseException:
        svc.close()
        raise
    return svc


def index_and_list_similar(settings: Settings, store: Store) -> Indexed:
    """Index what was stored, then compute and keep the similar lists of the papers just
    indexed (the feeds show new papers first), unless another process is writing the index
    (``index_unless_busy``: a `serve` on the same data folder takes them in)."""

    def unseen(total: int) -> AbstractContextManager[Progress]:
        return nullcontext(lambda done: None)

    return index_unless_busy(settings, store, progress=unseen, similar=unseen)


@dataclass(frozen=True, slots=True)
class Indexed:
    """What ``index_unless_busy`` did: papers it indexed, and whether it left the work to
    another process that held the index."""

    papers: int
    busy: bool


def index_unless_busy(
    settings: Settings,
    store: Store,
    *,
    progress: Callable[[int], AbstractContextManager[Progress]],
    similar: Callable[[int], AbstractContextManager[Progress]] | None = None,
) -> Indexed:
    """Bring the search index up to the store, unless another process is writing it (a
    running `papertide serve` following the change feed, a build, another import): then
    return at once, since that process, or the next command that opens the index, applies
    what was stored (a node also computes the similar lists of the recent papers it took
    in, search/background.py). Nothing waits on the folder lock, which a node building or
    catching up its index holds for minutes at 100k papers.

    ``progress(total)`` gives the bar to advance, once the papers to index are known;
    ``similar(total)``, when given, the bar of computing and keeping the similar lists of
    the papers indexed here."""
    from papertide.search.rwlock import IndexBusy
    from papertide.search.service import SearchService

    try:
        svc = SearchService(settings, store, settings.data_dir / "index", wait=False)
    except IndexBusy:
        return Indexed(0, busy=True)
    try:
        with progress(svc.pending()) as advance:
            count = svc.refresh(advance, wait=False)
        busy = count == 0 and (not svc.ready or store.has_changes(svc.position))
        if similar is not None and svc.indexed:
            with similar(len(svc.indexed)) as advance:
                svc.precompute_similar(svc.indexed, advance)
        return Indexed(count, busy)
    finally:
        svc.close()
