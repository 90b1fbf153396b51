"""The vector index of ``search.vector_backend = 'pgvector'``: the same calls as VectorIndex
(search/vectors.py), answered by PostgreSQL (store/pgvectors.py), so a web node keeps no
vector files and every node searches one shared HNSW index."""

from __future__ import annotations

import logging
import re
from typing import Any

from papertide.search.embedders import Vectors
from papertide.search.settings import SearchSettings
from papertide.store.pgvectors import PgVectorTable

log = logging.getLogger(__name__)


def knobs_of(index: str) -> str:
    """ "m=24, ef_construction=128" from an index name that carries them."""
    found = re.search(r"_hnsw_m(\d+)_ef(\d+)$", index)
    return f"m={found[1]}, ef_construction={found[2]}" if found else index


class PgVectorIndex:
    """VectorIndex's interface over a pgvector table (writes go straight to the database)."""

    in_memory = False  # nothing to reload when another process commits
    reset = False
    approximate = True

    def __init__(self, table: PgVectorTable, *, ef_search: int, ef_search_papers: int) -> None:
        self.table = table
        self.ef_search = ef_search
        self.ef_search_papers = ef_search_papers
        self._indexed = False  # the HNSW index exists (known once seen)
        table.ensure()

    def set_depth(self, ef_search: int, ef_papers: int) -> None:
        """Search few-word queries at ``ef_search`` and papers as queries at ``ef_papers``
        (hnsw.ef_search) from now on."""
        self.ef_search, self.ef_search_papers = ef_search, ef_papers

    @property
    def model(self) -> str:
        """The embedding model the table holds."""
        return self.table.model

    @property
    def dim(self) -> int:
        """The vectors' dimension."""
        return self.table.dim

    def __len__(self) -> int:
        return self.table.count()

    def __contains__(self, pk: int) -> bool:
        return self.table.has(pk)

    def upsert(self, pks: list[int], vectors: Vectors, *, embedded: set[int] | None = None) -> None:
        """Add or replace the vectors of ``pks`` in the shared table. Only those this
        process embedded (``embedded``; None: all) are written over a row; the others came
        from the store, their row written by the process that embedded them, and are only
        added where the table lacks them, without touching (or locking) any row."""
        if embedded is None:
            self.table.upsert(pks, vectors)
            return
        mine = [i for i, pk in enumerate(pks) if pk in embedded]
        rest = [i for i, pk in enumerate(pks) if pk not in embedded]
        if mine:
            self.table.upsert([pks[i] for i in mine], vectors[mine])
        if rest:
            self.table.add_missing([pks[i] for i in rest], vectors[rest])

    def delete(self, pks: list[int], *, from_ann: bool = True) -> None:
        """Forget the vectors of ``pks``."""
        self.table.delete(pks)

    def search(
        self, query: Vectors, k: int, *, exact: bool = False, paper: bool = False
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest pks to a unit ``query`` with their cosine similarity; ``paper``
        says the query is a paper's own vector (similar papers), which needs less depth."""
        if k <= 0:
            return []
        ef = self.ef_search_papers if paper else self.ef_search
        return self.table.search(query, k, ef_search=ef, exact=exact)

    def near_paper(
        self, pk: int, k: int, also: list[int]
    ) -> tuple[list[tuple[int, float]], dict[int, float]] | None:
        """A stored paper's ``k`` nearest pks with their cosines, and the cosines of the
        pks of ``also`` not among them, in one round trip; None when it has no vector."""
        return self.table.near_paper(pk, k, also, ef_search=self.ef_search_papers)

    def get(self, pks: list[int]) -> Vectors:
        """The vectors of ``pks`` as float32 rows (zeros for unknown pks)."""
        return self.table.get(pks)

    def cosines(self, pks: list[int], query: Vectors) -> list[float]:
        """The cosine of each of ``pks`` with a unit ``query``, computed in PostgreSQL."""
        return self.table.cosines(pks, query)

    def exact_many(self, queries: Vectors, k: int) -> list[list[int]]:
        """Exact top-``k`` pks for many queries (for recall checks)."""
        return [[pk for pk, _ in self.search(q, k, exact=True)] for q in queries]

    def graph_wanted(self) -> bool:
        """Whether the table still lacks an HNSW index (a first load runs without it).

        An index built by a node with other knobs serves this one too (a warning says so,
        once): building this node's own would drop the other's, and that node would then
        build its own again, and so on."""
        if not self._indexed:
            self._indexed = self.table.has_index()
            if self._indexed:
                self._warn_if_other_knobs()
        return not self._indexed

    def build_graph(self, *, replace: bool = False) -> None:
        """Build the HNSW index inside PostgreSQL (once, for every node); ``replace``
        (`papertide reindex`) builds this node's knobs' index even when one with other
        knobs exists, and drops that one."""
        self.table.ensure_index(replace=replace)
        self._indexed = True
        self._warn_if_other_knobs()

    def _warn_if_other_knobs(self) -> None:
        used = self.table.index_in_use()
        if used is not None and used != self.table.index:
            log.warning(
                "pgvector: the shared HNSW index was built with %s; this node is set to "
                "%s and searches the shared one. To change it for every node, run "
                "`papertide reindex` with the new settings, then set them on every node.",
                knobs_of(used),
                knobs_of(self.table.index),
            )

    def flush(self) -> None:
        """Nothing to write: every upsert committed."""

    def close(self) -> None:
        """Nothing to let go of (connections belong to the store's pool)."""

    def clear(self) -> None:
        """The table is shared by every node: a rebuild never empties it."""

    def size_on_disk(self) -> int:
        """No local files."""
        return 0


def open_pg_index(engine: Any, *, model: str, dim: int, config: SearchSettings) -> PgVectorIndex:
    """The pgvector index of ``model`` on the store's engine (created when missing), with
    the HNSW knobs of ``config``."""
    table = PgVectorTable(
        engine,
        model=model,
        dim=dim,
        m=config.pg_hnsw_m,
        ef_construction=config.pg_hnsw_ef_construction,
    )
    return PgVectorIndex(
        table, ef_search=config.pg_ef_search, ef_search_papers=config.pg_ef_search_papers
    )
