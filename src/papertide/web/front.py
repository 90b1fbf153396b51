"""The outermost layer of the app, around even the 500 page: every request gets an id, a
place in (or a refusal from) this worker's queue, an access log line and its metrics.

Request id: a well-formed incoming ``X-Request-ID`` (1-128 letters, digits and ``._:-``,
as a proxy or load balancer sets it) is kept, anything else replaced by a new random one;
it is answered in ``X-Request-ID`` and written in every log line of the request.

Load shedding (web/shedding.py): a worker runs ``threads`` requests at once and lets
``serve.queue`` more wait for a thread, none longer than ``serve.max_wait_seconds``; past
that a request is answered 503 with Retry-After at once, without reaching the app, so the
accepted ones keep their latency.
/healthz, /metrics and /static/ are outside the count: they never wait behind the pages
(their work runs in a small pool of their own, ``side_limiter``) and are never refused.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from papertide.logs import REQUEST_ID
from papertide.web import metrics
from papertide.web.shedding import (
    ADMISSION,
    ANSWERED_ON_LOOP,
    Admission,
    bypasses_queue,
    new_request_id,
)

log = logging.getLogger("papertide.access")
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_LOGGED_PATH = 300  # characters of a path (and query) written in the access log


def request_id(scope: Scope) -> str:
    """The id of this request: a well-formed incoming X-Request-ID, else a new one."""
    return id_from(scope["headers"])


def id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """A well-formed X-Request-ID among ``headers``, else a new id."""
    for name, value in headers:
        if name == b"x-request-id":
            given: str = value.decode("latin-1")
            if _WELL_FORMED.fullmatch(given):
                return given
            break
    return new_request_id()


def _carries_body(scope: Scope) -> bool:
    """Whether the request has a body to come: a Content-Length above 0, or chunked."""
    headers = Headers(scope=scope)
    length = headers.get("content-length", "").strip()
    return "transfer-encoding" in headers or length not in ("", "0")


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/papers/{paper_id}``), never the path
    itself, so that metrics have one series per route; ``<unmatched>`` for none (a path no
    route has, or an answer given before routing, such as "starting"). The router sets the
    route in the scope, and the page cache sets it on its hits (web/cache.py)."""
    found: str | None = getattr(scope.get("route"), "path", None)
    return found or "<unmatched>"


@dataclass
class _Passage:
    """One request's way through the front: its place in the count and its answer."""

    admission: Admission
    waiting: bool = False  # in the count now
    refused: bool = False  # refused once its body was in (the app's answer is dropped)
    begun: bool = False  # the answer has started
    status: int = 500
    answered: float | None = None

    def enter(self) -> None:
        self.admission.enter()
        self.waiting = True

    def leave(self, *, paced: bool) -> None:
        if self.waiting:
            self.admission.leave(paced=paced)
            self.waiting = False


class Front:
    """Request id, load shedding, access log and request metrics (see the module)."""

    def __init__(self, app: ASGIApp, *, admission: Admission = ADMISSION) -> None:
        self.app, self.admission = app, admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request (or pass lifespan and other scopes straight through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        REQUEST_ID.set(rid)  # this request's task (and the threads it starts) only
        header = (b"x-request-id", rid.encode())
        counted = not bypasses_queue(scope["path"])
        if counted and self.admission.full():
            await self._refuse(send, header)
            return
        started, passage = time.perf_counter(), _Passage(self.admission)

        async def answer(message: Message) -> None:
            if passage.refused:
                return
            if message["type"] == "http.response.start":
                passage.begun, passage.status = True, message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                passage.answered = time.perf_counter()
                # Answered: out of the count before the client can read it and ask again on
                # this connection, though the app may still run the answer's background
                # task (a picture wish); a kept-alive client is never its own rival.
                passage.leave(paced=ANSWERED_ON_LOOP not in scope)
            await send(message)

        if counted and _carries_body(scope):
            receive = self._counted_once_in(passage, receive, send, header)
        elif counted:
            passage.enter()
        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, answer)
        finally:
            passage.leave(paced=False)
            metrics.IN_FLIGHT.dec()
            # The latency the client saw: until the answer's last byte was handed over, not
            # the background task after it (a picture wish). A refusal is counted apart.
            if not passage.refused:
                took = (passage.answered or time.perf_counter()) - started
                self._done(scope, passage.status, took)

    def _counted_once_in(
        self, passage: _Passage, receive: Receive, send: Send, header: tuple[bytes, bytes]
    ) -> Receive:
        """A request with a body takes its place in the count once the body is in: a client
        sending its body slowly holds no thread, and 66 of them a worker would otherwise
        have every other request refused for as long as the body timeout. Refused then if
        the worker filled up meanwhile (the app is told the client left)."""
        coming = True

        async def arrived() -> Message:
            nonlocal coming
            if passage.refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if coming and message["type"] == "http.request" and not message.get("more_body"):
                coming = False
                if not passage.begun and self.admission.full():
                    passage.refused = True
                    await self._refuse(send, header)
                    return {"type": "http.disconnect"}
                passage.enter()
            return message

        return arrived

    def _done(self, scope: Scope, status: int, seconds: float) -> None:
        route = route_template(scope)
        metrics.REQUESTS.labels(scope["method"], route, str(status)).inc()
        metrics.LATENCY.labels(route, str(status)).observe(seconds)
        client = scope.get("client")
        peer = f"{client[0]}:{client[1]}" if client else "-"
        query = scope.get("query_string", b"")
        target = scope["path"] + ("?" + query.decode("latin-1") if query else "")
        log.info(
            '%s "%s %s" %d %.1f ms',
            peer,
            scope["method"],
            target[:_LOGGED_PATH],
            status,
            seconds * 1000,
        )

    async def _refuse(self, send: Send, header: tuple[bytes, bytes]) -> None:
        self.admission.note_refused()
        headers = [*self.admission.headers, header]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": self.admission.body})
