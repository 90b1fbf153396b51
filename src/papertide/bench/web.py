"""`papertide bench web`: server time of each page at a given store size, the newest papers
with pictures, and its weight on the wire (gzip): the page alone (a repeat visit: assets
have immutable addresses) and with every asset and picture it links at once (a first visit;
pictures a card names for later, when the reader scrolls near, are not counted)."""

from __future__ import annotations

import random
import re
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from papertide.bench.output import Echo
from papertide.bench.pdfs import add_drawn_pictures
from papertide.bench.server import index_ready, wait_until
from papertide.bench.synth import write_snapshot
from papertide.clock import utcnow
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.store import Store
from papertide.web import create_app

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def run_bench_web(base: Settings, *, papers: int, requests: int, voters: int, echo: Echo) -> None:
    """Fill a fresh store with generated papers and votes, then time every page."""
    with tempfile.TemporaryDirectory(prefix="papertide-bench-web-") as tmp:
        settings = base.model_copy(update={"data_dir": Path(tmp), "database_url": None})
        source = write_snapshot(Path(tmp) / "papers.jsonl", papers)
        store = Store.open(settings.resolved_database_url)
        started = time.perf_counter()
        ingest_paths(
            store, [source], settings=settings, options=IngestOptions(fmt="arxiv-snapshot")
        )
        echo(f"imported {papers:,} papers in {time.perf_counter() - started:.0f} s")
        ids = _cast_votes(store, voters)
        newest = [p.pk or 0 for p in store.list_papers(limit=PICTURED)]
        add_drawn_pictures(store, newest, distinct=DRAWN)
        echo(f"pictures for the newest {len(newest):,} papers (drawn from {DRAWN} PDFs)")
        # Generated papers are dated 2024: widen the trending window to hold all of them,
        # so /trending ranks the whole store rather than an empty window.
        oldest = min(p.day for p in store.list_papers(limit=1, offset=papers - 1) if p.day)
        window = (utcnow().date() - oldest).days + 1
        # No page cache: every request renders (a miss; a hit is about 0.1 ms).
        settings = settings.model_copy(
            update={"trending_window_days": window, "page_cache_seconds": 0}
        )
        with warnings.catch_warnings():  # Starlette's note on httpx: not the user's concern
            warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
            from fastapi.testclient import TestClient
        started = time.perf_counter()
        with TestClient(create_app(settings)) as client:
            answered = time.perf_counter() - started
            # The app listens at once and builds its index in the background: time the
            # pages once searches and similar lists go through the built index and graph.
            wait_until(lambda: index_ready(client), 3600, pause=0.2)
            echo(
                f"app answered in {answered:.1f} s; index caught up and HNSW graph built in "
                f"{time.perf_counter() - started:.0f} s"
            )
            _time_pages(client, store, ids, requests, echo)
            _sign_in(client, store)
            _time_signed_in(client, store, ids, requests, echo)
        store.close()


PICTURED = 3000  # the newest papers get pictures: the feeds and trending the worker serves
DRAWN = 6  # distinct paper-like PDFs drawn by the real render child, shared round them


def _cast_votes(store: Store, voters: int) -> list[str]:
    """Votes from ``voters`` accounts on the newest papers; returns every paper id."""
    rng = random.Random(5)
    recent = store.list_papers(limit=2000)
    for n in range(voters):
        user = store.create_user(username=f"bench-{n}", email=None, password_hash="x", now=utcnow())
        for paper in rng.sample(recent, 10):
            store.set_vote(user_pk=user.pk, paper_pk=paper.pk or 0, up=True, now=utcnow())
    return [p.id or "" for p in store.list_papers(limit=5000, offset=0)]


def _sign_in(client: TestClient, store: Store) -> None:
    """Give the client the session of the first voter (never answered from the page cache)."""
    from datetime import timedelta

    from papertide.web.deps import SESSION_COOKIE

    user = store.user_by_name("bench-0")
    assert user is not None
    token = "bench-web-session"
    store.create_session(user_pk=user.pk, token=token, now=utcnow(), ttl=timedelta(hours=1))
    client.cookies.set(SESSION_COOKIE, token)


