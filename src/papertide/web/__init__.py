"""The web app: create_app(settings) builds it; routes are thin, web/service.py computes.

HTML pages, the JSON API (/api/...) and the Atom feeds (/feeds/...) call the same service
functions. Every response gets security headers and a CSRF cookie (see web/deps.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from papertide import __version__
from papertide.config import Settings
from papertide.lifetime import watch_supervisor
from papertide.mail.digest import signing_secret
from papertide.normalize import web_url
from papertide.store import Store
from papertide.web import (
    account_link,
    api,
    auth,
    cards,
    feeds,
    list_pages,
    pages,
    social_api,
    social_pages,
    subscriptions,
)
from papertide.web.assets import Assets, has_math, katex_fonts
from papertide.web.cache import PageCache
from papertide.web.compress import SafeGZip
from papertide.web.deps import csrf_token, current_user
from papertide.web.headers import SiteHeaders
from papertide.web.limits import BodyLimit
from papertide.web.openapi import install_openapi
from papertide.web.tex import tex_html
from papertide.words import plural

_HERE = Path(__file__).parent
log = logging.getLogger(__name__)

# Scripts and styles come from this site only (plus the one inline start-up script, by its
# hash: it sets the theme before the first paint); KaTeX needs inline styles and data: fonts.
_CSP = (
    "default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
_BOOT_SCRIPT = (_HERE / "static" / "boot.js").read_text(encoding="utf-8").strip()
_BOOT_HASH = base64.b64encode(hashlib.sha256(_BOOT_SCRIPT.encode()).digest()).decode()
_SECURITY_HEADERS = {
    "Content-Security-Policy": _CSP.format(scripts=f" 'sha256-{_BOOT_HASH}'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "interest-cohort=()",
}
# Swagger UI starts itself with an inline script; a hash beside 'unsafe-inline' would void it.
_DOCS_CSP = _CSP.format(scripts=" 'unsafe-inline'")


def create_app(settings: Settings) -> FastAPI:
    """The ASGI app for ``settings``; it opens the store and search index when it starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in AnyIO's thread pool, 40 threads by default: under load they
        # contend for the GIL and the pool's connections, and the switching cost more than
        # the work (a third of the CPU in the kernel). The loop's own limiter: per process.
        to_thread.current_default_thread_limiter().total_tokens = settings.threads
        store = Store.open(settings.resolved_database_url)
        app.state.store = store
        secret = signing_secret(settings, store)  # shared by every node (in the database)
        app.state.csrf_key = hmac.new(secret.encode(), b"papertide-csrf", "sha256").digest()
        # Listen at once: the index catches up (or is built) in the background.
        app.state.search, follower = _open_search(settings, store)
        yield
        follower.stop()
        app.state.search.close()
        store.close()

    app = FastAPI(
        title="papertide",
        version=__version__,
        lifespan=lifespan,
        description="Research papers: daily feeds, trending, search, similar papers, votes.",
        docs_url=None,  # served below from /static: the default loads Swagger UI from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    assets = Assets(_HERE / "static")
    app.state.assets = assets
    app.state.templates = _templates(assets)

    @app.api_route("/static/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def static(request: Request, path: str) -> Response:
        return await assets.respond(request, path)

    # social_* first: their /papers/ID/... and /api/papers/ID/... routes would otherwise be
    # taken by the paper routes' {ref:path}.
    routers = (social_pages, list_pages, social_api, pages, auth, api, feeds)
    for module in (*routers, account_link, subscriptions):
        app.include_router(module.router)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="papertide API",
            swagger_js_url=assets.url("swagger/swagger-ui-bundle.js"),
            swagger_css_url=assets.url("swagger/swagger-ui.css"),
            swagger_favicon_url=assets.url("favicon.svg"),
        )

    install_openapi(app)  # errors documented as {"error", "status"}, as answered
    app.add_middleware(
        SiteHeaders,
        headers=_SECURITY_HEADERS,
        docs_csp=_DOCS_CSP,
        secure_cookie=settings.cookie_secure,
    )
    # Outside the headers middleware: a hit replays the headers it added, minus the cookie.
    app.add_middleware(
        PageCache, seconds=settings.page_cache_seconds, entries=settings.page_cache_entries
    )
    # Outermost of ours: an oversize body is refused before any route or CSRF check reads it.
    app.add_middleware(BodyLimit, default=settings.max_body_bytes, error_page=error_page)
    app.add_middleware(SafeGZip)  # outside the page cache, which keeps bodies uncompressed
    _add_error_pages(app)
    return app


def _open_search(settings: Settings, store: Store) -> tuple[Any, Any]:
    from papertide.search import SearchService
    from papertide.search.background import IndexFollower

    svc = SearchService.open(settings, store, catch_up=False)
    follower = IndexFollower(svc, interval=settings.search.follow_interval)
    follower.start()
    return svc, follower


def _templates(assets: Assets) -> Jinja2Templates:
    def context(request: Request) -> dict[str, Any]:
        return {"csrf_token": csrf_token(request), "user": current_user(request)}

    templates = Jinja2Templates(directory=_HERE / "templates", context_processors=[context])
    templates.env.globals["version"] = __version__
    templates.env.globals["static_url"] = assets.url
    templates.env.globals["boot_script"] = Markup(_BOOT_SCRIPT)
    templates.env.tests["math"] = has_math
    templates.env.globals["katex_fonts"] = katex_fonts
    cards.register(templates.env)
    templates.env.filters["highlight"] = highlight
    templates.env.filters["tex"] = tex_html  # math delimited for KaTeX (web/tex.py)
    templates.env.filters["plural"] = plural
    templates.env.filters["web_url"] = web_url  # links from imported data: http(s) only
    templates.env.filters["dict_without"] = lambda params, key: [
        (k, v) for k, v in params.multi_items() if k != key
    ]
    return templates


def highlight(text: str, terms: list[str]) -> Markup:
    """Escape ``text``, delimit its math for KaTeX and wrap words starting with a query term
    in <mark>, never inside math (web/tex.py)."""
    return tex_html(text, terms)


def error_page(request: Request, status: int, message: str) -> Response:
    """A clean error: JSON under /api/, the error page elsewhere."""
    if request.url.path.startswith("/api/") or request.url.path == "/healthz":
        return JSONResponse({"error": message, "status": status}, status_code=status)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "message": message}, status_code=status
    )


RETRY_AFTER_SECONDS = 10


def _unavailable(exc: DBAPIError) -> bool:
    """A lost or refused connection, or a database too busy to lock: worth a retry (503)."""
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


def _add_error_pages(app: FastAPI) -> None:
    """Clean error pages: JSON under /api/, HTML elsewhere; never a stack trace."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "Something is wrong."
        if exc.status_code == 404 and message == "Not Found":
            message = "There is no such page."
        return error_page(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in exc.errors()
        )
        return error_page(request, 422, f"Invalid request: {problems}")

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError) -> Response:
        if not _unavailable(exc):
            return await crash(request, exc)
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        response = error_page(request, 503, "The database is not answering; try again shortly.")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_page(request, 500, "Something went wrong on our side; it has been logged.")


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and worker processes: settings from the environment."""
    watch_supervisor()
    return create_app(Settings())


__all__ = ["HTMLResponse", "create_app", "create_app_from_env", "error_page"]
