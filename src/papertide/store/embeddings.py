"""Embeddings kept in the database: computed once by whichever process indexes a paper
first, loaded by every other process and node (they never embed that paper again)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from papertide.store.dialects import insert_of
from papertide.store.schema import paper_embeddings, papers

_CHUNK = 500  # pks per IN (...) list


@dataclass(frozen=True, slots=True)
class StoredEmbedding:
    """One paper's vector (float16 bytes) and its passages' (n x dim float16), if any."""

    paper_pk: int
    text_hash: str
    dim: int
    vector: bytes
    passages: bytes | None = None


class EmbeddingMixin:
    """Stored embeddings; mixed into Store, which provides ``engine``."""

    engine: Engine

    def load_embeddings(self, pks: Sequence[int], *, model: str) -> dict[int, StoredEmbedding]:
        """The stored embeddings of ``pks`` under ``model`` (missing ones left out)."""
        found: dict[int, StoredEmbedding] = {}
        wanted = list(dict.fromkeys(pks))
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _CHUNK):
                query = select(paper_embeddings).where(
                    paper_embeddings.c.model == model,
                    paper_embeddings.c.paper_pk.in_(wanted[start : start + _CHUNK]),
                )
                for row in conn.execute(query).mappings():
                    found[row["paper_pk"]] = StoredEmbedding(
                        row["paper_pk"],
                        row["text_hash"],
                        row["dim"],
                        bytes(row["vector"]),
                        bytes(row["passages"]) if row["passages"] is not None else None,
                    )
        return found

    def save_embeddings(self, rows: Sequence[StoredEmbedding], *, model: str) -> int:
        """Keep (or replace) embeddings; papers deleted meanwhile are skipped. Returns how
        many were written. Two processes saving the same paper at once both succeed: the
        values are the same (one model, one text)."""
        if not rows:
            return 0
        with self.engine.connect().execution_options(papertide_write=True) as conn, conn.begin():
            pks = [r.paper_pk for r in rows]
            alive: set[int] = set()
            for start in range(0, len(pks), _CHUNK):
                query = select(papers.c.pk).where(papers.c.pk.in_(pks[start : start + _CHUNK]))
                alive.update(conn.scalars(query))
            values: list[dict[str, Any]] = [
                {
                    "paper_pk": r.paper_pk,
                    "model": model,
                    "text_hash": r.text_hash,
                    "dim": r.dim,
                    "vector": r.vector,
                    "passages": r.passages,
                }
                for r in rows
                if r.paper_pk in alive
            ]
            if not values:
                return 0
            statement = insert_of(conn)(paper_embeddings)
            statement = statement.on_conflict_do_update(
                index_elements=["paper_pk", "model"],
                set_={
                    name: statement.excluded[name]
                    for name in ("text_hash", "dim", "vector", "passages")
                },
            )
            conn.execute(statement, values)
            return len(values)

    def count_embeddings(self, *, model: str) -> int:
        """How many papers have an embedding under ``model``."""
        query = select(func.count()).where(paper_embeddings.c.model == model)
        with self.engine.connect() as conn:
            return int(conn.scalar(query.select_from(paper_embeddings)) or 0)
