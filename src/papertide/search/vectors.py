"""Dense vectors on disk, keyed by paper pk: exact search for small collections, an HNSW
index (usearch; Malkov & Yashunin 2018) above a threshold.

Files in the folder: meta.json (model name, dimension), keys.i64 and vectors.f16 (row i of
one is the pk of row i of the other; pk -1 marks a row that was replaced or deleted), and
ann.usearch and center.f32 when the HNSW index is in use. Vectors are stored with their
model's name: opening the folder with another model empties it, so spaces are never mixed.

The HNSW graph holds the vectors minus a fixed center c (half the mean vector when the
graph was built) and searches by inner product. For a unit query q, q.(d - c) = q.d - q.c:
the same order as the cosine q.d, so the exact answer is unchanged, and q.c is added back
to report cosines. The graph navigates far better: mean-pooled static embeddings share one
dominant direction (generated papers: mean vector of length 0.92, cosine 0.84 between two
random papers; SciFact abstracts: 0.53 and 0.29), so under cosine every paper is nearly as
far from every other, and a short query, which lies outside that narrow cone, gets lost.
Removing the whole mean helps short queries but hurts papers used as queries (similar
papers), whose own large share of the mean direction then pulls the search off course; half
the mean serves both (see ``_new_ann`` for the sweep).
"""

from __future__ import annotations

import json
import logging
import shutil
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from papertide.search.arrays import GrowingArray
from papertide.search.embedders import Vectors

log = logging.getLogger(__name__)

_DEAD = -1
_MAX_PENDING = 4  # HNSW batches queued behind the caller at most
# The graph's center is this share of the mean vector (see the module docstring).
_CENTER_SHARE = 0.5
# Save the HNSW snapshot again once this many rows changed since the last save: bounds
# what an open replays (HNSW inserts, ~1 ms each at 1M vectors) and saves per commit.
_ANN_RESAVE = 2_000
Keys = npt.NDArray[np.int64]


