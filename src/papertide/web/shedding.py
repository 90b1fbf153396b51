"""Load shedding: how many requests this worker process has in progress, how long a new one
would wait for a thread, and the refusal it answers when that wait is too long.

A request is refused when its worker already has ``threads + serve.queue`` requests in
progress, or when the wait it would have, in the worker's recent pace, is longer than
``serve.max_wait_seconds``. The count alone cannot bound the wait: 66 requests take 0.5 s to
drain on a fast host and 1 s on one half as fast, and a count short enough for the slow host
refuses the fast one's ordinary load. The pace is the time between the threads' answers
while requests wait for one (a moving average over the last hundred-odd answers). Neither
the time with no request waiting counts, nor the answers given on the event loop without a
thread, such as the page cache's hits: they never wait, and would make the threads look
quicker than they are. The wait ahead of a newcomer is the number of requests ahead of it
times the pace.

One ``Admission`` per process (``ADMISSION``), set up by ``create_app`` and counted by the
front (web/front.py) for every request outside the bypass (/healthz, /metrics,
/static/...). A refusal is made as early and as cheaply as possible: the connection
handler (web/protocol.py) answers it as soon as a request's headers are parsed, before any
task or ASGI call exists, because a client that ignores Retry-After comes straight back,
and every refusal's cost is taken from the requests accepted (256 wrk connections on one
worker's /trending: refused through the app, 122 of some 3,000 answers a second went to
accepted requests; refused in the handler, with the connection left unread for 0.1 s, 849
a second against 1,122 at 16 connections). The front refuses too, for requests that reach
it another way (pipelined ones, TestClient).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from papertide.config import Settings
from papertide.serve_settings import ServeSettings
from papertide.web import metrics

log = logging.getLogger("papertide.access")
BYPASS_PATHS = frozenset({"/healthz", "/metrics"})
BYPASS_PREFIXES = ("/static/",)
_BODY = b'{"error": "The server is busy; try again in a moment.", "status": 503}'
ANSWERED_ON_LOOP = "papertide.answered_on_loop"
"""Scope key set by whatever answers a request on the event loop without a thread."""
_PACE_WEIGHT = 1 / 128  # of each new gap in the moving average: about the last second
# of a busy worker. At 1 / 32 a single stall of S seconds lengthened the wait reckoned for 64
# requests ahead by 2 S (here by S / 2).
_PACE_KNOWN = 64  # answers before the pace is trusted; until then the count alone limits
_DEFAULT_THREADS: int = Settings.model_fields["threads"].default
# Connections left unread after a refusal from which on a request sent into that pause has
# the pause counted as waiting: 256 closed-loop connections on 2 workers keep some 100 a
# worker there, a 64-connection load just over the limit one or two.
_CROWD = 8


def bypasses_queue(path: str) -> bool:
    """Whether a request to ``path`` is outside the count (health, metrics, static files:
    cheap, and what a load balancer and a browser need most)."""
    return path in BYPASS_PATHS or path.startswith(BYPASS_PREFIXES)


def new_request_id() -> str:
    """A fresh request id: 16 hex digits."""
    return secrets.token_hex(8)


class Admission:
    """This process's count of requests in progress, its pace, its limits and its refusal.

    Touched only on the event loop (the front and the connection handler): no lock."""

    def __init__(self, *, clock: Callable[[], float] = time.perf_counter) -> None:
        """The limits of a worker with default settings (``threads``, ``serve.*``) until
        ``configure_for`` or ``configure`` sets its own."""
        self.in_progress, self.clock = 0, clock
        self.turned_away = 0  # connections left unread after a refusal (web/protocol.py)
        self._waiting_since: float | None = None  # since when requests wait for a thread
        self.configure_for(_DEFAULT_THREADS, ServeSettings())
        self._refused, self._since = 0, time.monotonic()

    def configure_for(self, threads: int, serve: ServeSettings) -> None:
        """The limits of a worker of ``threads`` threads with these serve settings: its
        threads and ``serve.queue`` admitted at once, ``serve.max_wait_seconds``, and
        ``serve.retry_after_seconds``."""
        self.configure(
            capacity=threads + serve.queue,
            retry_after=serve.retry_after_seconds,
            threads=threads,
            max_wait=serve.max_wait_seconds,
        )

    def configure(self, *, capacity: int, retry_after: int, threads: int, max_wait: float) -> None:
        """Requests admitted at once, the worker's threads, the longest expected wait a
        request is admitted to (seconds), and the Retry-After of a refusal. The pace is
        learnt afresh."""
        self.capacity, self.retry_after = capacity, retry_after
        self.threads, self.max_wait = threads, max_wait
        self.pace = 0.0  # seconds between answers while requests wait
        self._paced = 0  # answers the pace was learnt from
        self._last_answer = 0.0
        self.headers = [
            (b"content-type", b"application/json"),
            (b"retry-after", str(retry_after).encode()),
            (b"cache-control", b"no-store"),
            (b"content-length", str(len(_BODY)).encode()),
        ]

    def expected_wait(self) -> float:
        """Seconds a request admitted now would wait for a thread: the requests ahead of it
        times the recent pace (0 until the pace is known: then the count alone
        limits)."""
        ahead = self.in_progress - self.threads + 1
        if ahead <= 0 or self._paced < _PACE_KNOWN:
            return 0.0
        return ahead * self.pace

    def full(self, *, waited: float = 0.0) -> bool:
        """Whether a new request must be refused. ``waited``: seconds it waited unread
        already (its connection paused after a refusal), taken from its allowance while
        many connections are turned away. With a thread free it is admitted whatever it
        waited."""
        if self.in_progress >= self.capacity:
            return True
        if self.in_progress < self.threads:
            return False
        counted = waited if self.turned_away >= _CROWD else 0.0
        return counted + self.expected_wait() > self.max_wait

    def enter(self) -> None:
        """One more request in progress."""
        self.in_progress += 1
        if self.in_progress > self.threads and self._waiting_since is None:
            self._waiting_since = self.clock()

    def leave(self, *, paced: bool) -> None:
        """One request fewer in progress; ``paced``: it was answered by one of the threads
        (a request answered on the event loop, that failed, or whose client left does not
        set the pace)."""
        if paced:
            now = self.clock()
            if self._waiting_since is not None:  # requests waited all along since then
                gap = now - max(self._last_answer, self._waiting_since)
                # The plain mean of the first answers (a new worker's are slow: cold caches),
                # a moving average from then on.
                self._paced += 1
                self.pace += (gap - self.pace) * max(_PACE_WEIGHT, 1 / self._paced)
            self._last_answer = now
        self.in_progress -= 1
        if self.in_progress <= self.threads:
            self._waiting_since = None

    def refusal(self, request_id: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
        """The whole 503 answer, as bytes (counted as refused)."""
        self.note_refused()
        lines = [b"HTTP/1.1 503 Service Unavailable"]
        lines += [b"%s: %s" % pair for pair in (*default_headers, *self.headers)]
        lines.append(b"x-request-id: " + request_id.encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + _BODY

    @property
    def body(self) -> bytes:
        """The JSON body of a refusal."""
        return _BODY

    def note_refused(self) -> None:
        """Count one refusal; a warning a second says how many (never one line each)."""
        metrics.SHED.inc()
        self._refused += 1
        now = time.monotonic()
        if now - self._since >= 1.0:
            log.warning(
                "busy: refused %d requests in %.1f s (threads and queue full, or waits too long)",
                self._refused,
                now - self._since,
            )
            self._refused, self._since = 0, now


ADMISSION = Admission()
