"""SearchService: the one search path for the site, the API, mail digests and the eval.

    svc = SearchService.open(settings, store)   # open/create index files, catch up
    svc.refresh()                               # index papers written since the last refresh
    res = svc.search("sparse attention author:lecun", k=20, offset=0, mode="hybrid",
                     sort="relevance")           # -> SearchResult(hits, total, notice, terms)
    svc.similar(paper_id, k=10)                 # -> list[Hit]
    svc.remove([pk, ...])                       # drop papers from the indexes
    svc.close()

mode: "bm25" (lexical), "dense" or "hybrid"; sort: "relevance", "date" (newest first) or
"trending" (ranking/trending.py) over the ``rerank_depth`` most relevant hits. Index files
live under ``settings.data_dir / "index"``: lexical/ (tantivy), vectors/ and state.json (the
last ``modified`` time indexed, the embedder, the index layout and a commit ``generation``),
and passages/ when passage vectors are on (search/passages.py).

Several processes share one index folder (web workers, `papertide worker`, `papertide
ingest`): writes take an exclusive lock on the folder (.lock) and first load whatever another
process committed, so no one writes over newer files; every commit bumps ``generation`` and
replaces state.json atomically. Readers look at state.json's stamp before each search (a
stat, microseconds) and, when another process committed, reload the indexes under a shared
lock, so they never read half-written files and see new papers without a restart.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import Hit, Paper
from papertide.ranking.trending import paper_trending
from papertide.search import filters as fq
from papertide.search import passages as ps
from papertide.search.embedders import (
    Embedder,
    Vectors,
    default_dense_weight,
    load_embedder,
    paper_text,
)
from papertide.search.hybrid import Ranked, blend, rrf
from papertide.search.lexical import LexicalIndex
from papertide.search.passages import PassageIndex
from papertide.search.query import ParsedQuery, highlight_words, parse_query, why_matched
from papertide.search.similar_lists import SimilarMixin
from papertide.search.tokenize import analyze, stem, words
from papertide.search.vectors import VectorIndex
from papertide.store import Store

log = logging.getLogger(__name__)

Mode = Literal["bm25", "dense", "hybrid"]
MODES: tuple[str, ...] = ("bm25", "dense", "hybrid")
SORTS: tuple[str, ...] = ("relevance", "date", "trending")
_LAYOUT = 1
# Papers whose `modified` stamp ties with the last one indexed are read again.
_OVERLAP = timedelta(seconds=2)
# From this many vectors on, reloading after another process's commit happens off the
# request path (see sync).
_BACKGROUND_RELOAD = 100_000


@dataclass(slots=True)
class SearchResult:
    """One page of hits, how many matched, a notice about the query, and its words."""

    hits: list[Hit]
    total: int
    notice: str | None = None
    terms: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Found:
    """What retrieval hands on: the ranking, how many matched, the cosine of the paper and
    of its best passage for the candidates that have one, and the papers BM25 matched."""

    ranked: Ranked
    total: int
    cosine: dict[int, float] = field(default_factory=dict)
    passage: dict[int, float] = field(default_factory=dict)
    matched: set[int] = field(default_factory=set)


class SearchService(SimilarMixin):
    """Lexical + dense indexes over the store's papers, kept up to date by ``refresh``."""

    def __init__(self, settings: Settings, store: Store, folder: Path) -> None:
        self.settings = settings
        self.config = settings.search
        self.store = store
        self.folder = folder
        self._embedder: Embedder | None = None
        self._similar: OrderedDict[tuple[str, int], list[Hit]] = OrderedDict()
        self._held = False  # whether this object holds the folder lock
        self._mutex = threading.RLock()  # threads of this process take turns at the lock
        self._reloading = threading.Lock()
        self._reloader: threading.Thread | None = None
        self._stamp = self._state_stamp()  # what self.state was read from
        self.state = self._read_state()
        self.lexical = LexicalIndex(folder / "lexical", title_repeat=self.config.title_repeat)
        self.vectors: VectorIndex | None = None
        self.passages: PassageIndex | None = None  # opened with the vectors, when in use
        self.use_passages = ps.enabled(self.config.passages, self.config.embedder)
        self.indexed: list[int] = []  # pks the last refresh (re)indexed

    @classmethod
    def open(cls, settings: Settings, store: Store, *, catch_up: bool = True) -> SearchService:
        """Open (or create) the index files under DATA_DIR/index and catch up with the store."""
        folder = settings.data_dir / "index"
        folder.mkdir(parents=True, exist_ok=True)
        svc = cls(settings, store, folder)
        if catch_up:
            svc.refresh()
        return svc

    def close(self) -> None:
        """Write pending changes and let go of the indexes."""
        # Every write commits under the lock as it goes: nothing is pending here, and
        # flushing our copy now could overwrite what another process committed since.
        if self.vectors is not None:
            self.vectors.close()
            self.vectors = None
        if self.passages is not None:
            self.passages.close()
            self.passages = None

    def sync(self) -> bool:
        """Load what other processes committed since we last looked; True when reloaded.

        A big index (``_BACKGROUND_RELOAD`` vectors and more: 4 s to load at 1M) reloads in
        a background thread while queries go on with the one loaded; False is returned then.
        """
        if self._state_stamp() == self._stamp:
            return False
        if self.vectors is not None and len(self.vectors) >= _BACKGROUND_RELOAD:
            with self._reloading:
                if self._reloader is None or not self._reloader.is_alive():
                    self._reloader = threading.Thread(
                        target=self._reload_in_background, name="index-reload", daemon=True
                    )
                    self._reloader.start()
            return False
        with self._lock(shared=True):
            return self._catch_up_files()

    def _reload_in_background(self) -> None:
        try:
            with self._lock(shared=True):
                self._catch_up_files()
        except Exception:  # the next query tries again; never take the site down for it
            log.exception("search index: reloading after another process's commit failed")

    # Writing ------------------------------------------------------------------------------

    def refresh(self, progress: Callable[[int], None] | None = None) -> int:
        """Index papers written since the last refresh; returns how many were (re)indexed."""
        with self._writing():
            vectors = self._vector_index()
            since = self.state.get("last_modified")
            start = datetime.fromisoformat(since) - _OVERLAP if since else None
            last = since
            self.indexed = []
            for batch in self.store.iter_modified(start, batch=self.config.embed_batch):
                papers = [paper for _, paper in batch]
                pks = [p.pk or 0 for p in papers]
                self.indexed += pks
                self.lexical.upsert(papers)
                texts = [paper_text(p.title, p.abstract) for p in papers]
                vectors.upsert(pks, self.embedder.embed(texts))
                if self.passages is not None:
                    pieces = [ps.passage_texts(p.title, p.abstract) for p in papers]
                    flat = [text for paper_pieces in pieces for text in paper_pieces]
                    counts = [len(paper_pieces) for paper_pieces in pieces]
                    self.passages.upsert(pks, counts, self.embedder.embed(flat))
                last = batch[-1][0].isoformat()
                if progress:
                    progress(len(papers))
            if self.indexed:
                self._commit(last)
            return len(self.indexed)

    def remove(self, pks: list[int]) -> None:
        """Drop papers (by pk) from both indexes."""
        with self._writing():
            self.lexical.delete(pks)
            self._vector_index().delete(pks)
            if self.passages is not None:
                self.passages.delete(pks)
            self._commit(self.state.get("last_modified"))

    def reindex(self, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild both indexes from the store."""
        with self._writing():
            self.lexical.delete_all()
            self._vector_index().clear()
            if self.passages is not None:
                self.passages.clear()
            self._commit(None)
            self.store.clear_similar()
        return self.refresh(progress)

    # Reading ------------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The configured embedder, loaded on first use."""
        if self._embedder is None:
            self._embedder = load_embedder(self.config.embedder)
        return self._embedder

    def search(
        self,
        query: str,
        *,
        k: int = 20,
        offset: int = 0,
        mode: str = "hybrid",
        sort: str = "relevance",
    ) -> SearchResult:
        """One page of papers for ``query`` (see query.py for the language)."""
        self.sync()
        parsed = parse_query(query)
        notice = parsed.notice
        if mode not in MODES:
            notice, mode = f"unknown mode '{mode}': used hybrid.", "hybrid"
        if sort not in SORTS:
            notice, sort = f"unknown sort '{sort}': sorted by relevance.", "relevance"
        depth = max(offset + k, self.config.candidates)
        if sort != "relevance":
            depth = max(depth, self.config.rerank_depth)
        found = self._retrieve(parsed, mode, depth)
        ranked, matched = found.ranked, found.matched
        if sort != "relevance" and matched:  # reorder papers that share words with the query
            ranked = [item for item in ranked if item[0] in matched]
        if sort != "relevance" or not parsed.text:
            ranked = self._sort(ranked, "date" if sort == "relevance" else sort)
        page = ranked[offset : offset + k]
        hits = self._explain(page, parsed, found)
        return SearchResult(hits, max(found.total, len(ranked)), notice, highlight_words(parsed))

    def size_on_disk(self) -> int:
        """Bytes used by the index files."""
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())

    # Internals ----------------------------------------------------------------------------

    def _retrieve(self, parsed: ParsedQuery, mode: str, depth: int) -> _Found:
        """Ranked candidates, how many matched, their semantic scores, the lexical matches."""
        schema, cfg = self.lexical.schema, self.config
        filters = fq.filter_clauses(schema, parsed)
        if not parsed.text:  # filters only: every paper that passes them, newest first
            found, total = self.lexical.search(fq.combine([], filters), depth, order_by="published")
            return _Found(found, total)
        lexical: Ranked = []
        total = 0
        if mode != "dense":
            scored = fq.text_clauses(schema, parsed, cfg.author_boost)
            lexical, total = self.lexical.search(fq.combine(scored, filters), depth)
        matched = {pk for pk, _ in lexical}
        if mode == "bm25":
            return _Found(lexical, total, matched=matched)
        vector = self.embedder.embed([parsed.text])[0]
        vectors = self._vector_index()
        dense = vectors.search(vector, depth * (5 if filters else 1))
        if filters and dense:
            allowed, _ = self.lexical.search(
                fq.restrict_to(schema, [p for p, _ in dense], filters), len(dense)
            )
            keep = {pk for pk, _ in allowed}
            dense = [(pk, c) for pk, c in dense if pk in keep]
        dense = dense[:depth]
        cosine = dict(dense)
        if mode == "dense":
            return _Found(dense, len(dense), cosine)
        self._add_cosines(cosine, [pk for pk, _ in lexical], vector)
        # Every candidate of either side, scored by its best passage too (when in use).
        passage = self.passages.best(list(cosine), vector) if self.passages is not None else {}
        if cfg.fusion == "rrf":
            fused = rrf([[p for p, _ in lexical], [p for p, _ in dense]], k=cfg.rrf_k)
        else:
            weight = cfg.dense_weight
            if weight is None:
                weight = default_dense_weight(cfg.embedder)
            fused = blend(
                lexical, cosine, weight=weight, passage=passage, passage_weight=cfg.passage_weight
            )
        return _Found(fused[:depth], total, cosine, passage, matched)

    def _add_cosines(self, cosine: dict[int, float], pks: list[int], vector: Vectors) -> None:
        missing = [pk for pk in pks if pk not in cosine]
        if missing:
            sims = self._vector_index().get(missing) @ vector
            cosine.update(zip(missing, (float(s) for s in sims), strict=True))

    def _sort(self, ranked: Ranked, sort: str) -> Ranked:
        pks = [pk for pk, _ in ranked]
        published = self.lexical.fast_values(pks, "published")
        if sort == "date":
            return sorted(ranked, key=lambda item: -published.get(item[0], 0))
        # Votes change without re-indexing (site votes): score from the store's current rows,
        # with the one trending formula the whole site uses.
        now, params = utcnow(), self.settings.trending
        scores = {p.pk: paper_trending(p, now, params) for p in self.store.papers_by_pk(pks)}
        return sorted(((pk, scores.get(pk, 0.0)) for pk in pks), key=lambda item: -item[1])

    def _explain(self, page: Ranked, parsed: ParsedQuery, found: _Found) -> list[Hit]:
        papers = self.lexical.papers([pk for pk, _ in page])
        wanted = {stem(w): w for w in words(parsed.text) if analyze(w)}
        hits = []
        for pk, score in page:
            paper = papers.get(pk)
            if paper is None or paper.id is None:
                continue
            why = why_matched(paper, wanted, parsed)
            if pk in found.cosine:
                why.append(f"semantic {found.cosine[pk]:.2f}")
            if pk in found.passage:
                why.append(f"best sentence {found.passage[pk]:.2f}")
            hits.append(Hit(paper.id, round(score, 6), why, paper))
        return hits

    def _embed_one(self, paper: Paper) -> Vectors:
        vectors = self.embedder.embed([paper_text(paper.title, paper.abstract)])
        return np.asarray(vectors[0], dtype=np.float32)

    def _vector_index(self) -> VectorIndex:
        if self.vectors is None and not self._held:
            with self._lock(shared=True):  # files are read whole, never mid-write
                return self._vector_index()
        if self.vectors is None:
            self.vectors, self.passages = self._open_vectors()
        return self.vectors

    def _open_vectors(self) -> tuple[VectorIndex, PassageIndex | None]:
        """The vector files (and the passage vectors, when in use) as they are on disk
        (under the folder lock)."""
        name = self.config.embedder
        dim = int(self.state.get("dims", {}).get(name) or self.embedder.dim)
        vectors = VectorIndex.open(
            self.folder / "vectors",
            model=name,
            dim=dim,
            ann_threshold=self.config.ann_threshold,
            ef_search=self.config.ann_ef_search,
        )
        passages = None
        if self.use_passages:
            passages = PassageIndex.open(self.folder / "passages", model=name, dim=dim)
        if (
            vectors.reset
            or (passages is not None and passages.reset)
            or self.state.get("embedder") != name
            or bool(self.state.get("passages")) != self.use_passages
        ):
            self.state["last_modified"] = None  # a new model or passages: embed every paper
        self.state["embedder"] = name
        self.state["passages"] = self.use_passages
        self.state.setdefault("dims", {})[name] = dim
        return vectors, passages

    def _commit(self, last: str | None) -> None:
        self.lexical.commit()
        self._vector_index().flush()
        if self.passages is not None:
            self.passages.flush()
        elif (self.folder / "passages").is_dir():  # passages were turned off: free the disk
            shutil.rmtree(self.folder / "passages")
        self.state["last_modified"] = last
        self.state["generation"] = int(self.state.get("generation", 0)) + 1
        temporary = self.folder / "state.json.tmp"
        temporary.write_text(json.dumps(self.state))
        temporary.replace(self.folder / "state.json")  # readers see old or new, whole
        self._stamp = self._state_stamp()
        self._similar.clear()

    def _state_stamp(self) -> tuple[int, int] | None:
        """state.json's inode and change time: a commit replaces the file, changing both."""
        try:
            found = (self.folder / "state.json").stat()
        except FileNotFoundError:
            return None
        return found.st_ino, found.st_mtime_ns

    def _catch_up_files(self) -> bool:
        """Under the folder lock: reload the indexes if another process committed."""
        stamp = self._state_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        state = self._state_file()
        if state.get("generation") == self.state.get("generation"):
            return False
        self.state = state
        # Load first, then swap: queries in other threads keep the old index meanwhile.
        fresh, fresh_passages = self._open_vectors() if self.vectors is not None else (None, None)
        self.lexical.reload()
        old, self.vectors = self.vectors, fresh
        old_passages, self.passages = self.passages, fresh_passages
        self._similar.clear()
        if old is not None:
            old.close()
        if old_passages is not None:
            old_passages.close()
        return True

    def _state_file(self) -> dict[str, Any]:
        path = self.folder / "state.json"
        return dict(json.loads(path.read_text())) if path.is_file() else {}

    def _read_state(self) -> dict[str, Any]:
        state = self._state_file()
        wanted = {"layout": _LAYOUT, "title_repeat": self.config.title_repeat}
        if any(state.get(key) != value for key, value in wanted.items()):
            for stale in (self.folder / "lexical").glob("*"):
                stale.unlink()
            state = {**wanted, "last_modified": None}
        return state

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """The exclusive folder lock, with what other processes committed loaded first."""
        with self._lock():
            self._catch_up_files()
            yield

    @contextmanager
    def _lock(self, *, shared: bool = False) -> Iterator[None]:
        """The folder lock: exclusive for writers, shared for readers loading files."""
        with self._mutex:
            if self._held:  # already ours (writes load files under their own lock)
                yield
                return
            with (self.folder / ".lock").open("a") as handle:
                fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
                self._held = True
                try:
                    yield
                finally:
                    self._held = False
                    fcntl.flock(handle, fcntl.LOCK_UN)
