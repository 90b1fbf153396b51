"""`papertide backup`, `restore`, `export` and `import-site` as real processes: a backup
taken while another process writes in a loop is a consistent copy of one moment (SQLite's
online backup; pg_dump on PostgreSQL), a backup killed mid-way leaves nothing under its
name, a restore puts the backup's content back, an import killed half way leaves the target
as it was, and wrong input is one line, never a traceback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from papertide.config import Settings
from papertide.store import Store
from papertide.store.backup import PAUSE_ENV, PAUSE_FILE_ENV, partial_name
from papertide.store.scratch import scratch_database
from tests.support.full_store import fill_every_table, table_rows
from tests.support.search_corpus import CORPUS, add_papers
from tests.support.store_writer import writer_papers_and_counter


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {**os.environ, "PAPERTIDE_DATA_DIR": str(settings.data_dir), **extra}
    env.pop("PAPERTIDE_DATABASE_URL", None)
    if settings.database_url:
        env["PAPERTIDE_DATABASE_URL"] = settings.database_url
    pg_bin = os.environ.get("PT_PG_BIN")  # the test server's own client tools, same version
    if pg_bin:
        env["PATH"] = f"{pg_bin}{os.pathsep}{env.get('PATH', '')}"
    return env


def _papertide(settings: Settings, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "papertide", *args],
        env=_env(settings, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def _needs_pg_tools(settings: Settings) -> None:
    if settings.database_url and shutil.which("pg_dump", path=_env(settings)["PATH"]) is None:
        pytest.skip("no pg_dump on the PATH (scripts/services.sh sets PT_PG_BIN)")


@contextmanager
def _writing(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process writing papers in a loop into the store until the block ends."""
    stop = tmp_path / "stop-writing"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.store_writer",
            settings.resolved_database_url,
            str(stop),
        ],
        env=_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield writer
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err[-3000:]
        assert int(out) > 0


def _wait_for_writes(store: Store, at_least: int) -> int:
    deadline = time.monotonic() + 60
    while True:
        held, _ = writer_papers_and_counter(store)
        if held >= at_least:
            return held
        assert time.monotonic() < deadline, f"the writer wrote only {held} papers"
        time.sleep(0.05)


def _open_copy(settings: Settings, backup: Path, tmp_path: Path, name: str) -> Iterator[Store]:
    """A store holding the backup's content: the SQLite file itself (checked by SQLite
    first), or a new PostgreSQL database it is restored into with `papertide restore`."""
    if not settings.database_url:
        with sqlite3.connect(backup) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        copy = Store.open(f"sqlite:///{backup}", migrate=False)
        yield copy
        copy.close()
        return
    with scratch_database(settings.database_url) as url:
        target = Settings(data_dir=tmp_path / name, database_url=url)
        restored = _papertide(target, "restore", str(backup), "--yes")
        assert restored.returncode == 0, restored.stderr
        copy = Store.open(url, migrate=False)
        yield copy
        copy.close()


def test_backups_taken_while_another_process_writes_are_consistent_copies(
    any_settings: Settings, tmp_path: Path
) -> None:
    settings = any_settings
    _needs_pg_tools(settings)
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, CORPUS)
    seen = []
    with _writing(settings, tmp_path):
        for round_ in range(3):
            before = _wait_for_writes(store, at_least=(round_ + 1) * 20)
            backup = tmp_path / f"backup-{round_}.db"
            result = _papertide(settings, "backup", str(backup))
            assert result.returncode == 0, result.stderr
            after, _ = writer_papers_and_counter(store)
            assert after > before  # the writer went on while the backup ran
            for copy in _open_copy(settings, backup, tmp_path, f"copy-{round_}"):
                held, counted = writer_papers_and_counter(copy)
                assert held == counted  # one moment: every paper with its count, no half
                assert held >= before
                assert copy.count_papers() == held + len(CORPUS)
                seen.append(held)
    assert seen == sorted(seen) and seen[0] < seen[-1]
    store.close()


