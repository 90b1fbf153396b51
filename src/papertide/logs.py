"""Log lines of the long-running processes (`serve` and its workers, `worker`): each with
its time (ISO 8601, UTC, milliseconds), level, logger and, inside a web request, the
request's id, as text or as one JSON object a line.

``REQUEST_ID`` is set by the web front (web/front.py) for the request in hand; AnyIO copies
it into the thread a route runs in, so a route's own log lines carry it too.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

REQUEST_ID: ContextVar[str] = ContextVar("papertide_request_id", default="-")


def utc_stamp(created: float) -> str:
    """``created`` (seconds since the epoch) as ISO 8601 in UTC with milliseconds."""
    moment = datetime.fromtimestamp(created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request it was logged in ("-" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Never drops a record; only adds ``request_id``."""
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    """``2026-12-06T17:20:01.123Z INFO papertide.web.front [3f2a...] message``."""

    def format(self, record: logging.LogRecord) -> str:
        """One line (a traceback, when there is one, follows on the next lines)."""
        message = record.getMessage()
        rid = getattr(record, "request_id", "-")
        line = f"{utc_stamp(record.created)} {record.levelname} {record.name} [{rid}] {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, request_id, message (and error)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as JSON; a traceback goes into ``error`` as text."""
        body: dict[str, Any] = {
            "time": utc_stamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        body.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            body["error"] = self.formatException(record.exc_info)
        return orjson.dumps(body, default=str).decode()


def log_config(*, json: bool = False, level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for our loggers, uvicorn's and everything else's:
    every line to stderr with its time in UTC (uvicorn takes it as ``log_config``)."""
    formatter = "papertide.logs.JsonFormatter" if json else "papertide.logs.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "papertide.logs.RequestIdFilter"}},
        "formatters": {"line": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            # The access log is written by web/front.py (with the request id and route).
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "papertide": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }


@contextmanager
def lines_to(stream: TextIO, *, json: bool = False) -> Iterator[None]:
    """Within the block, papertide's log lines (INFO and up) go to ``stream`` in our format
    (the `worker`'s lines); what the loggers had before is put back after."""
    logger = logging.getLogger("papertide")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler.addFilter(RequestIdFilter())
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        handler.flush()
        logger.handlers, logger.level, logger.propagate = saved
