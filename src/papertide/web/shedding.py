"""Load shedding: how many requests this worker process has in progress, and the refusal it
answers past ``threads + serve.queue`` of them.

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

from papertide.web import metrics

log = logging.getLogger("papertide.access")
BYPASS_PATHS = frozenset({"/healthz", "/metrics"})
BYPASS_PREFIXES = ("/static/",)
_BODY = b'{"error": "The server is busy; try again in a moment.", "status": 503}'


def bypasses_queue(path: str) -> bool:
    """Whether a request to ``path`` is outside the count (health, metrics, static files:
    cheap, and what a load balancer and a browser need most)."""
    return path in BYPASS_PATHS or path.startswith(BYPASS_PREFIXES)


def new_request_id() -> str:
    """A fresh request id: 16 hex digits."""
    return secrets.token_hex(8)


class Admission:
    """This process's count of requests in progress, its capacity and its refusal."""

    def __init__(self, capacity: int = 66, retry_after: int = 1) -> None:
        self.in_progress = 0  # touched only on the event loop: no lock needed
        self.configure(capacity=capacity, retry_after=retry_after)
        self._refused, self._since = 0, time.monotonic()

    def configure(self, *, capacity: int, retry_after: int) -> None:
        """Requests admitted at once, and the Retry-After of a refusal."""
        self.capacity, self.retry_after = capacity, retry_after
        self.headers = [
            (b"content-type", b"application/json"),
            (b"retry-after", str(retry_after).encode()),
            (b"cache-control", b"no-store"),
            (b"content-length", str(len(_BODY)).encode()),
        ]

    def full(self) -> bool:
        """Whether a new request must be refused."""
        return self.in_progress >= self.capacity

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
                "busy: refused %d requests in %.1f s (threads and queue full)",
                self._refused,
                now - self._since,
            )
            self._refused, self._since = 0, now


ADMISSION = Admission()
