"""The index follower that runs beside a web process: it builds the first generation when
there is none and then applies the store's change feed every ``follow_interval`` seconds,
so every node converges on what any node (or `papertide ingest`, or the worker) stored,
without a restart. Requests never wait for it: the server listens at once, and searches say
"warming up" until the first generation is live.

Several web workers of one machine share one index folder: whichever takes the folder lock
applies the changes, and the others load that commit (SearchService.sync).

The HNSW graph a generation lacks (a new node, a rebuild) is built by a second thread: that
takes seconds at 100k vectors and minutes at 1M, and the feed goes on being applied beside
it, so a paper stored meanwhile is searchable within a round, not once the graph is in.
The same thread checks a graph that a fold changed for rows no search reaches any more.

A third thread computes the similar lists of the recent papers the feed rounds indexed
(``similar_precompute_days``) and stores them, so the paper pages the feeds link to read a
list on their first view instead of computing one (about 10-20 ms of CPU each at 100k-1M).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from papertide.search.service import SearchService

log = logging.getLogger(__name__)
_MAX_BACKOFF = 60.0
_YIELD_SECONDS = 1.0  # the longest a background list waits for requests in progress


class IndexFollower:
    """A daemon thread that keeps ``svc`` caught up with the store; ``stop`` ends it."""

    def __init__(
        self,
        svc: SearchService,
        *,
        interval: float,
        busy: Callable[[], bool] | None = None,
    ) -> None:
        self.svc = svc
        self.interval = interval
        # Whether this process is answering requests (web workers): background similar
        # lists, which hold the interpreter for tens of ms each, let those go first.
        self.busy = busy
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, args=(self.step, True), name="index-follower", daemon=True
        )
        self._graph_thread = threading.Thread(
            target=self._loop, args=(self.graph_step, False), name="index-graph", daemon=True
        )
        self._similar_thread = threading.Thread(
            target=self._loop, args=(self.similar_step, False), name="index-similar", daemon=True
        )
        # Recent papers indexed here whose similar list is not looked at yet, newest first
        # (a dict keeps the order and drops repeats).
        self._pending: dict[int, None] = {}
        self._pending_lock = threading.Lock()
        self.rounds = 0  # completed rounds (tests and /healthz can tell it is alive)

    def start(self) -> None:
        """Start following (the first round runs at once)."""
        self._thread.start()
        self._graph_thread.start()
        self._similar_thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the threads to end after their current round, and wait up to ``timeout``
        seconds in all for them; whether they have ended. (A graph or a generation being
        built is left to its daemon thread: the next start builds it again.)"""
        self._stop.set()
        deadline = time.monotonic() + timeout
        threads = (self._thread, self._graph_thread, self._similar_thread)
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)

    def step(self) -> int:
        """One round: build or apply what is new (unless another process is at it), else
        load another process's commit. Returns how many papers this round indexed."""
        svc = self.svc
        if not svc.ready or svc.store.has_changes(svc.position):
            indexed = svc.refresh(wait=False, graph=False)  # the graph: graph_step
            if indexed:
                log.info("search index: %d papers indexed from the change feed", indexed)
                self._want_similar(svc.indexed)
            svc.sync(wait=True)
            return indexed
        svc.sync(wait=True)
        return 0

    def graph_step(self) -> int:
        """Build the HNSW graph the live generation lacks, if no process is at it (also when
        a builder died after its swap and left none), else check a graph a fold changed for
        rows no search reaches (SearchService.audit_graph). Returns 1 when it built one."""
        if not self.svc.ready:
            return 0
        if self.svc.build_graph(wait=False):
            return 1
        self.svc.audit_graph(wait=False)
        return 0

    def _want_similar(self, indexed: list[int]) -> None:
        """Queue those of ``indexed`` dated within ``search.similar_precompute_days`` of the
        newest paper, newest first: only they wait for similar_step (a first build indexes
        every paper, and holding a million row keys for a few thousand lists is waste)."""
        days = self.svc.config.similar_precompute_days
        if days == 0 or not indexed:
            return
        recent = self.svc.store.recent_paper_pks(days)
        wanted = set(recent).intersection(indexed)
        with self._pending_lock:
            self._pending.update(dict.fromkeys(pk for pk in recent if pk in wanted))

    def similar_step(self) -> int:
        """Compute and store the similar lists of the recent papers this process's feed
        rounds indexed (``_want_similar``), once the HNSW graph is in; returns how many
        lists it computed.

        Only the process that applied a change has its papers in hand (web workers sharing
        a folder load each other's commits), so one process computes each list; a node
        that finds a fresh list stored by another skips it. A list left undone when the
        process stops is computed on its paper's first view, as before."""
        svc = self.svc
        vectors = svc.vectors
        with self._pending_lock:
            if not self._pending:
                return 0
            if not svc.ready or (vectors is not None and vectors.graph_wanted()):
                return 0  # exact search until the graph is in: later
            todo, self._pending = list(self._pending), {}
        done = 0
        for pk in todo:
            if self._stop.is_set():
                break
            self._let_requests_go_first()
            done += svc.precompute_similar([pk])
        if done:
            log.info("similar lists: %d computed for recent papers", done)
        return done

    def _let_requests_go_first(self) -> None:
        """Wait while this process has requests in progress, up to _YIELD_SECONDS: under a
        steady load the lists still advance (one a second at least), and a request is not
        kept waiting behind one (those left undone are computed on first view)."""
        if self.busy is None:
            return
        deadline = time.monotonic() + _YIELD_SECONDS
        while self.busy() and time.monotonic() < deadline and not self._stop.is_set():
            self._stop.wait(0.01)

    def _loop(self, round_: Callable[[], int], counted: bool) -> None:
        """Run ``round_`` every interval, backing off on errors; ``counted``: the feed's
        rounds, which ``rounds`` counts."""
        delay = 0.0
        while not self._stop.wait(delay):
            try:
                round_()
                delay = self.interval
            except Exception:  # a database restart, a full disk: retry, slower each time
                delay = min(max(delay * 2, self.interval, 1.0), _MAX_BACKOFF)
                log.exception("search index: following the store failed; retrying in %.0f s", delay)
            if counted:
                self.rounds += 1
