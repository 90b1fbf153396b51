"""Search: tokenize, lexical index, embedders, vector index, hybrid fusion, similar papers.

The entry point is ``SearchService`` (service.py), imported lazily here so that settings
can import ``papertide.search.settings`` without pulling in the indexes:

    from papertide.search import SearchService
    svc = SearchService.open(settings, store)
    res = svc.search("sparse attention", k=20, mode="hybrid")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from papertide.search.service import SearchResult, SearchService

__all__ = ["SearchResult", "SearchService"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from papertide.search import service

        return getattr(service, name)
    raise AttributeError(name)
