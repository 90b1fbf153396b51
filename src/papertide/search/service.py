"""SearchService: the one search path for the site, the API, mail digests and the eval.

    svc = SearchService.open(settings, store)   # open the live index files, catch up
    svc.refresh()                               # apply the store's changes since (follow.py)
    res = svc.search("sparse attention author:lecun", k=20, offset=0, mode="hybrid",
                     sort="relevance")           # -> SearchResult(hits, total, notice, terms,
                                                 #    suggestion: "did you mean")
    svc.similar(paper_id, k=10)                 # -> list[Hit]
    svc.rebuild()                               # a new generation beside the live one
    svc.close()

mode: "bm25" (lexical), "dense" or "hybrid"; sort: "relevance", "date" (newest first) or
"trending" (ranking/trending.py) over the ``rerank_depth`` most relevant hits.

Every index is a follower of the store's change feed (store/changes.py): the live
generation of index files (search/generation.py) records the feed position it has applied,
and ``refresh`` applies what was committed since. Several processes share one index folder
(web workers, `papertide worker`, `papertide ingest`): writers take the folder lock
exclusively and first load whatever another process committed; readers look at the folder's
stamp before each search (two stats) and reload under a shared lock when another process
committed, so they never read half-written files and see new papers without a restart.
Until a first generation exists (a new node, a changed embedder) searches answer with a
"warming up" notice and no hits, while ``refresh`` builds it (in the background, in `serve`).
Threads of one process share the indexes through a readers-writer lock (rwlock.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from papertide.config import Settings
from papertide.models import Hit, Paper
from papertide.search.embedders import Embedder, Vectors, load_embedder, paper_text
from papertide.search.follow import FollowMixin
from papertide.search.generation import Generation, IndexRoot
from papertide.search.lexical import LexicalIndex
from papertide.search.passages import PassageIndex
from papertide.search.pgvector_index import PgVectorIndex
from papertide.search.query import ParsedQuery, highlight_words, nothing_to_search, parse_query
from papertide.search.retrieval import RetrievalMixin
from papertide.search.rwlock import IndexBusy, ReadWriteLock
from papertide.search.similar_lists import SimilarMixin
from papertide.search.spelling import suggest
from papertide.search.vectors import VectorIndex
from papertide.store import FeedPosition, Store
from papertide.store.similar import SimilarItem

log = logging.getLogger(__name__)

Mode = Literal["bm25", "dense", "hybrid"]
MODES: tuple[str, ...] = ("bm25", "dense", "hybrid")
SORTS: tuple[str, ...] = ("relevance", "date", "trending")


@dataclass(slots=True)
class SearchResult:
    """One page of hits, how many matched, a notice about the query, and its words."""

    hits: list[Hit]
    total: int
    notice: str | None = None
    terms: list[str] = field(default_factory=list)
    warming: bool = False  # no index generation yet: the hits are not the answer
    suggestion: str | None = None  # the query spelt as the collection spells it, finding more


class SearchService(FollowMixin, SimilarMixin, RetrievalMixin):
    """Lexical + dense indexes over the store's papers, following its change feed."""

    def __init__(
        self, settings: Settings, store: Store, folder: Path, *, wait: bool = True
    ) -> None:
        self.settings = settings
        self.config = settings.search
        self.store = store
        self.folder = folder
        self.root = IndexRoot(folder)
        self.guard = ReadWriteLock()
        self._embedder: Embedder | None = None
        self._similar: OrderedDict[tuple[str, int], list[SimilarItem]] = OrderedDict()
        self._reloading = threading.Lock()
        self._reloader: threading.Thread | None = None
        self.live: Generation | None = None
        self._stamp: tuple[object, ...] | None = None
        self.indexed: list[int] = []  # pks the last refresh (re)indexed
        self.embedded = 0  # papers embedded here, not loaded from the store
        # Seconds a search or similar list waits for the indexes being written before
        # IndexBusy (the web app sets rwlock.REQUEST_WAIT_SECONDS); None: as long as it takes.
        self.request_wait: float | None = None
        with self.root.lock(shared=True, wait=wait) as held:
            if not held:
                raise IndexBusy(f"another process is writing the search index in {folder}")
            self._catch_up_files()

    @classmethod
    def open(cls, settings: Settings, store: Store, *, catch_up: bool = True) -> SearchService:
        """Open the live index files under DATA_DIR/index and catch up with the store."""
        svc = cls(settings, store, settings.data_dir / "index")
        if catch_up:
            svc.refresh()
        return svc

    def pending(self) -> int:
        """About how many papers a refresh has to (re)index: every stored one when a
        generation must be built, else the changes after the live one's position."""
        if self._needs_build():
            return self.store.count_papers()
        return self.store.feed_lag(self.position)

    def close(self) -> None:
        """Let go of the indexes (every write commits as it goes: nothing is pending)."""
        if self.live is not None:
            self.live.close()
            self.live = None

    @property
    def ready(self) -> bool:
        """Whether a generation built for these settings is live (searches answer)."""
        return self.live is not None and not self._needs_build()

    @property
    def lexical(self) -> LexicalIndex:
        """The live lexical index (callers check ``ready`` first)."""
        assert self.live is not None, "no index generation yet"
        return self.live.lexical

    @property
    def position(self) -> FeedPosition | None:
        """The feed position the live generation has applied."""
        return self.live.position if self.ready and self.live is not None else None

    def status(self, known: tuple[FeedPosition | None, int] | None = None) -> dict[str, object]:
        """Where the index stands: ready, generation, feed position, changes still to apply.
        ``known``: this index's position and its lag, when the caller read them already
        (/healthz does, with every other worker's in one read of the store)."""
        position, lag = known if known is not None else (self.position, None)
        if lag is None:
            lag = self.store.feed_lag(position)
        vectors = self.live.vectors if self.live is not None else None
        ready = self.ready
        return {
            "ready": ready,
            "generation": self.live.name if self.live is not None else None,
            "position": position.horizon if position is not None else None,
            "lag": lag,
            # Building or catching up: a generation under way, none live yet (its build is
            # due), or stored changes not applied yet (the follower's next round).
            "building": not ready or bool(lag) or self.root.unfinished(self.config) is not None,
            # Dense search through the HNSW graph (True), exact until it is built (False),
            # or not loaded in this process yet (None).
            "graph": None if vectors is None else not vectors.graph_wanted(),
        }

    def sync(self, *, wait: bool = False) -> bool:
        """Load what other processes committed since we last looked; True when reloaded.

        A big index (``background_reload_from`` vectors and more: 4 s to load at 1M) reloads in
        a background thread while queries go on with the one loaded; False is returned then.
        Without ``wait`` (a request) nothing waits for another process writing the folder:
        the index loaded answers, and its commit is loaded by a later look (the follower's
        rounds wait).
        """
        if self.root.stamp() == self._stamp:
            return False
        live = self.live
        if (
            live is not None
            and live.vectors is not None
            and len(live.vectors) >= self.config.background_reload_from
        ):
            with self._reloading:
                if self._reloader is None or not self._reloader.is_alive():
                    self._reloader = threading.Thread(
                        target=self._reload_in_background, name="index-reload", daemon=True
                    )
                    self._reloader.start()
            return False
        with self.root.lock(shared=True, wait=wait) as held:
            return self._catch_up_files() if held else False

    def _reload_in_background(self) -> None:
        try:
            with self.root.lock(shared=True):
                self._catch_up_files()
        except Exception:  # the next query tries again; never take the site down for it
            log.exception("search index: reloading after another process's commit failed")

    # Reading ------------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The configured embedder, loaded on first use."""
        if self._embedder is None:
            self._embedder = load_embedder(
                self.config.embedder, cache_dir=self.folder, precision=self.config.embed_precision
            )
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
        if not self.ready:
            return self._warming()
        parsed = parse_query(query)
        empty = nothing_to_search(parsed)
        if empty is not None:  # "the", "$", "- ?": asking for nothing is not asking for all
            said = f"{parsed.notice} {empty}" if parsed.notice else empty  # "author:%" too
            return SearchResult([], 0, said, [])
        if mode != "bm25" and parsed.text:
            self._request_vectors()  # loaded outside the guard: loading may wait for the folder
        with self.guard.reading(self.request_wait):
            result = self._search(parsed, k=k, offset=offset, mode=mode, sort=sort)
            if result.total < self.config.suggest_below:
                result.suggestion = self._suggest(query, result.total, mode=mode, sort=sort)
            return result

    def _suggest(self, query: str, total: int, *, mode: str, sort: str) -> str | None:
        """Did you mean: ``query`` with its unknown words spelt as the papers spell them,
        when that finds more papers (spelling.py)."""
        fixed = suggest(query, self.lexical)
        if fixed is None:
            return None
        found = self._search(parse_query(fixed), k=0, offset=0, mode=mode, sort=sort)
        return fixed if found.total > total else None

    def _search(
        self, parsed: ParsedQuery, *, k: int, offset: int, mode: str, sort: str
    ) -> SearchResult:
        notice = parsed.notice
        if mode not in MODES:
            notice, mode = f"unknown mode '{mode}': used hybrid.", "hybrid"
        if sort not in SORTS:
            notice, sort = f"unknown sort '{sort}': sorted by relevance.", "relevance"
        # What matches does not depend on the sort: the nearest neighbours are read to the
        # same depth for every sort (and BM25 counts all its matches), so the total is the
        # same by relevance, date or trending. Candidates keep their real scores on both
        # sides, so pages within the first `candidates` hits neither repeat nor skip one.
        # (BM25 candidates to rerank_depth for every sort would make that exact on every
        # page, but cost hybrid queries +70% at 20k papers: 16 -> 28 ms p50.)
        dense_depth = max(offset + k, self.config.candidates)
        depth = dense_depth if sort == "relevance" else max(dense_depth, self.config.rerank_depth)
        found = self._retrieve(parsed, mode, depth, dense_depth)
        ranked = found.ranked
        if sort != "relevance" or not parsed.text:
            ranked = self._sort(ranked, "date" if sort == "relevance" else sort)
        page = ranked[offset : offset + k]
        hits = self._explain(page, parsed, found)
        return SearchResult(hits, found.total, notice, highlight_words(parsed))

    def size_on_disk(self) -> int:
        """Bytes used by the live generation's index files."""
        if self.live is None:
            return 0
        return sum(p.stat().st_size for p in self.live.folder.rglob("*") if p.is_file())

    def _warming(self) -> SearchResult:
        building = self.root.unfinished(self.config)
        done = ""
        if building is not None:
            after = int(self.root.state_of(building).get("build", {}).get("after_pk") or 0)
            done = f" ({min(99, 100 * after // max(self.store.max_paper_pk(), 1))}% built)"
        notice = (
            f"Search is warming up: this server is building its index{done}. Pages and "
            "feeds work meanwhile; try the search again in a minute."
        )
        return SearchResult([], 0, notice, [], warming=True)

    # Internals ----------------------------------------------------------------------------

    def _embed_one(self, paper: Paper) -> Vectors:
        vectors = self.embedder.embed([paper_text(paper.title, paper.abstract)])
        return np.asarray(vectors[0], dtype=np.float32)

    def _vector_index(self) -> VectorIndex | PgVectorIndex:
        live = self.live
        assert live is not None, "no index generation yet"
        if live.vectors is None:
            dim = self.embedder.dim  # loaded first: a writer waits on the lock, not the model
            with self.root.lock(shared=True):  # files are read whole, never mid-write
                live.open_vectors(dim)
        assert live.vectors is not None
        return live.vectors

    def _request_vectors(self) -> VectorIndex | PgVectorIndex:
        """The live vectors for a request: loaded when they are not, waiting at most
        ``request_wait`` seconds for another process writing the folder (then IndexBusy)."""
        live = self.live
        assert live is not None, "no index generation yet"
        if self.request_wait is None:
            return self._vector_index()
        dim = self.embedder.dim
        deadline = time.monotonic() + self.request_wait
        while live.vectors is None:
            with self.root.lock(shared=True, wait=False) as held:
                if held:
                    live.open_vectors(dim)
                    break
            if time.monotonic() >= deadline:
                raise IndexBusy("the search index is being written; try again shortly")
            time.sleep(0.05)
        assert live.vectors is not None
        return live.vectors

    @property
    def state(self) -> dict[str, object]:
        """The live generation's state ({} when there is none)."""
        return self.live.state if self.live is not None else {}

    @property
    def vectors(self) -> VectorIndex | PgVectorIndex | None:
        """The live vectors, when loaded."""
        return self.live.vectors if self.live is not None else None

    @property
    def passages(self) -> PassageIndex | None:
        """The live passage vectors, when in use and loaded."""
        return self.live.passages if self.live is not None else None

    def _catch_up_files(self) -> bool:
        """Under the folder lock: open the live generation again if another process
        committed to it or swapped in a new one."""
        stamp = self.root.stamp()
        if stamp == self._stamp:
            return False
        name = self.root.current()
        if name is None:
            self._stamp = stamp
            return False
        old = self.live
        if (
            old is not None
            and old.name == name
            and self.root.state_of(name).get("generation") == old.state.get("generation")
        ):
            self._stamp = stamp
            return False
        fresh = self.root.open(name, self.config, self.store.engine)
        if old is not None and old.vectors is not None:  # load first, then swap
            fresh.open_vectors(self.embedder.dim)
        self._adopt(fresh)
        self._stamp = stamp
        return True

    def _adopt(self, generation: Generation) -> None:
        """Make ``generation`` the one searches read (queries under way keep the old)."""
        old, self.live = self.live, generation
        self._stamp = self.root.stamp()
        self._similar.clear()
        if old is not None and old is not generation:
            old.close()
