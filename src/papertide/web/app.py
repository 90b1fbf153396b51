"""The app factory: ``create_app(settings)`` gathers every feature (web/features/), puts
their routes in order, and wraps them in the site's middleware (body caps, gzip, the page
cache, security headers), static assets, the API's docs, /metrics and the error pages;
outside all of it, even the 500 page, the front (web/front.py): request ids, load
shedding, the access log and request metrics."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio import to_thread
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from papertide import __version__
from papertide.config import Settings
from papertide.lifetime import watch_supervisor
from papertide.mail.digest import signing_secret
from papertide.store import Store
from papertide.web import metrics, protocol, workers
from papertide.web.assets import Assets
from papertide.web.cache import PageCache
from papertide.web.compress import SafeGZip
from papertide.web.errors import add_error_pages, error_page
from papertide.web.feature import (
    FEATURES,
    Feature,
    PathSet,
    load_features,
    ordered_routes,
    route_paths,
    template_folders,
)
from papertide.web.front import Front
from papertide.web.headers import DOCS_CSP, SECURITY_HEADERS, SiteHeaders
from papertide.web.limits import BodyLimit
from papertide.web.openapi import install_openapi
from papertide.web.shedding import ADMISSION
from papertide.web.templating import make_templates


def create_app(settings: Settings, *, feature_packages: Sequence[str] = (FEATURES,)) -> FastAPI:
    """The ASGI app for ``settings``; it opens the store and search index when it starts.

    ``feature_packages``: where the site's features are (web/features/); a site or a test
    may add packages of its own, each module of which declares a ``Feature``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in AnyIO's thread pool, 40 threads by default: under load they
        # contend for the GIL and the pool's connections, and the switching cost more than
        # the work (a third of the CPU in the kernel). The loop's own limiter: per process.
        to_thread.current_default_thread_limiter().total_tokens = settings.threads
        # /healthz and /metrics run here, never waiting behind the pages' threads.
        app.state.side_limiter = anyio.CapacityLimiter(2)
        store = Store.open(settings.resolved_database_url)
        app.state.store = store
        secret = signing_secret(settings, store)  # shared by every node (in the database)
        app.state.csrf_key = hmac.new(secret.encode(), b"papertide-csrf", "sha256").digest()
        # Listen at once: the index catches up (or is built) in the background.
        app.state.search, follower = _open_search(settings, store)
        run = workers.run_dir()  # `serve`'s: where each worker says how far its index is
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(metrics.follow_index, app.state.search, app.state.side_limiter)
            if run is not None:
                workers.publish(app.state.search, run)
                tasks.start_soon(workers.keep_publishing, app.state.search, run)
            yield
            tasks.cancel_scope.cancel()
        metrics.forget_this_process()
        if run is not None:
            workers.withdraw(run)
        follower.stop()
        app.state.search.close()
        store.close()

    protocol.configure(settings.serve)  # this process's HTTP limits (web/protocol.py)
    # This process's shedding count (web/shedding.py), shared by the front and the protocol.
    ADMISSION.configure(
        capacity=settings.threads + settings.serve.queue,
        retry_after=settings.serve.retry_after_seconds,
    )
    app = _Site(
        title="papertide",
        version=__version__,
        lifespan=lifespan,
        description="Research papers: daily feeds, trending, search, similar papers, votes.",
        docs_url=None,  # served below from /static: the default loads Swagger UI from a CDN
        redoc_url=None,
    )
    features = load_features(feature_packages)
    app.state.settings = settings
    assets = Assets(Path(__file__).parent / "static")
    app.state.assets = assets
    app.state.templates = make_templates(assets, features, template_folders(feature_packages))
    _add_routes(app, features, assets)
    install_openapi(app)  # errors documented as {"error", "status"}, as answered
    _add_middleware(app, settings, features)
    add_error_pages(app)
    return app


class _Site(FastAPI):
    """FastAPI with the front (web/front.py) outside its whole middleware stack, so that
    it sees, counts and marks every answer, the 500 page included."""

    def build_middleware_stack(self) -> Any:
        """The usual stack, inside the front."""
        return Front(super().build_middleware_stack())


def _add_routes(app: FastAPI, features: list[Feature], assets: Assets) -> None:
    """The site's own routes (static files, API docs) and every feature's, most specific
    address first whatever order the features came in."""

    @app.api_route("/static/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def static(request: Request, path: str) -> Response:
        return await assets.respond(request, path)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="papertide API",
            swagger_js_url=assets.url("swagger/swagger-ui-bundle.js"),
            swagger_css_url=assets.url("swagger/swagger-ui.css"),
            swagger_favicon_url=assets.url("favicon.svg"),
        )
        # A way back to the site, and the page in the reader's colour scheme (docs.css).
        html = bytes(page.body).decode()
        html = html.replace(
            "</head>",
            f'<meta name="color-scheme" content="light dark">'
            f'<link rel="stylesheet" href="{assets.url("docs.css")}"></head>',
            1,
        )
        html = html.replace(
            "<body>",
            '<body><header class="docs-bar"><a href="/">← papertide</a>'
            "<span>The JSON API: try any call below.</span></header>",
            1,
        )
        return HTMLResponse(html)

    # One router holding every feature's routes in order: FastAPI keeps each included router
    # as one entry, so ordering across features has to happen before including them.
    app.include_router(metrics.router)
    site = APIRouter()
    site.routes.extend(ordered_routes(features))
    app.include_router(site)


def _add_middleware(app: FastAPI, settings: Settings, features: list[Feature]) -> None:
    """Added innermost first: the headers, then the page cache, the body cap, gzip."""
    app.add_middleware(
        SiteHeaders,
        headers=SECURITY_HEADERS,
        docs_csp=DOCS_CSP,
        secure_cookie=settings.cookie_secure,
    )
    # Outside the headers middleware: a hit replays the headers it added, minus the cookie.
    app.add_middleware(
        PageCache,
        cached=PathSet((path for f in features for path in f.cached), among=route_paths(features)),
        seconds=settings.page_cache_seconds,
        entries=settings.page_cache_entries,
    )
    # Outermost of ours: an oversize body is refused before any route or CSRF check reads it.
    larger = {path: factor for f in features for path, factor in f.larger_bodies.items()}
    app.add_middleware(
        BodyLimit, default=settings.max_body_bytes, larger=larger, error_page=error_page
    )
    app.add_middleware(SafeGZip)  # outside the page cache, which keeps bodies uncompressed


def _open_search(settings: Settings, store: Store) -> tuple[Any, Any]:
    from papertide.search import SearchService
    from papertide.search.background import IndexFollower
    from papertide.search.rwlock import REQUEST_WAIT_SECONDS

    svc = SearchService.open(settings, store, catch_up=False)
    svc.request_wait = REQUEST_WAIT_SECONDS  # a request never waits longer (503 after)
    follower = IndexFollower(svc, interval=settings.search.follow_interval)
    follower.start()
    return svc, follower


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and worker processes: settings from the environment."""
    watch_supervisor()
    return create_app(Settings())
