"""A web worker's start: the store, the site's key and the search index opened off the event
loop, so that the worker serves from its first moment (answering 503 "starting" with
Retry-After until they are open) and a SIGTERM is obeyed whatever it is opening.

Under `serve` (``create_app(..., background=True)``) the opening runs in a thread of its
own. A database that does not answer (refused, unreachable, restarting, a wrong password)
is waited for with backoff, one log line an attempt naming what is awaited and why; it is
not a reason to exit, since a node started before its database (a reboot, an orchestrator
starting everything at once) should come up when the database does. Anything else (a
database a newer papertide migrated, an unusable data folder) is logged in one line and the
process exits with status 3, which stops `serve` (uvicorn's supervisor stops on a worker
that failed to start). In process (TestClient) the opening happens in the lifespan itself,
and fails at once.

``StartingGate`` is the ASGI layer that answers for the worker until then: every request
but the static files gets papertide.starting's answer (JSON under /api/, for /healthz and
/metrics, a page that reloads itself elsewhere).
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.types import ASGIApp, Receive, Scope, Send

from papertide.config import Settings
from papertide.mail.digest import signing_secret
from papertide.starting import starting_answer
from papertide.store import Store
from papertide.store.revisions import SchemaTooNew

log = logging.getLogger("papertide.web.startup")
T = TypeVar("T")
FIRST_WAIT_SECONDS, LONGEST_WAIT_SECONDS = 1.0, 10.0
STARTUP_FAILURE = 3  # uvicorn's supervisor stops when a worker exits with it
_UNREACHABLE = (OperationalError, InterfaceError)


class Stopped(Exception):
    """The process is stopping: the opening gives up."""


class Startup:
    """Opens what a web worker needs (see the module); ``ready`` once it is all open."""

    def __init__(self, settings: Settings, state: Any) -> None:
        self.settings, self.state = settings, state
        self.doing = "opening the store"
        self.ready = threading.Event()
        self.store: Store | None = None
        self.search: Any = None
        self.follower: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open_now(self) -> None:
        """Open everything here and now, failing at once (in process: tests, TestClient)."""
        self._open(retry=False)

    def start(self) -> None:
        """Open everything in a thread, waiting for the database as long as it takes."""
        self._thread = threading.Thread(target=self._run, name="startup", daemon=True)
        self._thread.start()

    def stop(self, seconds: float) -> bool:
        """Give up the opening (waiting at most ``seconds`` for it); whether it has ended."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(seconds)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        try:
            self._open(retry=True)
        except Stopped:
            log.info("start-up given up: the process is stopping")
        except Exception as exc:  # not a database that is down: nothing retrying would fix
            # A newer schema or an unusable folder is one line; anything else is a bug.
            known = isinstance(exc, SchemaTooNew | OSError)
            log.error("error: cannot start: %s", _first_line(exc), exc_info=None if known else exc)
            logging.shutdown()
            os._exit(STARTUP_FAILURE)

    def _open(self, *, retry: bool) -> None:
        settings, state = self.settings, self.state
        store = self._attempt("opening the store", lambda: _open_store(settings), retry=retry)
        self.store = state.store = store
        secret = self._attempt(
            "reading the site's key", lambda: signing_secret(settings, store), retry=retry
        )
        state.csrf_key = hmac.new(secret.encode(), b"papertide-csrf", "sha256").digest()
        self.search, self.follower = self._attempt(
            "opening the search index", lambda: open_search(settings, store), retry=retry
        )
        state.search = self.search
        if self._stop.is_set():
            raise Stopped
        self.doing = "ready"
        self.ready.set()

    def _attempt(self, doing: str, step: Callable[[], T], *, retry: bool) -> T:
        """``step``, again and again while the database does not answer (with ``retry``)."""
        self.doing = doing
        wait, attempt = FIRST_WAIT_SECONDS, 1
        while True:
            if self._stop.is_set():
                raise Stopped
            try:
                return step()
            except _UNREACHABLE as exc:
                if not retry:
                    raise
                self.doing = f"waiting for the database, {doing}"
                log.warning(
                    "waiting for the database %s (%s): %s; attempt %d, next in %.0f s",
                    _where(self.settings.resolved_database_url),
                    doing,
                    _first_line(exc.orig or exc),
                    attempt,
                    wait,
                )
            if self._stop.wait(wait):
                raise Stopped
            wait, attempt = min(wait * 2, LONGEST_WAIT_SECONDS), attempt + 1


def open_search(settings: Settings, store: Store) -> tuple[Any, Any]:
    """The search service on this node's index, and its follower thread (started)."""
    from papertide.search import SearchService
    from papertide.search.background import IndexFollower
    from papertide.search.rwlock import REQUEST_WAIT_SECONDS
    from papertide.web.shedding import ADMISSION

    svc = SearchService.open(settings, store, catch_up=False)
    svc.request_wait = REQUEST_WAIT_SECONDS  # a request never waits longer (503 after)
    follower = IndexFollower(
        svc, interval=settings.search.follow_interval, busy=lambda: ADMISSION.in_progress > 0
    )
    follower.start()
    return svc, follower


def _open_store(settings: Settings) -> Store:
    """The configured store, migrated; its engine let go when that fails."""
    store = Store.open(
        settings.resolved_database_url,
        migrate=False,
        connect_timeout=settings.database_connect_timeout,
    )
    try:
        store.migrate()
    except BaseException:
        store.close()
        raise
    return store


def _where(url: str) -> str:
    """The database named without its password: host, port and database, or the file."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"file {parsed.database}"
    return f"at {parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class StartingGate:
    """Answers 503 "starting" for the worker until its ``Startup`` is ready (see the
    module); a site without one (no lifespan run) is passed straight through."""

    def __init__(self, app: ASGIApp, startup: Callable[[], Startup | None]) -> None:
        self.app, self.startup = app, startup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer it as starting."""
        startup = self.startup() if scope["type"] == "http" else None
        path = scope.get("path", "")
        if startup is None or startup.ready.is_set() or path.startswith("/static/"):
            await self.app(scope, receive, send)
            return
        headers, body = starting_answer(path, startup.doing)
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        if scope["method"] == "HEAD":
            body = b""
        await send({"type": "http.response.body", "body": body})
