"""The CLI through Typer's in-process runner, on a real store: SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from papertide.cli import app
from papertide.config import Settings

runner = CliRunner()


@pytest.fixture
def settings(any_settings: Settings) -> Settings:
    """Each CLI test on SQLite and on PostgreSQL (a fresh database each)."""
    return any_settings


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    url = ["--database-url", settings.database_url] if settings.database_url else []
    result = runner.invoke(app, ["--data-dir", str(settings.data_dir), *url, *args])
    return result.exit_code, result.output


def test_ingest_samples_then_again_reports_nothing_new(settings: Settings) -> None:
    code, out = _cli(settings, "ingest", "--samples", "--quiet")
    assert code == 0
    assert "Read 247 records from 3 files in " in out
    assert "216 added, 0 changed, 0 unchanged, 31 repeats merged, 0 skipped; listings: 3" in out
    code, out = _cli(settings, "ingest", "--samples", "--quiet")
    assert "0 added, 0 changed, 216 unchanged, 31 repeats merged, 0 skipped" in out


def test_the_import_rate_counts_the_whole_run_storing_and_indexing(settings: Settings) -> None:
    code, out = _cli(settings, "ingest", "--samples", "--quiet")
    assert code == 0
    line = re.search(
        r"Read 247 records from 3 files in ([\d.]+) s \(([\d,]+) papers/s; "
        r"storing ([\d.]+) s, indexing ([\d.]+) s\)",
        " ".join(out.split()),
    )
    assert line, out
    whole, rate, storing, indexing = (float(g.replace(",", "")) for g in line.groups())
    assert whole + 0.1 >= storing + indexing  # the whole run holds both (rounded to 0.1 s)
    assert indexing > 0  # the samples' indexing took time, and is counted
    # The rate is the records over the unrounded time; the time is printed to 0.1 s.
    assert 247 / (whole + 0.05) - 1 <= rate <= 247 / max(whole - 0.05, 0.01) + 1


def test_stats_show_and_list(settings: Settings, seeds: list[Path]) -> None:
    _cli(settings, "ingest", "--page-year", "2025", *map(str, seeds))
    code, out = _cli(settings, "stats", "--json")
    assert code == 0
    stats = orjson.loads(out)
    assert stats["papers"] == 216
    assert stats["by_source"] == {"page": 216}
    # Every paper of a capture is filed under its day (the earliest, if on two pages).
    assert stats["by_day"] == {"2025-03-12": 85, "2025-03-14": 62, "2025-04-09": 69}
    code, out = _cli(settings, "list", "--date", "2025-04-09", "--json")
    subject = orjson.loads(out.strip().splitlines()[0])
    assert subject["title"].startswith("Quamba2")
    code, out = _cli(settings, "show", subject["id"], "--json")
    shown = orjson.loads(out)
    assert shown["listed_with"][0]["date"] == "2025-04-09"
    assert shown["listed_with"][0]["subject"] == subject["id"]
    code, out = _cli(settings, "show", subject["id"])
    assert code == 0
    assert "Quamba2" in out
    assert "Page of 2025-04-09: this paper's own page, 71 other papers listed with it" in out
    code, out = _cli(settings, "stats")
    assert "216 papers, 3 page listings, 1 import" in out


def test_show_unknown_paper_fails_clearly(settings: Settings) -> None:
    code, out = _cli(settings, "show", "2401.99999")
    assert code == 1
    assert "no paper '2401.99999' in the store" in out


def test_list_on_an_empty_day(settings: Settings) -> None:
    code, out = _cli(settings, "list", "--date", "2020-01-01")
    assert (code, out.strip()) == (0, "No papers on 2020-01-01.")


def test_ingest_without_files_explains(settings: Settings) -> None:
    code, out = _cli(settings, "ingest")
    assert code == 2
    assert "name at least one file to import, or use --samples" in out


@pytest.mark.parametrize("command", ["ingest", "stats", "show", "list", "serve"])
def test_every_command_help_has_an_example(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output


def test_settings_file_and_env_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "papertide.toml"
    config.write_text(f'data_dir = "{tmp_path / "from-file"}"\nport = 9001\n')
    monkeypatch.setenv("PAPERTIDE_PORT", "9002")
    settings = Settings(config_file=config)
    assert settings.data_dir == tmp_path / "from-file"
    assert settings.port == 9002  # the environment beats the file
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'from-file' / 'papertide.db'}"


def test_unknown_setting_in_file_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "papertide.toml"
    config.write_text("colour = 'blue'\n")
    with pytest.raises(ValueError, match="colour"):
        Settings(config_file=config)


def test_search_lines_show_each_papers_date_and_empty_queries_are_refused(
    settings: Settings,
) -> None:
    _cli(settings, "ingest", "--samples", "--quiet")
    code, out = _cli(settings, "search", "speculative decoding", "--sort", "date", "-k", "3")
    assert code == 0
    days = re.findall(r"^\s+\d+\. .+  (\d{4}-\d{2}-\d{2})  p[0-9a-f]+  [\d.]+$", out, re.M)
    assert len(days) == 3 and days == sorted(days, reverse=True)  # newest first, as shown
    for nothing in ("", "-", "- ?", "$"):
        code, out = _cli(settings, "search", "--", nothing)
        assert code == 2 and "nothing to search for" in out, nothing
    code, out = _cli(settings, "search", "cat:cs.CL", "-k", "1")
    assert code == 0 and "nothing to search for" not in out  # a filter alone is a search
