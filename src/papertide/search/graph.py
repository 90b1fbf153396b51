"""The HNSW graph of a vector folder, saved once and memory-mapped by every process.

A graph covers the first ``covered`` rows of the folder's vectors (their live pks at the
time it was saved). Rows written after it (the *delta*) are searched exactly beside it, and
pks it holds that were since deleted or replaced (*stale*) are skipped in its answers, so a
reader never changes the graph: it maps the saved file read-only (usearch ``view``), and the
web workers of one machine share one copy of it in the page cache instead of each loading
their own (1M papers: about 1 GB each). The writer folds the delta into the graph and saves a
new version once enough rows changed (``absorb`` then ``save``); the files of a version are
never rewritten, and ``ann.json`` names the current one (replaced atomically, written last),
so a process that maps an older version keeps reading it as it was.

Files: ``ann.json`` {"version", "covered", "rows_file", "audited"}; ``ann-<version>.usearch`` (the
graph), ``ann-<version>.keys`` (its pks, sorted int64), ``ann-<version>.center`` (float32),
``ann-<version>.orphans`` (the pks it holds that no search reaches, sorted int64: see _add).
``rows_file`` is the token in ``rows.epoch`` when the graph was saved: the vector folder
writes a new token before it rewrites its rows (a compaction renumbers them), and a graph
saved for other rows is not used.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from papertide.search.arrays import dot_rows
from papertide.search.embedders import Vectors
from papertide.search.graph_files import current_version, rows_token
from papertide.search.graph_params import CENTER_SHARE, auto_ef, new_ann

DEAD = -1
# Answers a row's own vector asks for when checking that the graph reaches it (see _add).
_CHECK_COUNT = 4
# Rounds of inserting unreached rows again, one thread, before they are left as orphans.
REINSERT_ROUNDS = 3
Keys = npt.NDArray[np.int64]

log = logging.getLogger(__name__)


class Graph:
    """An HNSW graph (inner product of vectors minus a center) over the first rows."""

    def __init__(self, folder: Path, *, dim: int, ef_search: int | None, ef_papers: int) -> None:
        self.folder = folder
        self.dim = dim
        self.ef_search = ef_search  # the depth of few-word queries; None: auto_ef of the size
        self.ef_papers = ef_papers  # the depth when a paper is the query
        # The index's own depth is the lesser; a deeper search asks for more answers (see
        # search), so one mapping serves both depths.
        self.keys: Keys = np.zeros(0, dtype=np.int64)  # the graph's pks, sorted
        self.ann: Any = new_ann(dim, self._base_ef)
        self.center: Vectors = np.zeros(dim, dtype=np.float32)
        self.covered = 0  # rows [0, covered) are in the graph (the live ones)
        self.stale: set[int] = set()  # pks in the graph deleted or replaced since
        # Pks the graph holds that no search reaches (see _add), searched exactly beside it,
        # and their vectors as the graph holds them (float32, centred; read on first use).
        self.orphans: Keys = np.zeros(0, dtype=np.int64)
        self._orphan_rows: Vectors | None = None
        # Whether every row was checked for a path to it since the last insertion (a build
        # checks every row; a fold only the rows it inserted: see absorb and stranded).
        self.audited = True
        self.version = 0
        self.saved = False  # whether ``ann`` is a view of this version's saved file
        self.rows_token = ""  # the rows' epoch it was built or saved for

    # Building, loading, saving ------------------------------------------------------------

    @classmethod
    def build(
        cls,
        folder: Path,
        keys: Keys,
        vectors: npt.NDArray[np.float16],
        *,
        ef_search: int | None,
        ef_papers: int,
    ) -> Graph:
        """A new graph of every live row, centred on half their mean (in memory)."""
        graph = cls(folder, dim=vectors.shape[1], ef_search=ef_search, ef_papers=ef_papers)
        live = np.flatnonzero(keys != DEAD)
        total = np.zeros(graph.dim, dtype=np.float64)
        for start in range(0, len(live), 65_536):
            total += vectors[live[start : start + 65_536]].astype(np.float64).sum(axis=0)
        graph.center = (CENTER_SHARE * total / max(len(live), 1)).astype(np.float32)
        graph.keys = np.sort(keys[live])  # first: the check's full depth follows the size
        graph.orphans = graph._add(keys, vectors, live)
        graph.covered = len(keys)
        graph.version = current_version(folder)
        graph.rows_token = rows_token(folder)
        return graph

    @classmethod
    def load(
        cls, folder: Path, keys: Keys, *, dim: int, ef_search: int | None, ef_papers: int
    ) -> Graph | None:
        """Map the saved graph read-only, or None when there is none for these rows."""
        try:
            meta = json.loads((folder / "ann.json").read_text())
            if meta["rows_file"] != rows_token(folder) or meta["covered"] > len(keys):
                return None
            graph = cls(folder, dim=dim, ef_search=ef_search, ef_papers=ef_papers)
            graph.version, graph.covered = int(meta["version"]), int(meta["covered"])
            graph.audited = bool(meta.get("audited", False))
            graph.rows_token = meta["rows_file"]
            graph.center = np.fromfile(graph._path("center"), dtype=np.float32)
            graph.keys = np.fromfile(graph._path("keys"), dtype=np.int64)
            if graph._path("orphans").exists():  # versions saved before orphans had none
                graph.orphans = np.fromfile(graph._path("orphans"), dtype=np.int64)
            graph._map()
        except (OSError, ValueError, KeyError, RuntimeError):
            return None
        graph.recount(keys)
        return graph

    def recount(self, keys: Keys) -> None:
        """Which of the graph's pks are stale for the rows as they are now: those whose row
        below ``covered`` was since marked dead (deleted, or replaced by a later row)."""
        old = keys[: self.covered]
        gone = np.setdiff1d(self.keys, old[old != DEAD], assume_unique=True)
        self.stale = set(gone.tolist())

    def absorb(self, keys: Keys, vectors: npt.NDArray[np.float16]) -> None:
        """Fold the delta into the graph and drop its stale pks (the graph is then in
        memory, covering every row, until ``save``).

        The rows inserted and the orphans are checked again; older rows are not. Inserting
        into full neighbour lists can cut an older row's last link (on generated clustered
        vectors, a 20k fold into 100k stranded 191 old rows), and checking every row costs
        about 20 s per 100k, too long under the write lock that a fold holds: the graph is
        saved unaudited, and a serving process's graph thread checks every row of the saved
        version apart (``stranded``), then saves those found as orphans (``add_orphans``)."""
        if self.saved:  # a view cannot change: load a private copy of it
            ann = new_ann(self.dim, self._base_ef)
            ann.load(str(self._path("usearch")))
            ann.expansion_search = self._base_ef
            self.ann, self.saved = ann, False
        if self.stale:
            self.ann.remove(sorted(self.stale))
        kept = self.orphans[~np.isin(self.orphans, list(self.stale))]
        delta = self.delta_rows(keys)
        self.keys = np.sort(keys[keys != DEAD])  # first: the check's depth follows the size
        lost = self._add(keys, vectors, delta)
        if len(kept):  # new links may reach an orphan now
            held = self.vectors(kept).astype(np.float16)
            kept = kept[self._unreached(kept, held, np.arange(len(kept)), self.text_ef)]
        self.orphans, self._orphan_rows = np.union1d(kept, lost), None
        self.audited = self.audited and not len(delta)
        self.covered = len(keys)
        self.stale = set()

    def save(self) -> None:
        """Write this graph as a new version, name it in ann.json, and map it read-only
        (the in-memory copy is let go). Versions no process names any more are removed."""
        self.version = self._next_version()
        self.ann.save(str(self._path("usearch")))
        self.keys.tofile(self._path("keys"))
        self.center.tofile(self._path("center"))
        self.orphans.tofile(self._path("orphans"))
        self._name_version()
        self._map()

    def add_orphans(self, pks: Keys) -> None:
        """Record ``pks`` (found by ``stranded`` on this saved version) as orphans and save
        the graph as a new version: its links are unchanged, so the graph's files are
        hard-linked under the new version's names and only the orphans are written."""
        assert self.saved
        old = self.version
        self.version = self._next_version()
        for kind in ("usearch", "keys", "center"):
            os.link(self.folder / f"ann-{old:06d}.{kind}", self._path(kind))
        self.orphans = np.union1d(self.orphans, pks)
        self._orphan_rows = None
        self.orphans.tofile(self._path("orphans"))
        self.audited = True
        self._name_version()

    def _next_version(self) -> int:
        """The number of the version about to be written, with any files of it that a save
        cut short left unlinked first: writing into one would truncate the file it may be
        hard-linked to (a version that add_orphans made), which other processes map."""
        version = current_version(self.folder) + 1
        for path in self.folder.glob(f"ann-{version:06d}.*"):
            path.unlink()
        return version

    def _name_version(self) -> None:
        """Name this version in ann.json (atomically, last) and remove the files of the
        others (a process that maps one keeps its inode)."""
        meta = {
            "version": self.version,
            "covered": self.covered,
            "rows_file": rows_token(self.folder),
            "audited": self.audited,
        }
        temporary = self.folder / "ann.json.tmp"
        temporary.write_text(json.dumps(meta))
        temporary.replace(self.folder / "ann.json")
        for path in self.folder.glob("ann-*.*"):  # mapped elsewhere: the inode lives on
            if not path.name.startswith(f"ann-{self.version:06d}."):
                path.unlink(missing_ok=True)

    def stranded(self, keys: Keys, vectors: npt.NDArray[np.float16]) -> Keys:
        """The pks of live rows the graph holds that no search of it reaches and that are
        not orphans yet (sorted), checked on one thread: at 1M rows, minutes, beside a
        serving process (call it on a graph of one's own, loaded apart: the check sets
        the depth of its searches)."""
        rows = np.flatnonzero(keys[: self.covered] != DEAD)
        lost = self._unreached_deep(keys, vectors, rows, threads=1)
        return np.setdiff1d(keys[lost], self.orphans)

    # Bookkeeping and search ---------------------------------------------------------------

    def forget(self, pks: list[int]) -> None:
        """Mark ``pks`` stale where the graph holds them (deleted, or about to be replaced)."""
        if not pks or not len(self.keys):
            return
        wanted = np.asarray(pks, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, wanted), len(self.keys) - 1)
        self.stale.update(wanted[self.keys[at] == wanted].tolist())

    def delta_rows(self, keys: Keys) -> npt.NDArray[np.int64]:
        """The live rows written after the graph (searched exactly beside it)."""
        return np.flatnonzero(keys[self.covered :] != DEAD) + self.covered

    def changes(self, keys: Keys) -> int:
        """Rows the graph is behind by: the delta plus its stale pks."""
        return len(self.delta_rows(keys)) + len(self.stale)

    def _map(self) -> None:
        """Map this version's saved file read-only, once: each view of it costs a process
        about 50 MB of its own at 1M rows (usearch's tables of the nodes), beside the
        shared pages."""
        view = new_ann(self.dim, self._base_ef)
        view.view(str(self._path("usearch")))
        view.expansion_search = self._base_ef
        self.ann, self.saved = view, True

    def vectors(self, pks: Keys) -> Vectors:
        """The vectors of ``pks``, each held by the graph (live and not stale), as float32."""
        return self._centred(pks) + self.center

    def _centred(self, pks: Keys) -> Vectors:
        """The rows of ``pks`` as the graph holds them (less the center), as float32."""
        # Given an array of keys, usearch answers with a tuple of rows, one for each.
        return np.vstack(self.ann.get(pks.astype(np.uint64), dtype=np.float32))

    @property
    def text_ef(self) -> int:
        """The depth of a few-word query: the configured one, else auto_ef of the size."""
        return self.ef_search or auto_ef(len(self.keys))

    def set_depth(self, ef_search: int | None, ef_papers: int) -> None:
        """Search at these depths from now on (the mapping's own depth follows)."""
        self.ef_search, self.ef_papers = ef_search, ef_papers
        self.ann.expansion_search = self._base_ef

    @property
    def _base_ef(self) -> int:
        return min(self.text_ef, self.ef_papers)

    def search(self, query: Vectors, k: int, *, paper: bool = False) -> list[tuple[int, float]]:
        """The ``k`` nearest live pks the graph holds, with their cosines. Stale pks are
        skipped; when they crowd the answer, the graph is asked for more. ``paper`` (a
        paper's own vector as the query) searches at ef_papers, a few words at text_ef.

        usearch searches at depth max(its ef, answers asked), so asking for ``depth``
        answers from an index set to the lesser depth is the search at that depth (the same
        top 10 for 300 of 300 queries at 1M, in the same time) and its head is kept."""
        live = len(self.keys) - len(self.stale)
        want = min(k, live)
        if want <= 0:
            return []
        depth = self.ef_papers if paper else self.text_ef
        shift = 1.0 + float(query @ self.center)  # inner-product distance is 1 - q.(d - c)
        count = min(want + min(len(self.stale), want) + 8, len(self.keys))
        while True:
            asked = min(max(count, depth), len(self.keys))
            found = self.ann.search(query, asked, threads=1)
            cosines = (shift - found.distances[:count].astype(np.float64)).tolist()
            hits = [
                (pk, cosine)
                for pk, cosine in zip(found.keys[:count].tolist(), cosines, strict=True)
                if pk not in self.stale
            ]
            if len(hits) >= want or count >= len(self.keys) or len(found.keys) < asked:
                break
            count = min(count * 4, len(self.keys))
        if len(self.orphans):
            hits = self._with_orphans(hits, query, shift - 1.0, want)
        return hits[:want]

    def _with_orphans(
        self, hits: list[tuple[int, float]], query: Vectors, shift: float, want: int
    ) -> list[tuple[int, float]]:
        """``hits`` and the ``want`` nearest orphans by exact cosine, best first."""
        if self._orphan_rows is None:
            self._orphan_rows = self._centred(self.orphans)
        scores = dot_rows(self._orphan_rows, query) + shift
        seen = {pk for pk, _ in hits}
        best = np.argsort(-scores)[: want + len(self.stale)]
        for i in best.tolist():
            pk = int(self.orphans[i])
            if pk not in self.stale and pk not in seen:
                hits.append((pk, float(scores[i])))
        hits.sort(key=lambda hit: -hit[1])
        return hits

    def _add(self, keys: Keys, vectors: npt.NDArray[np.float16], rows: npt.NDArray[Any]) -> Keys:
        """Insert ``rows`` on every core, then insert again, on one thread, those that no
        search reaches: usearch's concurrent ``add`` can leave a node stored but without
        a link to it (unum-cloud/USearch#735, open in 2.26.6), and such a paper is never
        found by meaning again (at 100k rows, 6 a build; at 500, one build in two has
        some). The check costs about half the build at 100k; adding everything on one
        thread instead takes 2.8x as long.

        Returns the pks still unreached after a few rounds (sorted): at 1M, 542 of them
        (0.05%) after three, which inserting again into full neighbour lists does not
        mend. They become the graph's orphans, scored exactly on every search (4,000
        vectors: a fraction of a millisecond), so every paper stays findable."""
        for start in range(0, len(rows), 50_000):
            chunk = rows[start : start + 50_000]
            centred = vectors[chunk].astype(np.float32) - self.center
            self.ann.add(keys[chunk].astype(np.uint64), centred, threads=0)
        lost = self._unreached_deep(keys, vectors, rows)
        for _ in range(REINSERT_ROUNDS):
            if not len(lost):
                break
            ids = keys[lost].astype(np.uint64)
            self.ann.remove(ids)
            self.ann.add(ids, vectors[lost].astype(np.float32) - self.center, threads=1)
            lost = self._unreached(keys, vectors, lost, self.text_ef)
        if len(lost):
            log.info(
                "%d vectors not reachable in the HNSW graph: searched exactly beside it",
                len(lost),
            )
        return np.sort(keys[lost])

    def _unreached_deep(
        self,
        keys: Keys,
        vectors: npt.NDArray[np.float16],
        rows: npt.NDArray[Any],
        *,
        threads: int = 0,
    ) -> npt.NDArray[Any]:
        """The rows that no search reaches up to the full depth: most are found at once,
        the rest looked for deeper (ef 4, 16, 64, then the graph's own depth)."""
        for ef in (4, 16, 64, self.text_ef):
            rows = self._unreached(keys, vectors, rows, ef, threads=threads)
        return rows

    def _unreached(
        self,
        keys: Keys,
        vectors: npt.NDArray[np.float16],
        rows: npt.NDArray[Any],
        ef: int,
        *,
        threads: int = 0,
    ) -> npt.NDArray[Any]:
        """The rows whose own vector, searched at depth ``ef``, does not find them (ties of
        equal vectors count as found)."""
        lost: list[npt.NDArray[Any]] = []
        count = min(_CHECK_COUNT, len(self.ann))
        if not len(rows) or count == 0:
            return rows[:0]
        self.ann.expansion_search = ef
        try:
            for start in range(0, len(rows), 50_000):
                chunk = rows[start : start + 50_000]
                query = vectors[chunk].astype(np.float32)
                found = self.ann.search(query, count, threads=threads)
                found_keys = found.keys.reshape(len(chunk), -1)  # one query: a flat answer
                distances = found.distances.reshape(len(chunk), -1)
                hit = (found_keys == keys[chunk].astype(np.uint64)[:, None]).any(axis=1)
                # The distance to itself, 1 - q.(q - c); when every answer is as near, the
                # row is among equals that crowd the answer, which is no loss.
                own = 1.0 - np.einsum("ij,ij->i", query, query - self.center)
                tied = distances[:, -1] <= own + 2e-3
                lost.append(chunk[~hit & ~tied])
        finally:
            self.ann.expansion_search = self._base_ef
        return np.concatenate(lost) if lost else rows[:0]

    def _path(self, kind: str) -> Path:
        return self.folder / f"ann-{self.version:06d}.{kind}"
