"""A mistake in what an operator gives is one line that names it, never a traceback: a key
the settings do not have or a bad value (with the config file's line, or the environment
variable), a config file that is not TOML, a database URL that is not one, a data folder
that cannot be made, a database that does not answer (within the connect timeout, however it
fails to), or one a newer papertide migrated."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _papertide(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTIDE_")}
    return subprocess.run(
        [sys.executable, "-m", "papertide", *args],
        env={**environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line(result: subprocess.CompletedProcess[str], code: int, *says: str) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in says:
        assert part in lines[0], (part, lines[0])


def test_an_unknown_key_and_a_bad_value_name_the_config_files_lines(tmp_path: Path) -> None:
    config = tmp_path / "papertide.toml"
    config.write_text('# settings\nprot = 8080\nport = "eighty"\n', encoding="utf-8")
    result = _papertide("--data-dir", str(tmp_path / "d"), "--config", str(config), "stats")
    _one_line(
        result, 2, f"setting prot ({config} line 2): not a setting; did you mean port? (got 8080)"
    )
    assert f"setting port ({config} line 3)" in result.stderr and "'eighty'" in result.stderr


def test_a_misspelt_key_in_a_section_is_refused_with_the_nearest(tmp_path: Path) -> None:
    config = tmp_path / "papertide.toml"
    config.write_text("[search]\nmatch_shar = 0.5\n", encoding="utf-8")
    result = _papertide("--data-dir", str(tmp_path / "d"), "--config", str(config), "stats")
    _one_line(
        result,
        2,
        f"setting search.match_shar ({config} line 2): not a setting; "
        "did you mean search.match_share? (got 0.5)",
    )


def test_a_key_like_no_setting_gets_no_suggestion(tmp_path: Path) -> None:
    config = tmp_path / "papertide.toml"
    config.write_text("zzzzqq = 1\n", encoding="utf-8")
    result = _papertide("--data-dir", str(tmp_path / "d"), "--config", str(config), "stats")
    _one_line(result, 2, f"setting zzzzqq ({config} line 1): not a setting (got 1)")


def test_a_config_file_that_is_not_toml_says_where(tmp_path: Path) -> None:
    config = tmp_path / "papertide.toml"
    config.write_text("port = = 1\n", encoding="utf-8")
    result = _papertide("--data-dir", str(tmp_path / "d"), "--config", str(config), "stats")
    _one_line(result, 2, f"config file {config}", "line 1")


def test_a_bad_environment_variable_is_named(tmp_path: Path) -> None:
    env = {"PAPERTIDE_PORT": "abc", "PAPERTIDE_DATA_DIR": str(tmp_path / "d")}
    _one_line(_papertide("stats", env=env), 2, "environment PAPERTIDE_PORT", "'abc'")


def test_a_database_url_that_is_not_one(tmp_path: Path) -> None:
    result = _papertide("--data-dir", str(tmp_path), "--database-url", "not a url", "stats")
    _one_line(result, 2, "the database URL is not one")


def test_a_data_folder_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    result = _papertide("--data-dir", str(tmp_path / "file" / "data"), "stats")
    _one_line(result, 2, f"cannot use {tmp_path / 'file'}")


def test_a_database_that_does_not_answer_hides_its_password() -> None:
    url = "postgresql+psycopg://reader:s3cret@127.0.0.1:1/papers"
    result = _papertide("--database-url", url, "stats")
    _one_line(result, 3, "the database does not answer")
    assert "s3cret" not in result.stderr


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port whose listener takes connections (the kernel completes their handshake into
    its backlog) and never says a word: a database host that hangs, as a black-holed one."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def _timed(*args: str, env: dict[str, str] | None = None) -> tuple[str, float]:
    """The one error line of papertide ``args`` (exit 3) and the seconds it took."""
    started = time.monotonic()
    result = _papertide(*args, env=env)
    took = time.monotonic() - started
    _one_line(result, 3, "the database does not answer: connection timeout expired")
    return result.stderr, took


def test_a_database_that_never_answers_fails_after_the_connect_timeout(silent_server: int) -> None:
    url = f"postgresql+psycopg://reader:s3cret@127.0.0.1:{silent_server}/papers"
    said, took = _timed("--database-url", url, "stats")
    assert "setting database_connect_timeout" in said and "s3cret" not in said
    # The default (5 s) ends it, where psycopg alone waits 130 s; the upper bound leaves
    # room for a loaded machine's start-up.
    assert 5 <= took < 60


def test_a_connect_timeout_in_the_url_wins_over_the_setting(silent_server: int) -> None:
    url = f"postgresql+psycopg://reader@127.0.0.1:{silent_server}/papers?connect_timeout=2"
    setting = {"PAPERTIDE_DATABASE_CONNECT_TIMEOUT": "90"}
    _, took = _timed("--database-url", url, "stats", env=setting)
    assert 2 <= took < 60


def test_a_database_migrated_by_a_newer_papertide(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _papertide("--data-dir", str(data), "stats").returncode == 0
    with sqlite3.connect(data / "papertide.db") as db:
        db.execute("UPDATE alembic_version SET version_num = 'from_a_newer_release'")
    result = _papertide("--data-dir", str(data), "stats")
    _one_line(result, 3, "migrated by a newer papertide", "from_a_newer_release")


@pytest.mark.parametrize("command", [["search", "attention"], ["ingest", "none.jsonl"]])
def test_every_command_explains_the_same_way(tmp_path: Path, command: list[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text("prot = 1\n", encoding="utf-8")
    result = _papertide("--config", str(config), "--data-dir", str(tmp_path / "d"), *command)
    _one_line(result, 2, "setting prot")


def test_secrets_come_from_files_named_by_file_variables(tmp_path: Path) -> None:
    from papertide.config import Settings

    (tmp_path / "smtp").write_text("s3cret\n", encoding="utf-8")
    (tmp_path / "key").write_text("k" * 40, encoding="utf-8")
    env = {
        "PAPERTIDE_DATA_DIR": str(tmp_path / "d"),
        "PAPERTIDE_MAIL__SMTP_PASSWORD_FILE": str(tmp_path / "smtp"),
        "PAPERTIDE_MAIL__SECRET_KEY_FILE": str(tmp_path / "key"),
        "PAPERTIDE_MAIL_TEST_PAUSE_FILE": "/not/a/setting",  # a test hook, not a setting
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        found = Settings()
        assert found.mail.smtp_password == "s3cret" and found.mail.secret_key == "k" * 40
        patch.setenv("PAPERTIDE_MAIL__SMTP_PASSWORD", "plain")  # the plain variable wins
        assert Settings().mail.smtp_password == "plain"
    missing = {"PAPERTIDE_DATA_DIR": str(tmp_path / "d")}
    missing["PAPERTIDE_DATABASE_URL_FILE"] = str(tmp_path / "nowhere")
    _one_line(_papertide("stats", env=missing), 2, "PAPERTIDE_DATABASE_URL_FILE", "cannot read")
