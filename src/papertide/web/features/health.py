"""Health: ``/healthz`` for load balancers and operators, always JSON."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from papertide.web.deps import StoreDep
from papertide.web.feature import Feature

log = logging.getLogger(__name__)
router = APIRouter()


@router.get("/healthz")
def healthz(request: Request, store: StoreDep) -> JSONResponse:
    """Whether the database answers, how many papers it holds, and where this node's search
    index stands on the change feed (ready, generation, position, changes still to apply).
    503 while the database is down."""
    try:
        papers = store.count_papers()
        index = request.app.state.search.status()
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


feature = Feature(name="health", routers=(router,))
