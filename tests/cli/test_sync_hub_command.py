"""`papertide sync-hub` and the worker's hub job, in process, against the recorded Hub and
GitHub on loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from typer.testing import CliRunner

from papertide.cli import app
from papertide.config import Settings
from papertide.store import Store
from tests.support.fixture_server import FixtureServer
from tests.support.hub_service import HubService, add_paper

runner = CliRunner()
DAY = date(2026, 11, 21)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FixtureServer]:
    with FixtureServer() as srv:
        srv.handler = HubService(stars={"example/sparse-attn": 431})
        for name, value in {
            "HUB_URL": srv.url,
            "GITHUB_API_URL": srv.url,
            "HF_URL": f"{srv.url}/api/daily_papers",
            "SOURCES": "hf",
            "START_DATE": str(DAY),
            "REQUEST_INTERVAL": "0",
            "HUB_REQUEST_INTERVAL": "0",
            "GITHUB_REQUEST_INTERVAL": "0",
            "RETRIES": "0",
        }.items():
            monkeypatch.setenv(f"PAPERTIDE_SYNC__{name}", value)
        yield srv


@pytest.fixture
def store(any_settings: Settings) -> Iterator[Store]:
    opened = Store.open(any_settings.resolved_database_url)
    add_paper(opened, "2411.00001", day=DAY, url_code="https://github.com/example/sparse-attn")
    add_paper(opened, "2411.00002", day=DAY)
    yield opened
    opened.close()


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    url = ["--database-url", settings.database_url] if settings.database_url else []
    result = runner.invoke(app, ["--data-dir", str(settings.data_dir), *url, *args])
    return result.exit_code, result.output


def test_sync_hub_runs_one_bounded_round(
    any_settings: Settings, store: Store, server: FixtureServer
) -> None:
    code, out = _cli(any_settings, "sync-hub", "--limit", "1", "--quiet")
    assert code == 0, out
    # The newest first: the paper added last, which nothing cites.
    assert "hf-hub: 1 paper checked, 0 repositories stored" in out
    assert "github: 1 repository checked, 1 with new star counts" in out
    code, out = _cli(any_settings, "sync-hub", "--quiet")
    assert "hf-hub: 1 paper checked, 6 repositories stored" in out  # the other one
    code, out = _cli(any_settings, "sync-hub", "--quiet")
    assert "hf-hub: 0 papers checked" in out  # both fresh: nothing asked
    cited = store.get_paper("2411.00001")
    assert cited is not None and cited.github_stars == 431
    assert store.hub_counts([cited.pk or 0])[cited.pk or 0].datasets == 1


def test_sync_hub_says_what_failed_and_exits_1(
    any_settings: Settings, store: Store, server: FixtureServer
) -> None:
    server.handler = HubService({("models", "2411.00001"): "models_bad_item.json"})
    code, out = _cli(any_settings, "sync-hub", "--quiet")
    assert code == 1
    assert "failed: arXiv 2411.00001: hf-hub: 127.0.0.1/api/models: item 2:" in " ".join(
        out.split()
    )
    assert "hf-hub: 1 paper checked" in out  # the other paper was stored all the same


def test_the_worker_runs_a_hub_round(
    any_settings: Settings, store: Store, server: FixtureServer
) -> None:
    code, out = _cli(any_settings, "worker", "--once")
    assert code == 0, out
    assert "sync hf: ok" in out and "hf-hub: 2 papers checked, 6 repositories stored" in out
    assert any(s.path == "/api/spaces" for s in server.requests)
    paper = store.get_paper("2411.00001")
    assert paper is not None and len(store.hub_links(paper.pk or 0).of("space")) == 2


def test_limit_may_ask_for_more_than_a_worker_round(
    any_settings: Settings, store: Store, server: FixtureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERTIDE_SYNC__HUB_PAPERS_PER_ROUND", "1")
    code, out = _cli(any_settings, "sync-hub", "--limit", "2", "--quiet")
    assert code == 0 and "hf-hub: 2 papers checked, 6 repositories stored" in out
