"""Prometheus metrics: ``/metrics`` in the text format, for every web worker at once.

Request metrics are counted where a request passes (web/front.py); the index's lag and feed
position, and the cycle collector's passes (web/collector.py), are set by each worker every
few seconds (``follow_index``); the store's own
figures (papers stored, the change feed's head, digests in the outbox by status) are read
from the database when /metrics is asked for.

Several workers (`serve --workers N`): `serve` gives every run a directory of its own in
PROMETHEUS_MULTIPROC_DIR (DATA_DIR/run/metrics-PID, emptied at start by cli/serve_cmd.py);
each worker process writes its values there (prometheus-client's multiprocess mode) and
whichever worker answers /metrics adds them all up. Without that variable (tests on
create_app) the values live in this process.

Who may read it: with ``serve.metrics_token`` set, a request that carries it as a bearer
token; without one, only a client on this machine that came through no proxy (a
request forwarded by a proxy could come from anyone). Everyone else gets 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy.exc import DBAPIError

from papertide.lifetime import process_alive
from papertide.web import collector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FOLLOW_SECONDS = 5.0
_OWN = CollectorRegistry(auto_describe=True)
# Latency buckets in seconds: from a cached page (about a millisecond) to a slow search.
_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter(
    "papertide_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
    registry=_OWN,
)
LATENCY = Histogram(
    "papertide_http_request_duration_seconds",
    "Time from a request's arrival at the app to the end of its answer.",
    ("route", "status"),
    buckets=_BUCKETS,
    registry=_OWN,
)
IN_FLIGHT = Gauge(
    "papertide_http_requests_in_flight",
    "Requests being answered or waiting for a thread, over every worker.",
    registry=_OWN,
    multiprocess_mode="livesum",
)
SHED = Counter(
    "papertide_http_requests_shed",
    "Requests refused with 503 because a worker's threads and queue were full, or a "
    "request would have waited longer than serve.max_wait_seconds.",
    registry=_OWN,
)
INDEX_LAG = Gauge(
    "papertide_index_lag_changes",
    "Changes of the feed the slowest worker's search index has still to apply.",
    registry=_OWN,
    multiprocess_mode="livemax",
)
INDEX_POSITION = Gauge(
    "papertide_index_feed_position",
    "Feed position the slowest worker's search index has applied.",
    registry=_OWN,
    multiprocess_mode="livemin",
)
INDEX_READY = Gauge(
    "papertide_index_ready",
    "1 when every worker's search index is ready, else 0.",
    registry=_OWN,
    multiprocess_mode="livemin",
)
GC_PASSES = Counter(
    "papertide_gc_passes",
    "Passes of Python's cycle collector in the web workers, by generation (0 young, 2 full); "
    "each pauses every request of its worker.",
    ("generation",),
    registry=_OWN,
)
GC_SECONDS = Counter(
    "papertide_gc_seconds",
    "Seconds the web workers spent in the cycle collector, by generation.",
    ("generation",),
    registry=_OWN,
)


def _multiproc_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def forget_this_process() -> None:
    """At a worker's shutdown: its live gauges (in-flight, index) stop counting."""
    folder = _multiproc_dir()
    if folder:
        mark_process_dead(os.getpid(), folder)  # type: ignore[no-untyped-call]


def _forget_dead(folder: str) -> None:
    """Live gauges of workers killed without a shutdown (their files name their pid)."""
    for path in Path(folder).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            mark_process_dead(int(pid), folder)  # type: ignore[no-untyped-call]


class _Own(Collector):
    """This process's own metrics (no multiprocess directory)."""

    def collect(self) -> Iterable[Metric]:
        """Every metric of this module."""
        return _OWN.collect()


class _StoreFigures(Collector):
    """Figures read from the database at scrape time (one query each)."""

    def __init__(self, figures: dict[str, Any] | None) -> None:
        self.figures = figures

    def collect(self) -> Iterator[Metric]:
        """Whether the database answered; papers stored, the feed's head, digests in the
        outbox by status (when it did)."""
        f = self.figures
        yield GaugeMetricFamily(
            "papertide_database_up", "1 when the database answered this scrape.", f is not None
        )
        if f is None:
            return
        yield GaugeMetricFamily("papertide_papers_stored", "Papers in the store.", f["papers"])
        yield GaugeMetricFamily(
            "papertide_feed_head", "Position of the store's change feed.", f["head"]
        )
        outbox = GaugeMetricFamily(
            "papertide_digest_outbox", "Digests in the outbox, by status.", labels=["status"]
        )
        for status, count in sorted(f["outbox"].items()):
            outbox.add_metric([status], count)
        yield outbox


def read_store_figures(store: Any) -> dict[str, Any]:
    """What ``_StoreFigures`` reports, read now (blocking: call it off the event loop)."""
    from papertide.store.outbox import outbox_counts

    return {
        "papers": store.health_figures([])[0],  # counted again only when the feed moved
        "head": store.feed_head().horizon,
        "outbox": outbox_counts(store),
    }


def render(store_figures: dict[str, Any] | None) -> bytes:
    """The text exposition of every worker's metrics and the store's figures."""
    registry = CollectorRegistry()
    folder = _multiproc_dir()
    if folder:
        _forget_dead(folder)
        MultiProcessCollector(registry, path=folder)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Own())
    registry.register(_StoreFigures(store_figures))
    return generate_latest(registry)


def note_collector() -> None:
    """Add the cycle collector's passes and time since the last call (web/collector.py)."""
    for generation, passes, seconds in collector.since_noted():
        if passes:
            GC_PASSES.labels(str(generation)).inc(passes)
            GC_SECONDS.labels(str(generation)).inc(seconds)


def note_index(status: dict[str, object]) -> None:
    """Record this worker's index status (``SearchService.status()``)."""
    lag, position = status.get("lag"), status.get("position")
    INDEX_LAG.set(float(lag) if isinstance(lag, int) else 0.0)
    INDEX_POSITION.set(float(position) if isinstance(position, int) else 0.0)
    INDEX_READY.set(1.0 if status.get("ready") else 0.0)


async def follow_index(search: Any, limiter: anyio.CapacityLimiter) -> None:
    """Every few seconds, this worker's index status into its gauges (until cancelled)."""
    while True:
        note_collector()
        with contextlib.suppress(Exception):  # the database may be down: the values stand
            note_index(await anyio.to_thread.run_sync(search.status, limiter=limiter))
        await asyncio.sleep(FOLLOW_SECONDS)


def allowed(request: Request, token: str | None, trusted_proxies: list[str]) -> bool:
    """Whether ``request`` may read /metrics (see the module's docstring)."""
    if token:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    headers = request.headers
    if any(h in headers for h in ("x-forwarded-for", "forwarded", "x-real-ip")):
        return False
    peer = request.client.host if request.client else ""
    if not _loopback(peer):
        return False
    # A proxy on this machine, named as trusted, means local requests may be anyone's.
    return not any(_loopback(p.split("/")[0]) for p in trusted_proxies)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus' text format (404 to a client that may not read it)."""
    settings = request.app.state.settings
    if not allowed(request, settings.serve.metrics_token, settings.trusted_proxies):
        return Response("Not found", status_code=404, media_type="text/plain")
    limiter = request.app.state.side_limiter
    search = request.app.state.search
    note_collector()
    try:
        note_index(await anyio.to_thread.run_sync(search.status, limiter=limiter))
        figures = await anyio.to_thread.run_sync(
            read_store_figures, request.app.state.store, limiter=limiter
        )
    except DBAPIError:  # the database is down: the workers' own figures still count
        figures = None
    return Response(render(figures), media_type=CONTENT_TYPE)
