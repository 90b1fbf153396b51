"""Store methods for similar-paper lists computed by the search service and kept for reuse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, insert, select, text
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
    position: int | None = None  # the change-feed horizon of the index that ranked them


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
            row["model"],
            row["computed"],
            [(int(p), float(s), list(w)) for p, s, w in items],
            row["position"],
        )

    def save_similar(
        self,
        paper_pk: int,
        *,
        model: str,
        items: list[SimilarItem],
        now: datetime,
        position: int | None = None,
    ) -> bool:
        """Keep (replace) the list of ``paper_pk``, unless the stored one was ranked by an
        index further along the change feed (``position``) under the same model: a node
        that lags never overwrites a fresher node's list (a list saved without a position,
        by hand, always replaces). A paper deleted meanwhile is
        skipped. Returns whether the list was written."""
        row = {
            "paper_pk": paper_pk,
            "model": model,
            "computed": now,
            "items": [[p, s, w] for p, s, w in items],
            "position": position,
        }
        try:
            with writing(self.engine) as conn:
                if conn.dialect.name == "postgresql":
                    # A list is derived data, recomputed on view when missing: its commit
                    # need not wait for the WAL flush (PostgreSQL docs, "Asynchronous
                    # Commit": a crash may lose the last such commits, never half of one).
                    conn.execute(text("SET LOCAL synchronous_commit = off"))
                found = conn.execute(
                    select(similar_lists.c.model, similar_lists.c.position).where(
                        similar_lists.c.paper_pk == paper_pk
                    )
                ).first()
                if (
                    found is not None
                    and found.model == model
                    and found.position is not None
                    and position is not None
                    and found.position > position
                ):
                    return False
                conn.execute(delete(similar_lists).where(similar_lists.c.paper_pk == paper_pk))
                conn.execute(insert(similar_lists), row)
                return True
        except IntegrityError:
            # Another process saved the same paper's list a moment earlier (equally fresh), or
            # the paper is gone: either way there is nothing to keep.
            return False

    def clear_similar(self) -> int:
        """Forget every stored list (after the index was rebuilt); returns how many."""
        with writing(self.engine) as conn:
            return conn.execute(delete(similar_lists)).rowcount
