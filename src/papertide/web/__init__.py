"""The web app: create_app(settings) builds it; routes are thin, templates do the showing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from itertools import groupby
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from papertide import __version__
from papertide.config import Settings
from papertide.models import Paper
from papertide.store import Store

_HERE = Path(__file__).parent


def get_store(request: Request) -> Store:
    """The app's Store, opened at start-up (a FastAPI dependency)."""
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


def create_app(settings: Settings) -> FastAPI:
    """The ASGI app for ``settings``; it opens the store when it starts and closes it after."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = Store.open(settings.resolved_database_url)
        yield
        app.state.store.close()

    app = FastAPI(title="papertide", version=__version__, lifespan=lifespan)
    templates = Jinja2Templates(directory=_HERE / "templates")

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request, store: StoreDep) -> HTMLResponse:
        papers = store.list_papers(limit=200)
        days: list[tuple[date | None, list[Paper]]] = [
            (day, list(group)) for day, group in groupby(papers, key=lambda p: p.day)
        ]
        return templates.TemplateResponse(
            request, "index.html", {"days": days, "total": store.count_papers()}
        )

    @app.get("/papers/{ref:path}", response_class=HTMLResponse)
    def paper_page(request: Request, ref: str, store: StoreDep) -> HTMLResponse:
        paper = store.get_paper(ref)
        if paper is None:
            raise HTTPException(status_code=404, detail=f"No paper {ref!r}")
        listed = store.listed_with(paper)
        return templates.TemplateResponse(request, "paper.html", {"paper": paper, "listed": listed})

    @app.get("/healthz")
    def healthz(store: StoreDep) -> dict[str, object]:
        return {"ok": True, "papers": store.count_papers()}

    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and worker processes: settings from the environment."""
    return create_app(Settings())
