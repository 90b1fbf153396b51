"""The OpenAPI document tells the errors as the API answers them: ``{"error", "status"}``.

FastAPI documents every validation failure as 422 ``{"detail": [...]}`` (its
HTTPValidationError), but web/__init__.py answers every error, 422 included, as
``{"error": message, "status": code}``. This rewrites the generated schema once: each API
operation's 422 and the other errors it can answer point at one ``Error`` schema, and
FastAPI's validation schemas are dropped.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "description": "Every error the site answers under /api/ (and for /healthz).",
    "properties": {
        "error": {"type": "string", "description": "What went wrong, for people."},
        "status": {"type": "integer", "description": "The HTTP status, repeated."},
    },
    "required": ["error", "status"],
}
_REF = {"$ref": "#/components/schemas/Error"}
_ALWAYS = {
    "422": "Invalid request: a parameter or the body is malformed (the message names it).",
    "503": "The database does not answer; try again after Retry-After seconds.",
}
_WRITES = {
    "401": "Log in first.",
    "403": "Cross-site request, or a missing or wrong CSRF token.",
    "413": "The request body is larger than this address takes.",
}


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the schema with the site's real error bodies."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _with_errors(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _with_errors(schema: dict[str, Any]) -> dict[str, Any]:
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR_SCHEMA
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            errors = dict(_ALWAYS)
            if "{" in path:
                errors["404"] = "No such paper, period or page."
            if method in ("post", "put", "patch", "delete"):
                errors.update(_WRITES)
            responses = operation.setdefault("responses", {})
            for code, description in errors.items():
                responses[code] = {
                    "description": description,
                    "content": {"application/json": {"schema": _REF}},
                }
    return schema