class VectorIndex:
    """Unit vectors by pk, with cosine top-k search (exact or approximate)."""

    def __init__(
        self, folder: Path, *, model: str, dim: int, ann_threshold: int, ef_search: int = 1024
    ) -> None:
        self.folder = folder
        self.model = model
        self.dim = dim
        self.ann_threshold = ann_threshold
        self.ef_search = ef_search
        self.reset = False
        # While a whole generation is loaded (search/follow.py), the HNSW graph is built
        # once at the end, over every row with every core, not grown batch by batch.
        self.deferred = False
        self._key_rows = GrowingArray(np.int64)
        self._vector_rows = GrowingArray(np.float16, (dim,))
        self._row: dict[int, int] = {}
        self._exact: Vectors | None = None
        self._ann: Any = None
        self._center: Vectors = np.zeros(dim, dtype=np.float32)  # what the graph subtracts
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hnsw")
        self._pending: list[Future[None]] = []
        self._flushed = 0  # rows already in the files
        self._dead_rows: list[int] = []  # rows below _flushed marked dead since the flush
        self._rewrite = True  # the files must be written whole (new, cleared, compacted)
        self._ann_changes = 0  # rows added to or removed from the HNSW graph since its save

    @classmethod
    def open(
        cls, folder: Path, *, model: str, dim: int, ann_threshold: int, ef_search: int = 1024
    ) -> VectorIndex:
        """Open the vectors in ``folder``; a different model or size empties it (``reset``)."""
        index = cls(folder, model=model, dim=dim, ann_threshold=ann_threshold, ef_search=ef_search)
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
        index._row = dict(zip(index._keys[live].tolist(), live.tolist(), strict=True))
        if (folder / "ann.usearch").is_file() and (folder / "center.f32").is_file():
            index._center = np.fromfile(folder / "center.f32", dtype=np.float32)
            index._ann = _new_ann(dim, ef_search)
            index._ann.load(str(folder / "ann.usearch"))
            index._ann.expansion_search = ef_search
            covered = folder / "ann.rows"  # absent: saved whole with the rows, as it once was
            index._replay_ann(int(covered.read_text()) if covered.is_file() else rows)
        elif (folder / "ann.usearch").is_file():
            # A cosine graph of an earlier version: searched exactly (correct, slower) until
            # the next write, which builds the centred graph and saves it. Readers never
            # write, and rebuilding in every web process would stall each for minutes.
            log.warning(
                "vectors: the HNSW graph predates centring; it is rebuilt on the next write"
            )
        return index

    def _replay_ann(self, covered: int) -> None:
        """Bring a loaded HNSW snapshot up to the rows: drop pks deleted or replaced since
        it was saved, add the rows written after the ``covered`` rows it holds."""
        in_graph = np.asarray(self._ann.keys, dtype=np.int64)
        newer = [r for r in self._row.values() if r >= covered]
        stale = set(in_graph[~np.isin(in_graph, self._keys[:covered])].tolist())
        stale |= {pk for pk in self._keys[newer].tolist() if self._ann.contains(pk)}
        if stale:
            self._ann.remove(sorted(stale))
        if newer:
            rows = np.asarray(sorted(newer))
            self._ann.add(self._keys[rows].astype(np.uint64), self._centred(rows), threads=0)
        self._ann_changes = len(stale) + len(newer)

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

    @property
    def approximate(self) -> bool:
        """Whether searches go through the HNSW index."""
        return self._ann is not None

    def upsert(self, pks: list[int], vectors: Vectors) -> None:
        """Add or replace the vectors of ``pks``."""
        if not pks:
            return
        self.delete(pks, from_ann=False)
        start = self._key_rows.size
        self._key_rows.extend(np.asarray(pks, dtype=np.int64))
        self._vector_rows.extend(vectors.astype(np.float16))
        self._row.update(zip(pks, range(start, start + len(pks)), strict=True))
        self._exact = None
        if self._ann is not None:
            # HNSW inserts run in native code beside the caller's next batch (one worker,
            # so in order); every read and write below waits for them first (_drain).
            while len(self._pending) >= _MAX_PENDING:
                self._pending.pop(0).result()
            self._pending.append(self._worker.submit(self._ann_upsert, pks, vectors))
        elif len(self._row) > self.ann_threshold and not self.deferred:
            self._build_ann()

    def finish_build(self) -> None:
        """End a deferred load: build the HNSW graph now if the rows call for one."""
        self.deferred = False
        if self._ann is None and len(self._row) > self.ann_threshold:
            self._build_ann()

    def _ann_upsert(self, pks: list[int], vectors: Vectors) -> None:
        present = [k for k in pks if self._ann.contains(k)]
        if present:
            self._ann.remove(present)
        self._ann.add(np.asarray(pks, dtype=np.uint64), vectors - self._center, threads=0)
        self._ann_changes += len(pks)

    def _drain(self) -> None:
        while self._pending:
            self._pending.pop(0).result()

    def delete(self, pks: list[int], *, from_ann: bool = True) -> None:
        """Forget the vectors of ``pks`` (unknown pks are ignored)."""
        rows = [self._row.pop(pk) for pk in pks if pk in self._row]
        if rows:
            self._keys[rows] = _DEAD
            self._dead_rows += [r for r in rows if r < self._flushed]
            self._exact = None
        if from_ann and self._ann is not None:
            self._drain()
            present = [k for k in pks if self._ann.contains(k)]
            if present:
                self._ann.remove(present)
                self._ann_changes += len(present)

    def close(self) -> None:
        """Finish queued HNSW inserts and stop the insert thread (the object is done)."""
        self._drain()
        self._worker.shutdown()

    def clear(self) -> None:
        """Forget every vector."""
        self._drain()
        self._set_rows(np.zeros(0, dtype=np.int64), np.zeros((0, self.dim), dtype=np.float16))
        self._row, self._exact, self._ann = {}, None, None
        self._rewrite, self._dead_rows = True, []
        for name in ("ann.usearch", "ann.rows", "center.f32"):
            (self.folder / name).unlink(missing_ok=True)

    def get(self, pks: list[int]) -> Vectors:
        """The vectors of ``pks`` as float32 rows (zeros for unknown pks)."""
        rows = np.fromiter((self._row.get(pk, -1) for pk in pks), dtype=np.int64, count=len(pks))
        out = np.zeros((len(pks), self.dim), dtype=np.float32)
        known = rows >= 0
        out[known] = self._vectors[rows[known]]  # one gather (passages ask ~1,500 a query)
        return out

    def cosines(self, pks: list[int], query: Vectors) -> list[float]:
        """The cosine of each of ``pks`` with a unit ``query`` (0 for unknown pks)."""
        return [float(s) for s in self.get(pks) @ query]

    def search(self, query: Vectors, k: int, *, exact: bool = False) -> list[tuple[int, float]]:
        """The ``k`` nearest pks to a unit ``query`` vector with their cosine similarity."""
        if not self._row or k <= 0:
            return []
        self._drain()
        if self._ann is not None and not exact:
            query = query.astype(np.float32)
            found = self._ann.search(query, min(k, len(self._row)), threads=1)
            shift = 1.0 + float(query @ self._center)  # inner-product distance is 1 - q.(d - c)
            return [
                (int(key), shift - float(d))
                for key, d in zip(found.keys, found.distances, strict=True)
            ]
        scores = self._scores(query.astype(np.float32))
        scores[self._keys == _DEAD] = -np.inf
        top = min(k, len(self._row))
        best = np.argpartition(-scores, top - 1)[:top]
        best = best[np.argsort(-scores[best])]
        return [(int(self._keys[r]), float(scores[r])) for r in best]

    def exact_many(self, queries: Vectors, k: int) -> list[list[int]]:
        """Exact top-``k`` pks for many queries in one chunked pass (for recall checks)."""
        self._drain()
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
        """Write the changes to disk (compacting away dead rows when they pile up)."""
        self._drain()
        keys_path, vectors_path = self.folder / "keys.i64", self.folder / "vectors.f16"
        dead = len(self._keys) - len(self._row)
        if dead and dead * 4 > len(self._keys):
            live = np.flatnonzero(self._keys != _DEAD)
            self._set_rows(self._keys[live], self._vectors[live])
            self._row = dict(zip(self._keys.tolist(), range(len(live)), strict=True))
            self._exact, self._rewrite = None, True
        if self._rewrite:
            # A new file renamed over the old one, never rewritten in place: other
            # processes map the old file's pages, which must stay as they were.
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
        if self._ann is not None and (
            self._rewrite
            or not (self.folder / "ann.usearch").is_file()
            or not (self.folder / "center.f32").is_file()  # replaces a pre-centring graph
            or self._ann_changes > _ANN_RESAVE
        ):
            self._ann.save(str(self.folder / "ann.usearch"))
            self._center.tofile(self.folder / "center.f32")
            (self.folder / "ann.rows").write_text(str(len(self._keys)))
            self._ann_changes = 0
        self._flushed, self._dead_rows, self._rewrite = len(self._keys), [], False

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
        for start in range(0, len(self._vectors), 65_536):
            chunk = self._vectors[start : start + 65_536].astype(np.float32)
            out[start : start + len(chunk)] = chunk @ query
        return out

    def _build_ann(self) -> None:
        """A new HNSW graph of the live rows, centred on half their mean."""
        self._ann = _new_ann(self.dim, self.ef_search)
        live = np.flatnonzero(self._keys != _DEAD)
        total = np.zeros(self.dim, dtype=np.float64)
        for start in range(0, len(live), 65_536):
            total += self._vectors[live[start : start + 65_536]].astype(np.float64).sum(axis=0)
        self._center = (_CENTER_SHARE * total / max(len(live), 1)).astype(np.float32)
        for start in range(0, len(live), 50_000):
            rows = live[start : start + 50_000]
            self._ann.add(self._keys[rows].astype(np.uint64), self._centred(rows), threads=0)

    def _centred(self, rows: npt.NDArray[np.int64]) -> Vectors:
        centred: Vectors = self._vectors[rows].astype(np.float32) - self._center
        return centred


