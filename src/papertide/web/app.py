"""The app factory: ``create_app(settings)`` gathers every feature (web/features/), puts
their routes in order, and wraps them in the site's middleware (body caps, gzip, the page
cache, security headers), static assets, the API's docs, /metrics and the error pages;
outside all of it, even the 500 page, the front (web/front.py): request ids, load
shedding, the access log and request metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
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
from papertide.web import collector, metrics, protocol, workers
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
from papertide.web.startup import StartingGate, Startup
from papertide.web.templating import make_templates

STOP_SECONDS = 2.0  # the lifespan's share of serve's 5 s after SIGTERM (uvicorn takes 2)


def create_app(
    settings: Settings,
    *,
    feature_packages: Sequence[str] = (FEATURES,),
    background: bool = False,
) -> FastAPI:
    """The ASGI app for ``settings``; it opens the store and search index when it starts.

    ``feature_packages``: where the site's features are (web/features/); a site or a test
    may add packages of its own, each module of which declares a ``Feature``.
    ``background``: open them in a thread, answering 503 "starting" meanwhile and waiting
    for a database that does not answer (`serve`; web/startup.py), instead of in the
    lifespan, failing at once (in process)."""

    protocol.configure(settings.serve)  # this process's HTTP limits (web/protocol.py)
    # This process's shedding count (web/shedding.py), shared by the front and the protocol.
    ADMISSION.configure_for(settings.threads, settings.serve)
    app = _Site(
        title="papertide",
        version=__version__,
        lifespan=_lifespan(settings, background=background),
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


def _lifespan(
    settings: Settings, *, background: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's start and stop (see ``create_app``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync routes run in AnyIO's thread pool, 40 threads by default: under load they
        # contend for the GIL and the pool's connections, and the switching cost more than
        # the work (a third of the CPU in the kernel). The loop's own limiter: per process.
        to_thread.current_default_thread_limiter().total_tokens = settings.threads
        # /healthz and /metrics run here, never waiting behind the pages' threads.
        app.state.side_limiter = anyio.CapacityLimiter(2)
        startup = Startup(settings, app.state)
        run = workers.run_dir()  # `serve`'s: where each worker says how far its index is
        if run is not None:
            workers.publish_starting(run)  # `serve`'s early listener hands over to us
        if background:
            startup.start()
        else:
            await to_thread.run_sync(startup.open_now)
        app.state.startup = startup
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(_follow_once_open, startup, app.state.side_limiter, run)
            yield
            tasks.cancel_scope.cancel()
        metrics.forget_this_process()
        if run is not None:
            workers.withdraw(run)
        _close(startup)

    return lifespan


class _Site(FastAPI):
    """FastAPI with the front (web/front.py) outside its whole middleware stack, so that
    it sees, counts and marks every answer, the 500 page included."""

    def build_middleware_stack(self) -> Any:
        """The usual stack, inside the front and the starting gate."""
        stack = StartingGate(super().build_middleware_stack(), self._startup)
        return Front(stack)

    def _startup(self) -> Startup | None:
        found: Startup | None = getattr(self.state, "startup", None)
        return found


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


async def _follow_once_open(
    startup: Startup, limiter: anyio.CapacityLimiter, run: Path | None
) -> None:
    """Once the index is open: its status into the metrics, its position into the run's
    directory (until cancelled)."""
    while not startup.ready.is_set():
        await anyio.sleep(0.05)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(metrics.follow_index, startup.search, limiter)
        if run is not None:
            workers.publish(startup.search, run)
            tasks.start_soon(workers.keep_publishing, startup.search, run)


def _close(startup: Startup) -> None:
    """At shutdown, within STOP_SECONDS whatever is being opened or built: what was opened
    is closed, except an index a thread still builds in (closing it under the build could
    crash; the process is ending, and the next start resumes the build)."""
    opened = startup.stop(STOP_SECONDS / 4)
    follower = startup.follower
    idle = follower.stop(STOP_SECONDS / 2) if follower is not None else True
    if opened and idle and startup.search is not None:
        startup.search.close()
    if startup.store is not None:
        startup.store.close()


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and worker processes: settings from the environment."""
    watch_supervisor()
    collector.tune()  # a serving process's own: tests' apps keep the interpreter's
    return create_app(Settings(), background=True)
