"""After an import killed just past its commit, `serve --workers 2` catches up, and once
/healthz says so (ready, lag 0, no build) every worker finds every stored paper by its
exact title: the kill-after-commit scenario of `papertide bench catchup`, at a size for CI.

Reloads run in the background here (search.background_reload_from 1, as for an index of
100k vectors and more), so a worker that has not loaded the last commit yet answers from
the index it has: /healthz must not say "caught up" while one worker still does."""

from __future__ import annotations

from pathlib import Path

from papertide.bench.catchup import repeat_kill_after_commit
from papertide.config import Settings
from papertide.search.settings import SearchSettings

REPEATS = 3


def test_every_worker_finds_every_paper_once_healthz_says_caught_up(tmp_path: Path) -> None:
    search = SearchSettings(background_reload_from=1, follow_interval=2.0)
    settings = Settings(data_dir=tmp_path / "data", search=search)
    done = repeat_kill_after_commit(settings, tmp_path, papers=100, added=200, repeats=REPEATS)
    assert len(done) == REPEATS
    assert any(r.killed for r in done), "no import was killed after its commit"
    for repeat in done:
        assert len(repeat.missed) == 2  # both workers searched every title
        assert {pid: titles[:5] for pid, titles in repeat.missed.items() if titles} == {}
    assert done[-1].stored == 100 + REPEATS * 200
