"""What a running site tells its operator, through real processes: /metrics adding up every
worker of `serve --workers 2` by route template, request ids in answers and log lines, and
log lines of serve and the worker stamped with their time in UTC."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from papertide.cli.serve_cmd import prepare_run_dir
from tests.support.live_server import LiveSite, live_site

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """Two worker processes."""
    with live_site(tmp_path_factory.mktemp("metrics") / "data", "--workers", "2") as running:
        yield running


def _samples(text: str) -> dict[str, float]:
    """``name{labels}`` -> value of every sample in a text exposition."""
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            found[key] = float(value)
    return found


def _scrape(site: LiveSite) -> dict[str, float]:
    answer = httpx.get(site.url + "/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return _samples(answer.text)


def test_metrics_add_up_every_worker_by_route_template(site: LiveSite) -> None:
    healthz = 'papertide_http_requests_total{method="GET",route="/healthz",status="200"}'
    paper = 'papertide_http_requests_total{method="GET",route="/papers/{ref:path}",status="404"}'
    trending = 'papertide_http_requests_total{method="GET",route="/trending",status="200"}'
    before = _scrape(site)
    for n in range(40):  # a new connection each: the kernel spreads them over the workers
        assert httpx.get(site.url + "/healthz").status_code == 200
        assert httpx.get(site.url + f"/papers/2401.{n:05d}").status_code == 404
        # Most of these are answered from the page cache, before routing: the same route.
        assert httpx.get(site.url + "/trending").status_code == 200
    after = _scrape(site)
    assert after[healthz] - before.get(healthz, 0) == 40
    assert after[paper] - before.get(paper, 0) == 40
    assert after[trending] - before.get(trending, 0) == 40
    assert not [key for key in after if "2401.0" in key]  # templates, never raw paths
    bucket = 'papertide_http_request_duration_seconds_count{route="/healthz",status="200"}'
    assert after[bucket] >= 40
    # Both workers wrote their own counts, in this run's directory.
    run = next((site.log.parent / "data" / "run").glob("metrics-*"))
    assert len(list(run.glob("counter_*.db"))) == 2
    for name in (
        "papertide_http_requests_in_flight",
        "papertide_http_requests_shed_total",
        "papertide_index_lag_changes",
        "papertide_index_feed_position",
        "papertide_papers_stored",
        "papertide_feed_head",
        "papertide_database_up",
    ):
        assert name in after, name
    assert after["papertide_database_up"] == 1


def test_metrics_are_not_shown_to_a_request_that_came_through_a_proxy(site: LiveSite) -> None:
    forwarded = httpx.get(site.url + "/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.status_code == 404
    assert "papertide_" not in forwarded.text


def test_request_ids_are_answered_and_logged(site: LiveSite) -> None:
    kept = httpx.get(site.url + "/healthz", headers={"X-Request-ID": "lb-7f3a.42:x"})
    assert kept.headers["X-Request-ID"] == "lb-7f3a.42:x"
    bad = httpx.get(site.url + "/trending", headers={"X-Request-ID": "<script>" + "x" * 200})
    made = bad.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{16}", made)
    missing = httpx.get(site.url + "/api/trending").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{16}", missing) and missing != made
    time.sleep(0.3)
    log = site.log.read_text()
    for rid, target in (("lb-7f3a.42:x", "GET /healthz"), (made, "GET /trending")):
        line = next(x for x in log.splitlines() if f"[{rid}]" in x)
        assert re.match(STAMP + r" INFO papertide\.access ", line), line
        assert f'"{target}" 200 ' in line
    assert "<script>" not in log


def test_serve_lines_are_stamped_in_utc(site: LiveSite) -> None:
    lines = [x for x in site.log.read_text().splitlines() if x and not x.startswith("papertide on")]
    assert lines
    assert all(re.match(STAMP + r" (INFO|WARNING|ERROR) ", x) for x in lines), lines[:5]


def _worker(data_dir: Path, **env: str) -> list[str]:
    environ = {**os.environ, "PAPERTIDE_DATA_DIR": str(data_dir), **env}
    environ.pop("PAPERTIDE_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "papertide", "worker", "--once", "--no-sync"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()


def test_worker_lines_are_stamped_in_utc(tmp_path: Path) -> None:
    lines = _worker(tmp_path / "data")
    assert any("due 0, composed 0" in x for x in lines), lines
    assert lines and all(re.match(STAMP + r" INFO papertide\.worker \[-\] ", x) for x in lines)


def test_worker_lines_as_json(tmp_path: Path) -> None:
    lines = _worker(tmp_path / "data", PAPERTIDE_SERVE__LOG_JSON="true")
    records = [json.loads(x) for x in lines]
    assert records[-1]["message"] == "worker stopped"
    assert all(re.fullmatch(STAMP, r["time"]) and r["level"] == "INFO" for r in records)


def test_each_run_gets_an_empty_metrics_directory_and_dead_runs_are_cleared(
    tmp_path: Path,
) -> None:
    """A killed `serve` leaves its metrics files; the next run must not add them up."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / "run" / f"metrics-{dead.pid}"
    live = tmp_path / "run" / f"metrics-{os.getppid()}"  # another run, still going
    for folder in (stale, live):
        folder.mkdir(parents=True)
        (folder / "counter_1.db").write_bytes(b"x")
    mine = prepare_run_dir(tmp_path, os.getpid())
    assert mine == tmp_path / "run" / f"metrics-{os.getpid()}"
    (mine / "counter_2.db").write_bytes(b"x")
    assert prepare_run_dir(tmp_path, os.getpid()) == mine and not list(mine.iterdir())
    assert not stale.exists() and (live / "counter_1.db").exists()


def test_serving_workers_run_the_cycle_collector_rarely(tmp_path: Path) -> None:
    """Each pass of Python's cycle collector pauses every request of its worker; at the
    interpreter's default thresholds 400 search pages over the demo's papers set off 9 young
    passes, at serve's own none. /metrics counts the passes
    (each worker adds its own every few seconds)."""
    data = tmp_path / "data"
    environ = {**os.environ, "PAPERTIDE_DATA_DIR": str(data)}
    environ.pop("PAPERTIDE_DATABASE_URL", None)
    command = [sys.executable, "-m", "papertide", "demo", "--no-votes"]
    subprocess.run(command, env=environ, check=True, capture_output=True, timeout=600)
    young = 'papertide_gc_passes_total{generation="0"}'
    with live_site(data, "--workers", "2") as site:
        _wait_for_index(site)
        before = _settled(site)
        with httpx.Client(base_url=site.url, timeout=30) as client:
            for n in range(400):
                query = ("language models", "diffusion", "attention heads", "reasoning")[n % 4]
                answer = client.get("/search", params={"q": query, "page": 1 + n % 3})
                assert answer.status_code == 200
        after = _settled(site)
    passes = after.get(young, 0) - before.get(young, 0)
    assert 'papertide_gc_seconds_total{generation="0"}' in after
    assert passes <= 3, f"{passes:.0f} young collections for 400 search pages"


def _wait_for_index(site: LiveSite) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        index = httpx.get(site.url + "/healthz", timeout=10).json()["index"]
        if index["ready"] and index["lag"] == 0:
            return
        time.sleep(0.2)
    raise AssertionError("the index never caught up")


def _settled(site: LiveSite) -> dict[str, float]:
    """/metrics once every worker has added its collector passes (each does every
    ``FOLLOW_SECONDS``)."""
    from papertide.web.metrics import FOLLOW_SECONDS

    time.sleep(FOLLOW_SECONDS + 1)
    return _scrape(site)
