"""Health: ``/healthz`` for load balancers and operators, always JSON."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from papertide.web.feature import Feature
from papertide.web.workers import every_worker, run_dir

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """Whether the database answers, how many papers it holds, and where this node's search
    index stands on the change feed (ready, generation, position, changes still to apply;
    under `serve --workers N`, ``lag`` and ``ready`` are the slowest worker's and
    ``workers`` lists each). 503 while the database is down. Its queries run in a small
    thread pool of their own (``side_limiter``), never waiting behind the pages."""
    state = request.app.state
    try:
        papers, index = await anyio.to_thread.run_sync(
            _read, state.store, state.search, limiter=state.side_limiter
        )
    except OperationalError:
        log.warning("healthz: the database does not answer")
        body = {
            "ok": False,
            "database": "unreachable",
            "status": 503,
            "error": "The database does not answer; try again shortly.",
        }
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    return JSONResponse({"ok": True, "database": "ok", "papers": papers, "index": index})


def _read(store: Any, search: Any) -> tuple[int, dict[str, object]]:
    """Papers stored and the index's status: with several workers, for the slowest of
    them (its lag, and ready only when all are), each worker's in ``workers``. The store is
    asked once, on one connection, for the count and every lag."""
    folder = run_dir()
    workers = every_worker(folder) if folder is not None else []
    position = search.position
    papers, lags = store.health_figures([position, *(at for _, _, at in workers)])
    index = search.status((position, lags[0]))
    if folder is not None:
        each = [
            {"pid": pid, "ready": ready, "position": at.horizon if at else None, "lag": lag}
            for (pid, ready, at), lag in zip(workers, lags[1:], strict=True)
        ]
        index["workers"] = each
        index["lag"] = max([int(index["lag"] or 0), *(w["lag"] for w in each)])
        index["ready"] = bool(index["ready"]) and all(w["ready"] for w in each)
        index["building"] = bool(index["building"]) or not index["ready"] or bool(index["lag"])
    return papers, index


feature = Feature(name="health", routers=(router,))
