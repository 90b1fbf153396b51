"""Writing the indexes: following the store's change feed, and (re)building a generation.

Mixed into SearchService. ``refresh`` applies every change committed since the live
generation's position; ``rebuild`` writes a whole new generation beside the live one from a
full scan of the store (resumable: the scan's last pk is recorded at each checkpoint), then
applies the changes made since the scan started and swaps it in. Embeddings come from the
store when it has them for the paper's current text (paper_embeddings); otherwise they are
computed here and stored, so no other process or node computes them again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from papertide.models import Paper
from papertide.search import passages as ps
from papertide.search.embedders import Embedder, Vectors, paper_text
from papertide.search.generation import Generation, IndexRoot, wanted_state
from papertide.search.pgvector_index import PgVectorIndex, knobs_of
from papertide.search.rwlock import ReadWriteLock
from papertide.search.settings import SearchSettings
from papertide.search.vectors import VectorIndex
from papertide.store import FeedPosition, Store, StoredEmbedding

log = logging.getLogger(__name__)
Progress = Callable[[int], None]


def text_hash(text: str) -> str:
    """What an embedding is stored with: a change of title or abstract means a new one."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


class FollowMixin:
    """refresh(), rebuild() and remove(); SearchService provides the rest."""

    config: SearchSettings
    store: Store
    root: IndexRoot
    live: Generation | None
    guard: ReadWriteLock
    indexed: list[int]
    embedded: int  # papers this service embedded (the rest came from the store)
    _stamp: tuple[object, ...] | None

    if TYPE_CHECKING:

        @property
        def embedder(self) -> Embedder: ...
        def _catch_up_files(self) -> bool: ...
        def _vector_index(self) -> VectorIndex | PgVectorIndex: ...
        def _adopt(self, generation: Generation) -> None: ...

    def refresh(
        self, progress: Progress | None = None, *, wait: bool = True, graph: bool = True
    ) -> int:
        """Apply the changes committed since the live generation's position (building the
        first generation when there is none), then (``graph``) give it the HNSW graph it
        lacks; returns how many papers were (re)indexed. With ``wait`` off, returns 0 at
        once when another process holds the folder."""
        count = self._refresh(progress, wait=wait)
        if graph:
            self.build_graph(wait=wait)
        return count

    def _refresh(self, progress: Progress | None, *, wait: bool) -> int:
        self.indexed = []
        if self._needs_build():
            return self.rebuild(progress, wait=wait)
        _ = self.embedder  # loaded before the lock: searches wait on it, never on a model
        with self.root.lock(wait=wait) as held:
            if not held:
                return 0
            self._catch_up_files()
            if self.live is None or self._needs_build():
                pass  # swapped for another build's settings meanwhile: rebuild below
            else:
                return self._apply_feed(self.live, progress)
        return self.rebuild(progress, wait=wait)

    def rebuild(self, progress: Progress | None = None, *, wait: bool = True) -> int:
        """Build a new generation from the whole store beside the live one and swap it in
        (resuming an unfinished build of the same settings); returns papers indexed."""
        with self.root.build_lock(wait=wait) as held:
            if not held:
                return 0
            name = self.root.unfinished(self.config) or self.root.create()
            generation = self.root.open(name, self.config, self.store.engine)
            if "build" not in generation.state:  # a new build: start from the feed's head
                generation.state = {
                    **wanted_state(self.config),
                    "position": None,
                    "build": {"start": self.store.feed_head().to_json(), "after_pk": 0},
                }
            generation.open_vectors(self.embedder.dim)
            count = self._scan_store(generation, progress)
            with self.root.lock():
                start = FeedPosition.from_json(generation.state["build"]["start"])
                generation.state.pop("build")
                generation.state["position"] = (start or FeedPosition()).to_json()
                count += self._apply_feed(generation, progress, commit_always=True)
                self.root.make_current(name)
                self._adopt(generation)
        return count

    def replace_shared_graph(self) -> tuple[str, str] | None:
        """pgvector (`papertide reindex`): build the shared HNSW index with this node's
        knobs, dropping one another node built with others; returns the knobs the table
        had and has, or None on the local backend (its graph is this node's own)."""
        vectors = self._vector_index()
        if isinstance(vectors, VectorIndex):
            return None
        before = vectors.table.index_in_use()
        vectors.build_graph(replace=True)
        return (knobs_of(before) if before else "none", knobs_of(vectors.table.index))

    def build_graph(self, *, wait: bool = True) -> bool:
        """Give the live generation the HNSW graph (or pgvector index) its vectors lack.

        A generation goes live without one: searches are exact until then (100k vectors:
        about 15 ms a query), so a new node is fully searchable as soon as its rows are
        in. The graph is built over the rows as they are, holding no folder lock (minutes
        at 1M vectors, while the feed goes on being applied by others), then adopted under
        the lock: the commit folds in the rows written meanwhile and saves it for every
        process. Returns True when this call built one."""
        live = self.live
        if live is None:
            return False
        vectors = self._vector_index()
        if not vectors.graph_wanted():
            return False
        with self.root.build_lock(wait=wait) as held:
            if not held:
                return False
            if not isinstance(vectors, VectorIndex):  # pgvector: PostgreSQL builds it
                vectors.build_graph()
                return True
            with self.guard.reading():
                rows = vectors.graph_rows()
            graph = vectors.build_graph_apart(rows)
            if not self._commit_to_live(live, lambda fresh: fresh.attach_graph(graph)):
                return False
        log.info("search index: HNSW graph of %d vectors built and saved", len(graph.keys))
        return True

    def audit_graph(self, *, wait: bool = True) -> int:
        """Check every row of the live generation's saved HNSW graph for a path to it, when
        a fold inserted rows since the last check, and save those none reaches as its
        orphans (scored exactly on every search). The check runs on a mapping of its own,
        holding no folder lock (minutes at 1M vectors, on one core); the orphans are then
        adopted under the lock, unless the graph changed meanwhile (the next round checks
        the new one). Returns how many orphans it added."""
        live = self.live
        vectors = self._vector_index() if live is not None else None
        if live is None or not isinstance(vectors, VectorIndex) or not vectors.audit_wanted():
            return 0
        with self.root.build_lock(wait=wait) as held:
            if not held:
                return 0
            with self.guard.reading():
                rows = vectors.graph_rows()
            found = vectors.stranded_apart(rows)
            if found is None:
                return 0
            version, stranded = found
            if not self._commit_to_live(live, lambda fresh: fresh.adopt_orphans(version, stranded)):
                return 0
        if len(stranded):
            log.info(
                "search index: %d vectors no HNSW search reached after a fold, now searched "
                "exactly beside the graph",
                len(stranded),
            )
        return len(stranded)

    def _commit_to_live(self, live: Generation, change: Callable[[VectorIndex], bool]) -> bool:
        """Under the folder lock, give the vectors of ``live`` what was made apart from it
        (``change``: a graph, orphans) and commit, so that every process loads it. False
        when ``live`` was swapped for a new generation meanwhile (which makes its own) or
        ``change`` declines (the vectors moved on under it)."""
        with self.root.lock():
            self._catch_up_files()
            current = self.live
            if current is None or current.name != live.name:
                return False
            fresh = current.open_vectors(self.embedder.dim)
            assert isinstance(fresh, VectorIndex)
            with self._guarding(current):
                if not change(fresh):
                    return False
                current.commit()
            self._stamp = self.root.stamp()  # our own commit: nothing to reload
        return True

    def remove(self, pks: list[int]) -> None:
        """Drop papers (by pk) from the live indexes (they stay out until they change)."""
        dim = self.embedder.dim  # loaded before the lock, which every other process waits on
        with self.root.lock():
            self._catch_up_files()
            if self.live is not None:
                self.live.open_vectors(dim)
                with self.guard.writing():
                    self._drop(self.live, pks)
                    self.live.commit()

    # Internals ----------------------------------------------------------------------------

    def _needs_build(self) -> bool:
        if self.live is None:
            return True
        wanted = wanted_state(self.config)
        return any(self.live.state.get(k) != v for k, v in wanted.items())

    def _scan_store(self, generation: Generation, progress: Progress | None) -> int:
        """Index every stored paper after the build's recorded pk, with checkpoints."""
        build = generation.state["build"]
        count = since_checkpoint = 0
        for papers in self.store.iter_papers(
            after_pk=int(build["after_pk"]), batch=self.config.embed_batch
        ):
            self._index(generation, papers)
            self.indexed += [p.pk or 0 for p in papers]
            build["after_pk"] = papers[-1].pk
            count += len(papers)
            since_checkpoint += len(papers)
            if since_checkpoint >= self.config.build_checkpoint:
                generation.commit()
                since_checkpoint = 0
            if progress:
                progress(len(papers))
        return count

    def _apply_feed(
        self, generation: Generation, progress: Progress | None, *, commit_always: bool = False
    ) -> int:
        """Under the folder lock: apply the feed from the generation's position to now."""
        position = generation.position or FeedPosition()
        generation.open_vectors(self.embedder.dim)
        count = 0
        while True:
            pks, after = self.store.read_changes(position)
            if not pks:
                break
            for start in range(0, len(pks), self.config.embed_batch):
                chunk = pks[start : start + self.config.embed_batch]
                found = self.store.papers_by_pk(chunk)
                self._index(generation, found)
                gone = set(chunk) - {p.pk for p in found}
                if gone:
                    with self._guarding(generation):
                        self._drop(generation, sorted(gone))
                if progress:
                    progress(len(chunk))
            position = after
            generation.state["position"] = position.to_json()
            count += len(pks)
            self.indexed += pks
        if count or commit_always:
            with self._guarding(generation):
                generation.commit()
            if generation is self.live:
                self._stamp = self.root.stamp()  # our own commit: nothing to reload
        return count

    def _index(self, generation: Generation, papers: list[Paper]) -> None:
        """Add or replace ``papers`` in a generation, with embeddings from the store or
        computed (and stored) here."""
        if not papers:
            return
        pks = [p.pk or 0 for p in papers]
        vectors, passages, fresh = self._embeddings(papers, generation.use_passages)
        with self._guarding(generation):
            generation.lexical.upsert(papers)
            assert generation.vectors is not None
            if isinstance(generation.vectors, PgVectorIndex):
                # The shared table: rows of vectors embedded elsewhere are that process's.
                generation.vectors.upsert(pks, vectors, embedded={r.paper_pk for r in fresh})
            else:
                generation.vectors.upsert(pks, vectors)
            if generation.passages is not None and passages is not None:
                counts = [len(p) for p in passages]
                flat = np.concatenate(passages) if passages else vectors[:0]
                generation.passages.upsert(pks, counts, flat)
        # Stored only once written: a process that finds a stored embedding for a paper's
        # text may take its pgvector row as written (and never write it again).
        self._save_embeddings(fresh)

    def _drop(self, generation: Generation, pks: list[int]) -> None:
        generation.lexical.delete(pks)
        if generation.vectors is not None:
            generation.vectors.delete(pks)
        if generation.passages is not None:
            generation.passages.delete(pks)

    def _embeddings(
        self, papers: list[Paper], use_passages: bool
    ) -> tuple[Vectors, list[Vectors] | None, list[StoredEmbedding]]:
        """Each paper's vector (and passage vectors): stored ones when they match the
        paper's text, the rest embedded now (returned as rows to store for every other
        process, once the index has them)."""
        name, dim = self.config.embedder, self.embedder.dim
        texts = [paper_text(p.title, p.abstract) for p in papers]
        hashes = [text_hash(t) for t in texts]
        stored = self.store.load_embeddings([p.pk or 0 for p in papers], model=name)
        out = np.zeros((len(papers), dim), dtype=np.float32)
        pieces: list[npt.NDArray[Any] | None] = [None] * len(papers)
        missing: list[int] = []
        for i, paper in enumerate(papers):
            row = stored.get(paper.pk or 0)
            if (
                row is None
                or row.text_hash != hashes[i]
                or row.dim != dim
                or (use_passages and row.passages is None)
            ):
                missing.append(i)
                continue
            out[i] = np.frombuffer(row.vector, dtype=np.float16)
            if use_passages and row.passages is not None:
                pieces[i] = np.frombuffer(row.passages, dtype=np.float16).reshape(-1, dim)
        fresh = (
            self._embed_missing(papers, texts, hashes, missing, out, pieces, use_passages)
            if missing
            else []
        )
        if not use_passages:
            return out, None, fresh
        return out, [p.astype(np.float32) if p is not None else out[:0] for p in pieces], fresh

    def _embed_missing(
        self,
        papers: list[Paper],
        texts: list[str],
        hashes: list[str],
        missing: list[int],
        out: Vectors,
        pieces: list[npt.NDArray[Any] | None],
        use_passages: bool,
    ) -> list[StoredEmbedding]:
        dim = self.embedder.dim
        self.embedded += len(missing)
        computed = self.embedder.embed([texts[i] for i in missing]).astype(np.float16)
        for i, vector in zip(missing, computed, strict=True):
            out[i] = vector
        if use_passages:
            per_paper = [ps.passage_texts(papers[i].title, papers[i].abstract) for i in missing]
            flat = self.embedder.embed([t for texts_ in per_paper for t in texts_])
            flat16 = flat.astype(np.float16)
            at = 0
            for i, texts_ in zip(missing, per_paper, strict=True):
                pieces[i] = flat16[at : at + len(texts_)]
                at += len(texts_)
        return [
            StoredEmbedding(
                papers[i].pk or 0,
                hashes[i],
                dim,
                computed[j].tobytes(),
                _bytes(pieces[i]) if use_passages else None,
            )
            for j, i in enumerate(missing)
        ]

    def _save_embeddings(self, rows: list[StoredEmbedding]) -> None:
        """Keep what was embedded here, so that no other process embeds it again."""
        if not rows:
            return
        try:
            self.store.save_embeddings(rows, model=self.config.embedder)
        except Exception:  # the index still has them; another process will store them
            log.exception("search: storing %d embeddings failed", len(rows))

    @contextmanager
    def _guarding(self, generation: Generation) -> Iterator[None]:
        """The in-process write lock while a generation that queries read is changed."""
        if generation is self.live:
            with self.guard.writing():
                yield
        else:
            yield


def _bytes(rows: npt.NDArray[Any] | None) -> bytes | None:
    return rows.tobytes() if rows is not None else None