def _time_signed_in(
    client: TestClient, store: Store, ids: list[str], requests: int, echo: Echo
) -> None:
    """A voter's pages: the latest day with their votes, and For you (their model): kept
    from the last visit, and recomputed after each of their votes."""
    _report(client, "/ (signed in)", lambda: "/", requests, echo, base_p50=0.0)
    _report(client, "/for-you (signed in)", lambda: "/for-you", requests, echo, base_p50=0.0)
    user = store.user_by_name("bench-0")
    assert user is not None
    papers = store.papers_by_id(ids[-requests:])

    def after_a_vote() -> str:
        paper = papers.pop() if papers else None
        if paper is not None:
            store.set_vote(user_pk=user.pk, paper_pk=paper.pk or 0, up=True, now=utcnow())
        return "/for-you"

    after = max(1, requests - 5)
    _report(client, "/for-you (after a vote)", after_a_vote, after, echo, base_p50=0.0)


def _report(
    client: TestClient,
    name: str,
    path: Callable[[], str],
    requests: int,
    echo: Echo,
    *,
    base_p50: float,
) -> float:
    """Time one page: warm-up, then ``requests`` requests; print and return the p50."""
    for _ in range(5):  # warm up
        client.get(path())
    times = []
    for _ in range(requests):
        response = client.get(path())
        assert response.status_code == 200, (name, response.status_code)
        times.append(float(response.headers["server-timing"].split("dur=")[1]))
    times.sort()
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99) - 1]
    ratio = f"({p50 / base_p50:5.1f}x baseline)" if base_p50 else ""
    weight = (
        "" if path().startswith(("/healthz", "/api/", "/pictures/")) else _weight(client, path())
    )
    echo(f"{name:23} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   {ratio}{weight}")
    return p50


def _time_pages(
    client: TestClient, store: Store, ids: list[str], requests: int, echo: Echo
) -> None:
    rng = random.Random(9)
    day = store.latest_day()
    assert day is not None
    words = ["attention", "graph neural", "quantum spin", "diffusion model", "privacy attack"]
    pages: dict[str, Callable[[], str]] = {
        "/healthz (baseline)": lambda: "/healthz",
        "/ (latest day)": lambda: "/",
        "/papers/week": lambda: f"/papers/week/{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}",
        "/papers/month": lambda: f"/papers/month/{day:%Y-%m}",
        "/trending": lambda: "/trending",
        "/papers/{id}": lambda: f"/papers/{rng.choice(ids)}",
        "/search?q=": lambda: f"/search?q={rng.choice(words)}",
        "/api/daily": lambda: "/api/daily",
        "/pictures/ (a card)": lambda: _card_path(client, "/"),
    }
    base_p50 = 0.0
    for name, path in pages.items():
        p50 = _report(client, name, path, requests, echo, base_p50=base_p50)
        base_p50 = base_p50 or p50


def _card_path(client: TestClient, page: str) -> str:
    """The address of a card picture the page names (the first one)."""
    found = re.search(r'"(/pictures/[^"]+\.card\.webp)"', client.get(page).text)
    assert found is not None, "the page names no card picture"
    return found.group(1)


def _weight(client: TestClient, path: str) -> str:
    """The page's gzipped size, and with the assets it links (as a first visit fetches)."""
    gzip = {"Accept-Encoding": "gzip"}
    response = client.get(path, headers=gzip)
    page = response.num_bytes_downloaded  # as sent: httpx has un-gzipped .content
    assets = set(re.findall(r'(?:href|src)="(/(?:static|pictures)/[^"]+)"', response.text))
    linked = sum(client.get(url, headers=gzip).num_bytes_downloaded for url in assets)
    pictures = sum(url.startswith("/pictures/") for url in assets)
    return f"   {page / 1024:5.1f} KB gz, first visit {(page + linked) / 1024:6.1f} KB" + (
        f" ({pictures} pictures)" if pictures else ""
    )
