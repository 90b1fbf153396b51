"""Dense vectors on disk, keyed by paper pk: exact search for small collections, an HNSW
graph (usearch; Malkov & Yashunin 2018; search/graph.py) above a threshold.

Files in the folder: meta.json (model name, dimension), keys.i64 and vectors.f16 (row i of
one is the pk of row i of the other; pk -1 marks a row that was replaced or deleted), and the
graph's files (search/graph.py). Vectors are stored with their model's name: opening the
folder with another model empties it, so spaces are never mixed. Readers map both the rows
and the graph read-only, so the web workers of one machine share one copy of each.

The HNSW graph holds the vectors minus a fixed center c (half the mean vector when the
graph was built) and searches by inner product. For a unit query q, q.(d - c) = q.d - q.c:
the same order as the cosine q.d, so the exact answer is unchanged, and q.c is added back
to report cosines. The graph navigates far better: mean-pooled static embeddings share one
dominant direction (generated papers: mean vector of length 0.92, cosine 0.84 between two
random papers; SciFact abstracts: 0.53 and 0.29), so under cosine every paper is nearly as
far from every other, and a short query, which lies outside that narrow cone, gets lost.
Removing the whole mean helps short queries but hurts papers used as queries (similar
papers), whose own large share of the mean direction then pulls the search off course; half
the mean serves both (see graph_params.new_ann for the sweep).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from papertide.search.arrays import GrowingArray, RowOfKey, dot_rows
from papertide.search.embedders import Vectors
from papertide.search.graph import DEAD, Graph, Keys
from papertide.search.graph_files import new_rows_epoch, remove_graph
from papertide.search.graph_upkeep import GraphUpkeepMixin

log = logging.getLogger(__name__)

_DEAD = DEAD
# Fold the rows written since the graph's save into it (a new saved version) once this many
# changed: they are searched exactly until then (20k rows: about 1 ms a query), and each fold
# costs a load and a save of the graph (at 1M vectors, a second or two each).
_ANN_MERGE = 20_000
# Rows from which a flush maps the file rather than keep them in memory (see flush).
_MAP_AFTER_FLUSH = 65_536
_SCAN_ROWS = 8_192


class VectorIndex(GraphUpkeepMixin):
    """Unit vectors by pk, with cosine top-k search (exact or approximate)."""

    def __init__(
        self,
        folder: Path,
        *,
        model: str,
        dim: int,
        ann_threshold: int,
        ef_search: int | None = None,
        ef_search_papers: int = 256,
    ) -> None:
        self.folder = folder
        self.model = model
        self.dim = dim
        self.ann_threshold = ann_threshold
        self.ef_search = ef_search  # None: the graph's auto_ef of its size
        self.ef_search_papers = ef_search_papers
        self.reset = False
        # Deferred: upserts never build the HNSW graph; the owner builds it when it suits
        # (search/follow.py: after a generation is live, outside the folder lock).
        self.deferred = False
        self._key_rows = GrowingArray(np.int64)
        self._vector_rows = GrowingArray(np.float16, (dim,))
        self._row = RowOfKey()
        self._exact: Vectors | None = None
        self._graph: Graph | None = None
        self._delta: tuple[npt.NDArray[np.int64], Vectors] | None = None  # rows, float32
        self._flushed = 0  # rows already in the files
        self._dead_rows: list[int] = []  # rows below _flushed marked dead since the flush
        self._rewrite = True  # the files must be written whole (new, cleared, compacted)

    @classmethod
    def open(
        cls,
        folder: Path,
        *,
        model: str,
        dim: int,
        ann_threshold: int,
        ef_search: int | None = None,
        ef_search_papers: int = 256,
    ) -> VectorIndex:
        """Open the vectors in ``folder``; a different model or size empties it (``reset``)."""
        index = cls(
            folder,
            model=model,
            dim=dim,
            ann_threshold=ann_threshold,
            ef_search=ef_search,
            ef_search_papers=ef_search_papers,
        )
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else None
        if meta != {"model": model, "dim": dim} or not (folder / "keys.i64").is_file():
            index.reset = meta is not None and meta != {"model": model, "dim": dim}
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            meta_path.write_text(json.dumps({"model": model, "dim": dim}))
            return index
        keys = np.fromfile(folder / "keys.i64", dtype=np.int64)
        vectors = _mapped_rows(folder / "vectors.f16", dim)
        rows = min(len(keys), len(vectors))  # a flush cut short: its commit never happened
        index._set_rows(keys[:rows], vectors[:rows])
        index._flushed, index._rewrite = rows, rows != len(keys) or rows != len(vectors)
        live = np.flatnonzero(index._keys != _DEAD)
        index._row = RowOfKey.of(index._keys[live], live)
        index._graph = Graph.load(
            folder, index._keys, dim=dim, ef_search=ef_search, ef_papers=index.ef_search_papers
        )
        if index._graph is None and len(index._row) > ann_threshold:
            # No graph for these rows (a folder of an earlier layout, or a save cut short):
            # searched exactly (correct, slower) until the next write builds and saves one.
            # Readers never write: rebuilding in every web process would stall each.
            log.warning("vectors: no saved HNSW graph for these rows; built on the next write")
        return index

    @property
    def _keys(self) -> Keys:
        return self._key_rows.view

    @property
    def _vectors(self) -> npt.NDArray[np.float16]:
        return self._vector_rows.view

    def _set_rows(self, keys: Keys, vectors: npt.NDArray[np.float16]) -> None:
        """Replace every row (the arrays become the buffers)."""
        self._key_rows.replace(keys)
        self._vector_rows.replace(vectors)

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, pk: int) -> bool:
        return pk in self._row

    def present(self, pks: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Whether each of ``pks`` has a vector here."""
        return self._row.get(pks) >= 0

    @property
    def approximate(self) -> bool:
        """Whether searches go through the HNSW graph."""
        return self._graph is not None

    @property
    def text_depth(self) -> int | None:
        """The HNSW depth a few-word query searches at now (None: searched exactly)."""
        return self._graph.text_ef if self._graph is not None else None

    @property
    def orphans(self) -> int:
        """How many vectors the graph holds that no search of it reaches (scored exactly)."""
        return len(self._graph.orphans) if self._graph is not None else 0

    def set_depth(self, ef_search: int | None, ef_papers: int) -> None:
        """Search few-word queries at ``ef_search`` (None: the graph's auto_ef) and papers
        as queries at ``ef_papers`` from now on."""
        self.ef_search, self.ef_search_papers = ef_search, ef_papers
        if self._graph is not None:
            self._graph.set_depth(ef_search, ef_papers)

    def upsert(self, pks: list[int], vectors: Vectors) -> None:
        """Add or replace the vectors of ``pks`` (in the rows; the graph folds them in at a
        later flush, and searches them exactly until then)."""
        if not pks:
            return
        keys = np.asarray(pks, dtype=np.int64)
        if len(np.unique(keys)) != len(keys):  # a pk twice: its last vector wins
            last = np.sort(len(keys) - 1 - np.unique(keys[::-1], return_index=True)[1])
            keys, vectors = keys[last], vectors[last]
        self.delete(pks)
        start = self._key_rows.size
        self._key_rows.extend(keys)
        self._vector_rows.extend(vectors.astype(np.float16))
        self._row.set(keys, np.arange(start, start + len(keys)))
        self._exact = self._delta = None
        if not self.deferred:
            self._build_graph()

    def delete(self, pks: list[int]) -> None:
        """Forget the vectors of ``pks`` (unknown pks are ignored)."""
        rows = self._row.pop(np.unique(np.asarray(pks, dtype=np.int64)))
        if len(rows):
            self._keys[rows] = _DEAD
            self._dead_rows += rows[rows < self._flushed].tolist()
            self._exact = self._delta = None
        if self._graph is not None:
            self._graph.forget(pks)

    def close(self) -> None:
        """Let go of the graph and the rows' mapping (the object is done)."""
        self._graph = self._delta = self._exact = None

    def clear(self) -> None:
        """Forget every vector."""
        self._set_rows(np.zeros(0, dtype=np.int64), np.zeros((0, self.dim), dtype=np.float16))
        self._row, self._exact, self._graph, self._delta = RowOfKey(), None, None, None
        self._rewrite, self._dead_rows = True, []
        remove_graph(self.folder)

    def get(self, pks: list[int]) -> Vectors:
        """The vectors of ``pks`` as float32 rows (zeros for unknown pks).

        Rows the saved graph holds are read from the graph's file, which searches touch
        anyway, rather than from the rows file: a served index then keeps one copy of the
        vectors in memory, not two (at 1M, the rows file is 512 MB). The graph's copy is
        the row less the center, in half precision: cosines agree within 3e-5."""
        keys = np.asarray(pks, dtype=np.int64)
        rows = self._row.get(keys)
        out = np.zeros((len(pks), self.dim), dtype=np.float32)
        known = rows >= 0
        graph = self._graph
        if graph is not None and graph.saved:  # a live row below covered is in the graph
            held = known & (rows < graph.covered)
            if held.any():
                out[held] = graph.vectors(keys[held])
                known &= ~held
        out[known] = self._vectors[rows[known]]  # one gather (passages ask ~1,500 a query)
        return out

    def cosines(self, pks: list[int], query: Vectors) -> list[float]:
        """The cosine of each of ``pks`` with a unit ``query`` (0 for unknown pks)."""
        return [float(s) for s in dot_rows(self.get(pks), query)]

    def search(
        self, query: Vectors, k: int, *, exact: bool = False, paper: bool = False
    ) -> list[tuple[int, float]]:
        """The ``k`` nearest pks to a unit ``query`` vector with their cosine similarity
        (``paper``: a paper's own vector is the query, searched at ``ef_search_papers``)."""
        if not len(self._row) or k <= 0:
            return []
        query = query.astype(np.float32)
        if self._graph is not None and not exact:
            hits = self._graph.search(query, k, paper=paper)
            rows, delta = self._delta_rows()
            if len(rows):
                scores = dot_rows(delta, query)
                nearest = np.argsort(-scores)[:k]
                hits += [(int(self._keys[rows[i]]), float(scores[i])) for i in nearest]
                hits.sort(key=lambda hit: -hit[1])
            return hits[:k]
        scores = self._scores(query)
        scores[self._keys == _DEAD] = -np.inf
        top = min(k, len(self._row))
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.argsort(-scores[best])]
        return [(int(self._keys[r]), float(scores[r])) for r in best]

    def near_paper(
        self, pk: int, k: int, also: list[int]
    ) -> tuple[list[tuple[int, float]], dict[int, float]] | None:
        """For a paper with a stored vector: its ``k`` nearest pks with their cosines (as
        ``search(..., paper=True)``) and the cosines of the pks of ``also`` not among them;
        None when ``pk`` has no vector here (the caller embeds the paper)."""
        vector = self.get([pk])[0]
        if not vector.any():
            return None
        near = self.search(vector, k, paper=True)
        found = {p for p, _ in near}
        rest = [p for p in dict.fromkeys(also) if p not in found]
        return near, dict(zip(rest, self.cosines(rest, vector), strict=True))

    def _delta_rows(self) -> tuple[npt.NDArray[np.int64], Vectors]:
        """The rows the graph does not hold yet, with a float32 copy (kept until a change)."""
        if self._delta is None:
            assert self._graph is not None
            rows = self._graph.delta_rows(self._keys)
            self._delta = rows, self._vectors[rows].astype(np.float32)
        return self._delta

    def exact_many(self, queries: Vectors, k: int) -> list[list[int]]:
        """Exact top-``k`` pks for many queries in one chunked pass (for recall checks)."""
        best = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        rows = np.zeros((len(queries), 0), dtype=np.int64)
        for start in range(0, len(self._vectors), 65_536):
            chunk = self._vectors[start : start + 65_536].astype(np.float32)
            scores = queries.astype(np.float32) @ chunk.T
            scores[:, self._keys[start : start + len(chunk)] == _DEAD] = -np.inf
            best = np.concatenate([best, scores], axis=1)
            rows = np.concatenate(
                [rows, np.broadcast_to(np.arange(start, start + len(chunk)), scores.shape)], axis=1
            )
            keep = np.argpartition(-best, min(k, best.shape[1]) - 1, axis=1)[:, :k]
            best, rows = np.take_along_axis(best, keep, 1), np.take_along_axis(rows, keep, 1)
        order = np.argsort(-best, axis=1)
        rows = np.take_along_axis(rows, order, 1)
        return [[int(self._keys[r]) for r in row] for row in rows]

    def flush(self) -> None:
        """Write the changes to disk (compacting away dead rows when they pile up), then
        the graph as a new version when it was built or fell far enough behind."""
        keys_path, vectors_path = self.folder / "keys.i64", self.folder / "vectors.f16"
        dead = len(self._keys) - len(self._row)
        compact = bool(dead) and dead * 4 > len(self._keys)
        graph = self._graph
        fold = graph is not None and (
            compact or self._rewrite or not graph.saved or graph.changes(self._keys) > _ANN_MERGE
        )
        if graph is not None and fold:
            graph.absorb(self._keys, self._vectors)  # now covers every row, in memory
        if compact:
            live = np.flatnonzero(self._keys != _DEAD)
            self._set_rows(self._keys[live], self._vectors[live])
            self._row = RowOfKey.of(self._keys, np.arange(len(live)))
            self._exact, self._delta, self._rewrite = None, None, True
            if graph is not None:
                graph.covered = len(self._keys)
        if self._rewrite:
            # A new file renamed over the old one, never rewritten in place: other
            # processes map the old file's pages, which must stay as they were. The new
            # epoch first: a graph saved for the old numbering is never used with the new.
            new_rows_epoch(self.folder)
            _replace_file(vectors_path, self._vectors)
            _replace_file(keys_path, self._keys)
        else:  # vectors before keys: rows exist once both have them (see open)
            with vectors_path.open("ab") as out:
                out.write(self._vectors[self._flushed :].tobytes())
            with keys_path.open("r+b") as out:
                for row in sorted(set(self._dead_rows)):
                    out.seek(row * 8)
                    out.write(np.int64(_DEAD).tobytes())
                out.seek(self._flushed * 8)
                out.write(self._keys[self._flushed :].tobytes())
        if graph is not None and fold:
            graph.save()  # after the rows it covers, and mapped read-only from here on
            self._delta = None
        self._flushed, self._dead_rows, self._rewrite = len(self._keys), [], False
        if len(self._keys) >= _MAP_AFTER_FLUSH and not isinstance(self._vectors, np.memmap):
            # Every row is in the file now: map it, as the other web workers do, instead of
            # keeping a private copy (512 MB at 1M) in the worker that applied the feed. The
            # next upsert copies the rows back into memory (about 0.2 s at 1M).
            self._vector_rows.replace(_mapped_rows(vectors_path, self.dim)[: len(self._keys)])

    def size_on_disk(self) -> int:
        """Bytes used by this index's files."""
        return sum(p.stat().st_size for p in self.folder.iterdir() if p.is_file())

    def _scores(self, query: Vectors) -> Vectors:
        """Cosine of every row; float32 copy kept while small, chunked scans when large."""
        if len(self._vectors) <= max(self.ann_threshold, 1) * 2:
            if self._exact is None:
                self._exact = self._vectors.astype(np.float32)
            return self._exact @ query
        out = np.empty(len(self._vectors), dtype=np.float32)
        # 8,192 rows (8 MB as float32) a chunk: as fast, and 40 request threads of a web
        # worker searching exactly at once (a new node before its graph) hold 320 MB, not
        # 2.7 GB as with 65,536-row chunks.
        for start in range(0, len(self._vectors), _SCAN_ROWS):
            chunk = self._vectors[start : start + _SCAN_ROWS].astype(np.float32)
            out[start : start + len(chunk)] = chunk @ query
        return out


def _mapped_rows(path: Path, dim: int) -> npt.NDArray[np.float16]:
    """The vectors file memory-mapped read-only: web workers of one machine share its pages
    (the page cache) instead of each holding a copy. Rows are only ever appended to the
    file or the file replaced whole (flush), so a mapping never sees a row change."""
    if path.stat().st_size == 0:
        return np.zeros((0, dim), dtype=np.float16)
    mapped: npt.NDArray[np.float16] = np.memmap(path, dtype=np.float16, mode="r")
    return mapped[: len(mapped) // dim * dim].reshape(-1, dim)


def _replace_file(path: Path, rows: npt.NDArray[Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    rows.tofile(temporary)
    temporary.replace(path)
