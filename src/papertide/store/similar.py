"""Store methods for similar-paper lists computed by the search service and kept for reuse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from papertide.store.schema import similar_lists
from papertide.store.writer import writing

# One list entry: (paper pk, score, reasons).
SimilarItem = tuple[int, float, list[str]]


@dataclass(frozen=True, slots=True)
class SimilarList:
    """A paper's stored similar papers, best first, and how they were computed."""

    model: str
    computed: datetime
    items: list[SimilarItem]


class SimilarMixin:
    """Similar-paper lists; mixed into Store, which provides ``engine``."""

    engine: Engine

    def similar_list(self, paper_pk: int) -> SimilarList | None:
        """The stored list of ``paper_pk``, if one was computed."""
        query = select(similar_lists).where(similar_lists.c.paper_pk == paper_pk)
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            return None
        items: list[Any] = row["items"]
        return SimilarList(
            row["model"], row["computed"], [(int(p), float(s), list(w)) for p, s, w in items]
        )

    def save_similar(
        self, paper_pk: int, *, model: str, items: list[SimilarItem], now: datetime
    ) -> None:
        """Keep (replace) the list of ``paper_pk``; a paper deleted meanwhile is skipped."""
        row = {
            "paper_pk": paper_pk,
            "model": model,
            "computed": now,
            "items": [[p, s, w] for p, s, w in items],
        }
        try:
            with writing(self.engine) as conn:
                conn.execute(delete(similar_lists).where(similar_lists.c.paper_pk == paper_pk))
                conn.execute(insert(similar_lists), row)
        except IntegrityError:
            # Another process saved the same paper's list a moment earlier (equally fresh), or
            # the paper is gone: either way there is nothing to keep.
            return

    def clear_similar(self) -> int:
        """Forget every stored list (after the index was rebuilt); returns how many."""
        with writing(self.engine) as conn:
            return conn.execute(delete(similar_lists)).rowcount
