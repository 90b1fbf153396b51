"""Error answers, never a stack trace: JSON ``{"error", "status"}`` under /api/ (and for
/healthz), the error page elsewhere; a database that does not answer, or search indexes
written for longer than a request waits (search/rwlock.py), is a 503 with Retry-After,
anything unexpected a logged 500."""

from __future__ import annotations

import contextlib
import logging

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from papertide.search.rwlock import IndexBusy
from papertide.web.deps import request_user
from papertide.web.shedding import ANSWERED_ON_LOOP

log = logging.getLogger(__name__)


async def error_page(request: Request, status: int, message: str) -> Response:
    """A clean error: JSON under /api/, the error page elsewhere."""
    if request.url.path.startswith("/api/") or request.url.path == "/healthz":
        return JSONResponse({"error": message, "status": status}, status_code=status)
    await _user_if_at_hand(request, status)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


RETRY_AFTER_SECONDS = 10


async def _user_if_at_hand(request: Request, status: int) -> None:
    """The error page names the signed-in user, unless finding them fails: the lookup asks
    the database, which may be why there is an error page (a 503 for a signed-in reader
    became a 500, raised from inside the error handler). A 503 does not even try. The read
    runs in the small side pool (``request_user``), never on the event loop, where every
    other connection of the worker would wait for it."""
    if hasattr(request.state, "user"):
        return
    if status != 503:
        with contextlib.suppress(Exception):  # the page without the name, rather than none
            await request_user(request)
            return
    request.state.user = None


def _unavailable(exc: DBAPIError) -> bool:
    """A lost or refused connection, or a database too busy to lock: worth a retry (503)."""
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


def add_error_pages(app: FastAPI) -> None:
    """Clean error pages: JSON under /api/, HTML elsewhere; never a stack trace."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405 or "endpoint" not in request.scope:
            # The router's own answer (no route has the path, or not for this method): no
            # thread ran, so it is not the threads' pace (web/shedding.py).
            request.scope[ANSWERED_ON_LOOP] = True
        message = exc.detail if isinstance(exc.detail, str) else "Something is wrong."
        if exc.status_code == 404 and message == "Not Found":
            message = "There is no such page."
        response = await error_page(request, exc.status_code, message)
        response.headers.update(exc.headers or {})  # Retry-After of a 429, for one
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in exc.errors()
        )
        return await error_page(request, 422, f"Invalid request: {problems}")

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        if not _unavailable(exc):
            return await crash(request, exc)
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        response = await error_page(
            request, 503, "The database is not answering; try again shortly."
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(IndexBusy)
    async def index_busy(request: Request, exc: IndexBusy) -> Response:
        log.info("index busy on %s %s: answered 503", request.method, request.url.path)
        message = "The search index is being updated; try again in a moment."
        response = await error_page(request, 503, message)
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return await error_page(
            request, 500, "Something went wrong on our side; it has been logged."
        )
