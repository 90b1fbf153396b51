"""Sync across sources: one record per paper whatever saw it, the CLI, dry runs, state."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date, datetime

import orjson
import pytest
from typer.testing import CliRunner

from papertide.cli import app
from papertide.config import Settings
from papertide.ingest import ingest_paths
from papertide.search import SearchService
from papertide.sources.live import make_source
from papertide.store import Store
from papertide.store.sync_state import last_runs, list_states, save_state
from papertide.sync import sync_sources, watch
from tests.support.fixture_server import (
    FIXTURES,
    NOW,
    FixtureServer,
    HfFeed,
    Reply,
    all_services,
    settings_for,
    snapshot,
)

WEEK = HfFeed({"2026-W47": "week_2026-W47.json"})


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    with FixtureServer() as srv:
        srv.handler = all_services(WEEK)
        yield srv


def test_a_paper_seen_by_every_source_is_one_record(
    server: FixtureServer, any_store: Store, any_settings: Settings
) -> None:
    settings = settings_for(any_settings, server, sources=["hf", "arxiv", "oai"], hf_period="week")
    ingest_paths(any_store, [FIXTURES / "hf" / "capture.txt"], settings=settings)
    assert any_store.count_papers() == 2
    results = sync_sources(any_store, settings=settings, now=NOW)
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    # capture: 2 papers; HF adds 2 (one matched the capture by title); API adds 4 (one is
    # the HF paper); OAI adds 3 (its first record is the same paper again).
    assert [r.report.added for r in results] == [2, 4, 3]
    assert any_store.count_papers() == 11

    paper = any_store.get_paper("2411.00001")
    assert paper is not None
    assert sorted(paper.sources) == ["arxiv-api", "arxiv-oai", "hf-daily", "page"]
    assert paper.arxiv_version == 2 and paper.updated == datetime(2026, 11, 19, 16, 20, 5)
    assert paper.doi == "10.1234/sparse.2026.17" and paper.categories == ["cs.CL", "cs.LG"]
    assert paper.authors == ["Ada Lovelace", "Alan Turing"]
    # Later sources enriched it; none of their empty fields wiped what HF gave.
    assert (paper.upvotes_external, paper.github_stars, paper.comments_count) == (57, 412, 4)
    assert paper.url_code == "https://github.com/example/sparse-attn"
    assert paper.submitted_by == "akhaliq"
    assert paper.extra["ai_keywords"] and paper.extra["affiliations"]
    assert paper.extra["license"] == "http://creativecommons.org/licenses/by/4.0/"
    assert paper.listed_on == date(2026, 11, 19)

    again = sync_sources(any_store, settings=settings, now=NOW)
    assert [(r.report.added, r.report.changed) for r in again] == [(0, 0), (0, 0), (0, 0)]
    assert any_store.count_papers() == 11


def test_dry_run_fetches_and_counts_but_keeps_nothing(
    server: FixtureServer, store: Store, settings: Settings
) -> None:
    settings = settings_for(settings, server, sources=["arxiv", "hf"], hf_period="week")
    results = sync_sources(store, settings=settings, now=NOW, dry_run=True)
    assert [r.report.added for r in results] == [5, 3]
    assert snapshot(store) == ([], []) and last_runs(store) == {}
    assert len(server.requests) == 4  # three API pages, one HF week


def test_unknown_source_names_fail_before_any_request(
    server: FixtureServer, store: Store, settings: Settings
) -> None:
    with pytest.raises(ValueError, match="unknown source 'rss'; the sources are arxiv, oai, hf"):
        sync_sources(store, settings=settings_for(settings, server), names=["hf", "rss"])
    assert server.requests == []


def test_watch_runs_rounds_with_the_interval_between(
    server: FixtureServer, store: Store, settings: Settings
) -> None:
    settings = settings_for(settings, server, sources=["arxiv"], interval_minutes=7)
    slept: list[float] = []
    rounds: list[int] = []
    watch(
        store,
        settings=settings,
        rounds=2,
        on_round=lambda results: rounds.append(results[0].report.added),
        sleep=slept.append,
    )
    assert rounds == [5, 0] and slept == [420]


def test_sources_describe_what_they_read(server: FixtureServer, settings: Settings) -> None:
    settings = settings_for(settings, server, arxiv_query="abs:attention")
    assert make_source("arxiv", settings).describe() == (
        f"cs.CL cs.LG AND (abs:attention) via {server.url}/api/query"
    )
    assert make_source("oai", settings).describe() == f"set cs, arXiv format, via {server.url}/oai"


def _env(server: FixtureServer) -> dict[str, str]:
    return {
        "PAPERTIDE_SYNC__SOURCES": "arxiv,oai,hf",
        "PAPERTIDE_SYNC__ARXIV_API_URL": f"{server.url}/api/query",
        "PAPERTIDE_SYNC__OAI_URL": f"{server.url}/oai",
        "PAPERTIDE_SYNC__HF_URL": f"{server.url}/api/daily_papers",
        "PAPERTIDE_SYNC__ARXIV_CATEGORIES": "cs.CL,cs.LG",
        "PAPERTIDE_SYNC__ARXIV_PAGE_SIZE": "2",
        "PAPERTIDE_SYNC__HF_PERIOD": "month",
        "PAPERTIDE_SYNC__START_DATE": "2026-11-18",
        "PAPERTIDE_SYNC__REQUEST_INTERVAL": "0",
        "PAPERTIDE_SYNC__BACKOFF": "0.01",
        "PAPERTIDE_SYNC__RETRIES": "1",
    }


def test_cli_sync_twice_then_sources(server: FixtureServer, settings: Settings) -> None:
    runner = CliRunner()
    server.handler = all_services(HfFeed({"2026-11": "week_2026-W47.json"}))
    args = ["--data-dir", str(settings.data_dir)]
    first = runner.invoke(app, [*args, "sync", "--quiet"], env=_env(server))
    assert first.exit_code == 0, first.output
    assert "10 new papers." in first.output
    for name in ("arxiv", "oai", "hf"):
        assert name in first.output
    # The sync indexed what it stored: search finds every new paper by its title.
    store = Store.open(settings.resolved_database_url)
    svc = SearchService.open(settings, store, catch_up=False)
    try:
        stored = store.list_papers(limit=100)
        assert len(stored) == 10
        for paper in stored:
            assert paper.id in {h.paper_id for h in svc.search(paper.title, mode="bm25").hits}
            assert store.similar_list(paper.pk or 0) is not None  # computed for the feeds
    finally:
        svc.close()
        store.close()

    second = runner.invoke(app, [*args, "sync", "--quiet"], env=_env(server))
    assert second.exit_code == 0, second.output
    assert "0 new papers." in second.output

    listed = runner.invoke(app, [*args, "sources", "--json"], env=_env(server))
    assert listed.exit_code == 0, listed.output
    rows = {row["name"]: row for row in orjson.loads(listed.output)}
    assert rows["oai"]["watermark"] == "2026-11-21" and rows["oai"]["checkpoint"] is None
    assert rows["arxiv"]["last_run"]["status"] == "ok"
    assert rows["hf"]["last_run"]["added"] == 0 and rows["hf"]["enabled"] is True

    table = runner.invoke(app, [*args, "sources"], env=_env(server))
    assert table.exit_code == 0 and "2026-11-21" in table.output


def test_cli_reports_a_failed_source_and_exits_1(server: FixtureServer, settings: Settings) -> None:
    env = {**_env(server), "PAPERTIDE_SYNC__SOURCES": "hf"}
    env["PAPERTIDE_SYNC__HF_URL"] = f"{server.url}/nowhere"
    server.handler = lambda seen: Reply(
        b"<!DOCTYPE html><html>down</html>", content_type="text/html"
    )
    result = CliRunner().invoke(app, ["--data-dir", str(settings.data_dir), "sync"], env=env)
    assert result.exit_code == 1
    assert "error: hf: GET 127.0.0.1:" in result.output
    assert "/nowhere failed: unusable response body: an HTML page instead of JSON" in result.output
    assert "Nothing fetched: the source failed." in result.output
    store = Store.open(settings.resolved_database_url)
    try:
        assert store.count_papers() == 0 and list_states(store) == {}
        assert last_runs(store)["hf"].status == "failed"
    finally:
        store.close()


def test_cli_dry_run_with_every_source_unreachable(settings: Settings) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "PAPERTIDE_SYNC__SOURCES": "arxiv,hf",
        "PAPERTIDE_SYNC__ARXIV_API_URL": "http://export.arxiv.invalid/api/query",
        "PAPERTIDE_SYNC__HF_URL": f"http://127.0.0.1:{port}/api/daily_papers",
        "PAPERTIDE_SYNC__RETRIES": "4",
    }
    args = ["--data-dir", str(settings.data_dir), "sync", "--dry-run"]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 1
    assert "would be stored" not in result.output and "new papers" not in result.output
    assert "Nothing fetched: every source failed." in result.output
    assert "retry" not in result.output  # permanent causes: no back-off
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert lines == [
        "error: arxiv: GET export.arxiv.invalid/api/query failed: cannot resolve "
        f"export.arxiv.invalid ({_dns_reason()}); not retried. Nothing of that page was "
        "stored; the next sync resumes there.",
        f"error: hf: GET 127.0.0.1:{port}/api/daily_papers failed: 127.0.0.1 refused the "
        "connection; not retried. Nothing of that page was stored; the next sync resumes there.",
    ]


def _dns_reason() -> str:
    try:
        socket.getaddrinfo("export.arxiv.invalid", 80)
    except socket.gaierror as exc:
        return str(exc.strerror)
    raise AssertionError(".invalid resolved")


def test_cli_rejects_an_unknown_source(settings: Settings) -> None:
    result = CliRunner().invoke(
        app, ["--data-dir", str(settings.data_dir), "sync", "--source", "rss"]
    )
    assert result.exit_code == 2 and "unknown source 'rss'" in result.output


def test_an_unexpected_error_is_raised_and_logged_as_such(
    server: FixtureServer, store: Store, settings: Settings
) -> None:
    settings = settings_for(settings, server, sources=["arxiv"])
    with store.write() as session:
        save_state(session, source="arxiv", watermark=None, checkpoint={"window_start": "?"})
    before = snapshot(store)
    with pytest.raises(ValueError, match="Invalid isoformat"):
        sync_sources(store, settings=settings, now=NOW)
    assert snapshot(store) == before and server.requests == []
    run = last_runs(store)["arxiv"]
    assert run.status == "error" and run.message == "ValueError: Invalid isoformat string: '?'"


def test_sources_table_never_cuts_a_url(settings: Settings) -> None:
    url = "https://export.arxiv.org/api/query-with-a-rather-long-path/for-a-mirror/of-the-api"
    env = {"PAPERTIDE_SYNC__ARXIV_API_URL": url, "COLUMNS": "80"}
    result = CliRunner().invoke(app, ["--data-dir", str(settings.data_dir), "sources"], env=env)
    assert result.exit_code == 0, result.output
    assert "…" not in result.output and "..." not in result.output
    # Folded in its column: the URL's pieces, read down the column, are the whole URL.
    cells = [line.split("│")[3].strip() for line in result.output.splitlines() if "│" in line]
    assert url in "".join(cells).replace(" ", "")
