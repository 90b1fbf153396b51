"""Store methods for similar-paper lists computed by the search service and kept for reuse."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Engine, delete, or_, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from papertide.store.dialects import insert_of
from papertide.store.schema import similar_lists
from papertide.store.writer import writing, writing_briefly

log = logging.getLogger(__name__)

# One list entry: (paper pk, score, reasons).
SimilarItem = tuple[int, float, list[str]]


@dataclass(frozen=True, slots=True)
class SimilarList:
    """A paper's stored similar papers, best first, and how they were computed."""

    model: str
    computed: datetime
    items: list[SimilarItem]
    position: int | None = None  # the change-feed horizon of the index that ranked them


@cache
def _upsert(insert: Any) -> Any:
    """One statement that saves a list: inserted, or replacing the stored one unless that was
    ranked further along the feed under the same model (returns the pk when written). Built
    once per database (``insert``: store.dialects.insert_of): making ``excluded`` cost a
    fifth of a save."""
    upsert = insert(similar_lists)
    stored, new = similar_lists.c, upsert.excluded
    return upsert.on_conflict_do_update(
        index_elements=[stored.paper_pk],
        set_={name: new[name] for name in ("model", "computed", "items", "position")},
        where=or_(
            stored.model != new.model,
            stored.position.is_(None),
            new.position.is_(None),
            stored.position <= new.position,
        ),
    ).returning(stored.paper_pk)


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
        wait: bool = True,
    ) -> bool:
        """Keep (replace) the list of ``paper_pk``, unless the stored one was ranked by an
        index further along the change feed (``position``) under the same model: a node
        that lags never overwrites a fresher node's list (a list saved without a position,
        by hand, always replaces). A paper deleted meanwhile is skipped; without ``wait``,
        so is a list that another writer's lock (a big import) would hold up for more than
        a moment: it is derived data, computed again on a later view. Returns whether the
        list was written."""
        row = {
            "paper_pk": paper_pk,
            "model": model,
            "computed": now,
            "items": [[p, s, w] for p, s, w in items],
            "position": position,
        }
        try:
            with (writing if wait else writing_briefly)(self.engine) as conn:
                if conn.dialect.name == "postgresql":
                    # A list is derived data, recomputed on view when missing: its commit
                    # need not wait for the WAL flush (PostgreSQL docs, "Asynchronous
                    # Commit": a crash may lose the last such commits, never half of one).
                    conn.execute(text("SET LOCAL synchronous_commit = off"))
                upsert = _upsert(insert_of(conn))
                return conn.execute(upsert, row).first() is not None
        except IntegrityError:
            # The paper is gone: there is nothing to keep.
            return False
        except OperationalError as exc:
            if wait:
                raise
            log.info("similar list of paper %d not stored (the store is busy): %s", paper_pk, exc)
            return False

    def clear_similar(self) -> int:
        """Forget every stored list (after the index was rebuilt); returns how many."""
        with writing(self.engine) as conn:
            return conn.execute(delete(similar_lists)).rowcount