def _new_ann(dim: int, ef_search: int) -> Any:
    """An empty HNSW index: inner product (of centred vectors), half precision, M=32, ef 48
    on insert.

    Recall@10 against exact search (bench search's generated papers, default embedder;
    one-off sweeps over the same vectors), 3-word queries / papers as queries, at ef 1024:
    - 200k, M=32, ef 64 on insert, center = share x mean: share 0 (a plain cosine graph)
      0.923 / 0.995; 0.25: 0.978 / 0.998; 0.5: 0.992 / 0.997; 0.75: 0.995 / 0.992;
      0.9: 0.992 / 0.970; 1 (the whole mean): 0.984 / 0.929. With share 0.5, ef 48 on
      insert: 0.988 / 0.996.
    - 1M, cosine graph, M=32 ef 128 on insert: 0.875 / 0.998; whole mean, ef 64: 0.964
      (ef 128: 0.980) for 3-word queries, 0.815 for papers.
    ef on insert bounds the ingest rate on two cores (inserts cost about in proportion);
    48 keeps both kinds of query well above 0.95.
    """
    from usearch.index import Index

    return Index(
        ndim=dim,
        metric="ip",
        dtype="f16",
        connectivity=32,
        expansion_add=48,
        expansion_search=ef_search,
    )


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
