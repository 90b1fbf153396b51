"""The HNSW graph of a VectorIndex (search/vectors.py), built and checked: in place when the
rows call for one, or apart from the index (from a snapshot of its rows, so that no lock need
be held while it takes) and then attached; and the saved graph's audit for rows no search
reaches, also apart, whose finds are then recorded as its orphans. Mixed into VectorIndex."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from papertide.search.arrays import RowOfKey
from papertide.search.embedders import Vectors
from papertide.search.graph import Graph, Keys
from papertide.search.graph_files import rows_token


@dataclass(frozen=True)
class GraphRows:
    """A snapshot of a vector folder's rows, for a graph built apart from the index."""

    keys: Keys
    vectors: npt.NDArray[np.float16]
    token: str


class GraphUpkeepMixin:
    """The graph built in place when wanted, or apart and attached; the saved one audited
    apart. VectorIndex provides the rows."""

    folder: Path
    dim: int
    ann_threshold: int
    ef_search: int | None
    ef_search_papers: int
    _row: RowOfKey
    _graph: Graph | None
    _delta: tuple[npt.NDArray[np.int64], Vectors] | None

    if TYPE_CHECKING:

        @property
        def _keys(self) -> Keys: ...
        @property
        def _vectors(self) -> npt.NDArray[np.float16]: ...

    def _build_graph(self) -> None:
        if self.graph_wanted():
            self._graph = Graph.build(
                self.folder,
                self._keys,
                self._vectors,
                ef_search=self.ef_search,
                ef_papers=self.ef_search_papers,
            )
            self._delta = None

    def graph_wanted(self) -> bool:
        """Whether the rows call for an HNSW graph they do not have yet."""
        return self._graph is None and len(self._row) > self.ann_threshold

    def graph_rows(self) -> GraphRows:
        """The rows as they are now, for a graph built apart (``build_graph_apart``): the
        keys copied, the vectors shared (rows are only ever appended, never changed)."""
        return GraphRows(self._keys.copy(), self._vectors, rows_token(self.folder))

    def build_graph_apart(self, rows: GraphRows) -> Graph:
        """A graph of ``rows``, built without touching this index, so no lock need be held;
        hand it to ``attach_graph`` afterwards."""
        graph = Graph.build(
            self.folder,
            rows.keys,
            rows.vectors,
            ef_search=self.ef_search,
            ef_papers=self.ef_search_papers,
        )
        graph.rows_token = rows.token
        return graph

    def attach_graph(self, graph: Graph) -> bool:
        """Adopt a graph from ``build_graph_apart`` (the next flush folds in the rows written
        since and saves it); False when the rows were renumbered meanwhile or one exists."""
        if self._graph is not None or graph.rows_token != rows_token(self.folder):
            return False
        if graph.covered > len(self._keys):
            return False
        graph.recount(self._keys)
        self._graph, self._delta = graph, None
        return True

    def audit_wanted(self) -> bool:
        """Whether the saved graph was folded into since every row was last checked for a
        path to it (see Graph.absorb)."""
        graph = self._graph
        return graph is not None and graph.saved and not graph.audited

    def stranded_apart(self, rows: GraphRows) -> tuple[int, Keys] | None:
        """The saved graph's version and the pks of ``rows`` that no search of it reaches
        (beyond its orphans), checked on a mapping of its own, so no lock need be held;
        hand them to ``adopt_orphans`` afterwards. None when the saved graph (the newest:
        another process may have checked it already) needs no check."""
        graph = Graph.load(
            self.folder,
            rows.keys,
            dim=self.dim,
            ef_search=self.ef_search,
            ef_papers=self.ef_search_papers,
        )
        if graph is None or graph.audited or graph.rows_token != rows.token:
            return None
        return graph.version, graph.stranded(rows.keys, rows.vectors)

    def adopt_orphans(self, version: int, pks: Keys) -> bool:
        """Record the rows ``stranded_apart`` found as the graph's orphans, saved as a new
        version (the links unchanged); False when the graph changed meanwhile."""
        graph = self._graph
        if graph is None or not graph.saved or graph.version != version:
            return False
        graph.add_orphans(pks)
        return True
