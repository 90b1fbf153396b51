"""A readers-writer lock for the threads of one process: queries read the in-memory indexes
together; the follower thread changes them alone, and only for the moment of the change
(embedding and database reads happen before it takes the lock)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

# How long a request waits for the indexes (this process's writer, another process's write
# of the folder) before it is answered 503 with Retry-After instead: a first similar list
# once waited 34.8 s behind writes under load, where 0.02-0.66 s is usual.
REQUEST_WAIT_SECONDS = 5.0


class IndexBusy(Exception):
    """The indexes were being written for longer than a request waits (503, try again)."""


class ReadWriteLock:
    """Many readers or one writer; a waiting writer lets no new reader in (no starvation)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer: int | None = None  # thread ident of the writer
        self._depth = 0  # the writer's re-entries
        self._waiting = 0

    @contextmanager
    def reading(self, timeout: float | None = None) -> Iterator[None]:
        """Hold the lock shared (re-entrant inside the writer's own thread); IndexBusy when
        a writer keeps it longer than ``timeout`` seconds (None: wait as long as it takes)."""
        me = threading.get_ident()
        if self._writer == me:
            yield
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._writer is not None or self._waiting:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise IndexBusy("the search index is being written; try again shortly")
                self._cond.wait(left)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the lock alone (re-entrant)."""
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
            else:
                self._waiting += 1
                while self._writer is not None or self._readers:
                    self._cond.wait()
                self._waiting -= 1
                self._writer, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._writer = None
                    self._cond.notify_all()
