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
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
        if name == b"transfer-encoding":
            return True
    return False


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/papers/{paper_id}``), never the path
    itself, so that metrics have one series per route; ``<unmatched>`` for none (a path no
    route has, or an answer given before routing, such as "starting"). The router sets the
    route in the scope, and the page cache sets it on its hits (web/cache.py)."""
    found: str | None = getattr(scope.get("route"), "path", None)
    return found or "<unmatched>"


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
        started, status, waiting = time.perf_counter(), 500, False
        answered: float | None = None
        # A request with a body takes its place in the count once the body is in: a client
        # sending its body slowly holds no thread, and 66 of them a worker would otherwise
        # have every other request refused for as long as the body timeout.
        carrying, refused, begun = counted and _carries_body(scope), False, False

        def enter() -> None:
            nonlocal waiting
            self.admission.enter()
            waiting = True

        async def arrived() -> Message:
            nonlocal carrying, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if carrying and message["type"] == "http.request" and not message.get("more_body"):
                carrying = False
                if not begun and self.admission.full():
                    # The app is told the client left, and what it answers is dropped.
                    refused = True
                    await self._refuse(send, header)
                    return {"type": "http.disconnect"}
                enter()
            return message

        async def answer(message: Message) -> None:
            nonlocal status, waiting, answered, begun
            if refused:
                return
            if message["type"] == "http.response.start":
                begun, status = True, message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                answered = time.perf_counter()
                # Answered: out of the count before the client can read it and ask again on
                # this connection, though the app may still run the answer's background
                # task (a picture wish); a kept-alive client is never its own rival.
                if waiting:
                    self.admission.leave(paced=ANSWERED_ON_LOOP not in scope)
                waiting = False
            await send(message)

        if counted and not carrying:
            enter()
        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, arrived if carrying else receive, answer)
        finally:
            if waiting:
                self.admission.leave(paced=False)
            metrics.IN_FLIGHT.dec()
            # The latency the client saw: until the answer's last byte was handed over, not
            # the background task after it (a picture wish). A refusal is counted apart.
            if not refused:
                self._done(scope, status, (answered or time.perf_counter()) - started)

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
