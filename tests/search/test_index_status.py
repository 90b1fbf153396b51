"""What the search index says of itself (``SearchService.status``, shown by /healthz and the
metrics): ``building`` is true whenever the index is being built or caught up, so a node
that cannot answer searches yet never reads as idle."""

from __future__ import annotations

from papertide.config import Settings
from papertide.search import SearchService
from papertide.store import Store
from tests.support.search_corpus import CORPUS, add_papers


def test_an_index_with_no_generation_yet_says_it_is_building(
    settings: Settings, store: Store
) -> None:
    """A new node before its first build round (the follower's work to come) is building,
    not idle: it was reported idle until the build had created its folder."""
    add_papers(store, settings, CORPUS)
    svc = SearchService.open(settings, store, catch_up=False)
    try:
        status = svc.status()
        assert status["ready"] is False and status["lag"] == len(CORPUS)
        assert status["building"] is True
        svc.refresh()
        status = svc.status()
        assert status["ready"] is True and status["lag"] == 0
        assert status["building"] is False
    finally:
        svc.close()


def test_an_index_behind_the_store_says_it_is_building(settings: Settings, store: Store) -> None:
    """Stored changes not applied yet are a catch-up under way."""
    add_papers(store, settings, CORPUS[:3])
    svc = SearchService.open(settings, store)
    try:
        assert svc.status()["building"] is False
        add_papers(store, settings, CORPUS[3:5])
        status = svc.status()
        assert status["lag"] > 0 and status["building"] is True
        svc.refresh()
        assert svc.status()["building"] is False
    finally:
        svc.close()
