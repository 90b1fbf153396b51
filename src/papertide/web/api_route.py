"""The JSON API's routes: a read answers in one trip through the worker's threads.

FastAPI runs a plain-function endpoint in the thread pool, then checks its answer against
``response_model`` in the thread pool again. The pool is the worker's ``threads`` (two), so
under load an API read queued for a thread twice, behind every page waiting there: in
`bench load`'s mix, `/api/search` took a median of 416 ms in the server against 238 ms for
`/search`, which does the same work and renders HTML besides. A GET route of the API
(``ApiRoute``, through ``api_router``) checks and writes its answer in the thread that ran
it, by the same model and with the same options as FastAPI (aliases, from attributes), and
hands FastAPI a finished response. The OpenAPI schema is unchanged: it comes from the
route's ``response_model``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.routing import APIRoute
from pydantic import TypeAdapter


class ApiRoute(APIRoute):
    """An API route; a plain-function GET with a response model answers in one trip."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        model = kwargs.get("response_model")
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        if (
            model is not None
            and not isinstance(model, DefaultPlaceholder)
            and methods <= {"GET", "HEAD"}
            and not inspect.iscoroutinefunction(endpoint)
            and not _sets_headers(endpoint)
        ):
            endpoint = answered_in_thread(endpoint, model, kwargs.get("status_code") or 200)
        super().__init__(path, endpoint, **kwargs)


def _sets_headers(endpoint: Callable[..., Any]) -> bool:
    """Whether the endpoint takes FastAPI's ``Response`` parameter to set headers or cookies,
    which FastAPI adds only to an answer it writes itself."""
    hints = inspect.signature(endpoint, eval_str=True).parameters.values()
    return any(isinstance(p.annotation, type) and issubclass(p.annotation, Response) for p in hints)


def answered_in_thread(endpoint: Callable[..., Any], model: Any, status: int) -> Callable[..., Any]:
    """``endpoint`` returning its answer checked by ``model`` and written as JSON (a
    response it returns itself passes as it is). FastAPI reads the parameters through
    ``__wrapped__``, so they are the endpoint's own."""
    adapter: TypeAdapter[Any] = TypeAdapter(model)

    @functools.wraps(endpoint)
    def answered(*args: Any, **kwargs: Any) -> Any:
        found = endpoint(*args, **kwargs)
        if isinstance(found, Response):
            return found
        checked = adapter.validate_python(found, from_attributes=True)
        body = adapter.dump_json(checked, by_alias=True)
        return Response(body, status_code=status, media_type="application/json")

    return answered


def api_router() -> APIRouter:
    """A feature's router for the JSON API: under ``/api``, tagged ``api``, with ApiRoute."""
    return APIRouter(prefix="/api", tags=["api"], route_class=ApiRoute)


__all__ = ["ApiRoute", "answered_in_thread", "api_router"]