def test_a_backup_killed_mid_copy_leaves_nothing_under_its_name(
    settings: Settings, tmp_path: Path
) -> None:
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, CORPUS)
    store.close()
    backup, marker = tmp_path / "backup.db", tmp_path / "paused"
    process = subprocess.Popen(
        [sys.executable, "-m", "papertide", "backup", str(backup)],
        env=_env(settings, **{PAUSE_ENV: "backup-step", PAUSE_FILE_ENV: str(marker)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():  # the copy has made a step: its partial file is written
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert partial_name(backup).stat().st_size > 0
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert not backup.exists()
    result = _papertide(settings, "backup", str(backup))  # the next one replaces the leftover
    assert result.returncode == 0, result.stderr
    assert not partial_name(backup).exists()
    assert backup.stat().st_mode & 0o077 == 0  # password hashes and secrets: private
    with sqlite3.connect(backup) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == len(CORPUS)


def test_restore_puts_the_backup_content_back(any_settings: Settings, tmp_path: Path) -> None:
    settings = any_settings
    _needs_pg_tools(settings)
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, CORPUS[:3])
    store.close()
    backup = tmp_path / "backup.db"
    assert _papertide(settings, "backup", str(backup)).returncode == 0
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, CORPUS[3:])
    assert store.count_papers() == len(CORPUS)
    store.close()

    _one_line_error(_papertide(settings, "restore", str(backup)), 2, "--yes")
    result = _papertide(settings, "restore", str(backup), "--yes")
    assert result.returncode == 0, result.stderr
    assert "papertide reindex" in result.stdout
    store = Store.open(settings.resolved_database_url)
    try:
        assert store.count_papers() == 3
        assert store.get_paper(CORPUS[3].arxiv_id or "") is None
    finally:
        store.close()
    stats = _papertide(settings, "stats")
    assert stats.returncode == 0 and "3 papers" in stats.stdout


def test_wrong_input_to_backup_and_restore_is_one_line(settings: Settings, tmp_path: Path) -> None:
    Store.open(settings.resolved_database_url).close()
    taken = tmp_path / "taken.db"
    taken.write_text("mine", encoding="utf-8")
    _one_line_error(_papertide(settings, "backup", str(taken)), 2, str(taken), "--force")
    assert taken.read_text(encoding="utf-8") == "mine"
    _one_line_error(_papertide(settings, "backup", str(tmp_path / "no" / "b.db")), 2, "no folder")
    _one_line_error(
        _papertide(settings, "restore", str(tmp_path / "missing.db"), "--yes"), 2, "missing.db"
    )
    _one_line_error(_papertide(settings, "restore", str(taken), "--yes"), 2, "not a SQLite")
    elsewhere = Settings(data_dir=tmp_path / "empty")
    _one_line_error(_papertide(elsewhere, "backup", str(tmp_path / "b.db")), 2, "no database")
    unreachable = Settings(
        data_dir=tmp_path / "d", database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    # A database that does not answer is exit 3, as for every command (cli/errors.py).
    code = 3 if shutil.which("pg_dump", path=_env(unreachable)["PATH"]) else 2
    backup = _papertide(unreachable, "backup", str(tmp_path / "pg.dump"))
    _one_line_error(backup, code, "127.0.0.1")


def test_a_backup_of_a_database_that_never_answers_ends_after_the_connect_timeout(
    tmp_path: Path,
) -> None:
    with socket.socket() as silent:  # takes connections into its backlog, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        settings = Settings(
            data_dir=tmp_path / "d", database_url=f"postgresql+psycopg://u@127.0.0.1:{port}/db"
        )
        _needs_pg_tools(settings)
        started = time.monotonic()
        backup = _papertide(settings, "backup", str(tmp_path / "pg.dump"))
        took = time.monotonic() - started
    # pg_dump was given database_connect_timeout (5 s) in PGCONNECT_TIMEOUT; libpq alone
    # waits as long as the server keeps the connection open.
    _one_line_error(backup, 3, "pg_dump failed", "timeout expired")
    assert 5 <= took < 60
    assert not (tmp_path / "pg.dump").exists()


def test_an_import_killed_half_way_leaves_the_target_as_it_was(
    any_settings: Settings, tmp_path: Path
) -> None:
    settings = any_settings
    source = Store.open(f"sqlite:///{tmp_path / 'source.db'}")
    fill_every_table(source, settings)
    source.export_site(tmp_path / "export")
    source.close()
    target = Store.open(settings.resolved_database_url)
    empty = table_rows(target)
    target.close()
    marker = tmp_path / "paused"
    process = subprocess.Popen(
        [sys.executable, "-m", "papertide", "import-site", str(tmp_path / "export")],
        env=_env(settings, **{PAUSE_ENV: "import-votes", PAUSE_FILE_ENV: str(marker)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():  # papers, accounts and votes are in, not yet committed
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    target = Store.open(settings.resolved_database_url)
    try:
        assert table_rows(target) == empty
        result = _papertide(settings, "import-site", str(tmp_path / "export"))
        assert result.returncode == 0, result.stderr
        assert target.count_papers() == len(CORPUS)
    finally:
        target.close()


def test_wrong_input_to_export_and_import_is_one_line(settings: Settings, tmp_path: Path) -> None:
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, CORPUS[:1])
    store.export_site(tmp_path / "export")
    store.close()
    _one_line_error(
        _papertide(settings, "export", str(tmp_path / "export")), 2, "already exists", "--force"
    )
    _one_line_error(
        _papertide(settings, "import-site", str(tmp_path / "nope")), 2, "nope", "no such folder"
    )
    _one_line_error(
        _papertide(settings, "import-site", str(tmp_path / "export")), 2, "not empty (papers: 1"
    )
    (tmp_path / "export" / "manifest.json").unlink()
    elsewhere = Settings(data_dir=tmp_path / "other")
    _one_line_error(
        _papertide(elsewhere, "import-site", str(tmp_path / "export")), 2, "no manifest.json"
    )
    unreachable = Settings(
        data_dir=tmp_path / "d", database_url="postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    _one_line_error(_papertide(unreachable, "export", str(tmp_path / "out")), 3, "does not answer")
