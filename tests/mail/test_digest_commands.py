"""`papertide digest send|preview` and `papertide worker --once` against a real SMTP server."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from papertide.cli import app
from papertide.clock import utcnow
from papertide.mail.digest import signing_secret
from papertide.mail.settings import SECRET_FILE, MailSettings
from papertide.mail.tokens import make_token, read_token
from papertide.store import Store, outbox
from papertide.store.secrets import site_secret
from tests.support.smtp_server import SmtpSink, add_papers, add_subscriber, smtp

__all__ = ["smtp"]
runner = CliRunner()


@pytest.fixture
def cli_env(settings, store, smtp: SmtpSink, monkeypatch) -> None:
    monkeypatch.setenv("PAPERTIDE_MAIL__SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PAPERTIDE_MAIL__SMTP_PORT", str(smtp.port))
    now = utcnow()
    add_papers(store, [{"title": "Sparse attention", "categories": ["cs.CL"]}], now=now)
    add_subscriber(store, "ada@example.org", now=now, categories=["cs.CL"])


def _run(settings, *args: str):
    result = runner.invoke(app, ["--data-dir", str(settings.data_dir), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_send_is_idempotent_and_dry_run_writes_nothing(settings, store, smtp, cli_env) -> None:
    out = _run(settings, "digest", "send", "--dry-run")
    assert "would send d" in out and smtp.received == []
    assert outbox.outbox_counts(store) == {}
    assert "sent 1," in _run(settings, "digest", "send")
    assert "already composed 1" in _run(settings, "digest", "send")
    assert len(smtp.received) == 1
    # No secret configured: one was made once and kept in the database, not in a file.
    assert not (settings.data_dir / SECRET_FILE).exists()
    assert site_secret(store, "signing") == signing_secret(settings, store)


def test_preview_writes_the_html(settings, tmp_path, cli_env) -> None:
    out = tmp_path / "d.html"
    _run(settings, "digest", "preview", "ada@example.org", "-o", str(out))
    html = out.read_text("utf-8")
    assert "Sparse attention" in html and "/unsubscribe/" in html
    result = runner.invoke(
        app, ["--data-dir", str(settings.data_dir), "digest", "preview", "x@y.z"]
    )
    assert result.exit_code == 1


def test_worker_once_runs_the_digests(settings, smtp, cli_env) -> None:
    out = _run(settings, "worker", "--once", "--no-sync")
    assert "sent 1," in out and "worker stopped" in out
    assert [m["To"] for m in smtp.received] == ["ada@example.org"]


def test_secret_is_the_configured_one_or_one_kept_in_the_database(any_settings, tmp_path) -> None:
    """Nodes share one mail secret, so links mailed by one node are valid on another (each
    once made its own mail-secret.key). Two nodes (data folders) on one database agree."""
    shared = {"database_url": any_settings.resolved_database_url}
    node_a = any_settings.model_copy(update={"data_dir": tmp_path / "a", **shared})
    node_b = any_settings.model_copy(update={"data_dir": tmp_path / "b", **shared})
    store_a = Store.open(node_a.resolved_database_url)
    store_b = Store.open(node_b.resolved_database_url)
    try:
        first = signing_secret(node_a, store_a)
        assert len(first) > 40 and signing_secret(node_b, store_b) == first
        token = make_token(first, "unsubscribe", subscriber_pk=1, email="a@b.org")
        assert read_token(signing_secret(node_b, store_b), "unsubscribe", token) == (1, "a@b.org")
        configured = node_b.model_copy(update={"mail": MailSettings(secret_key="set")})
        assert signing_secret(configured, store_b) == "set"
    finally:
        store_a.close()
        store_b.close()


def test_a_secret_file_of_an_earlier_version_is_adopted(settings) -> None:
    settings.data_dir.mkdir(parents=True)
    (settings.data_dir / SECRET_FILE).write_text("the-old-key-that-signed-mailed-links\n")
    store = Store.open(settings.resolved_database_url)
    try:
        assert signing_secret(settings, store) == "the-old-key-that-signed-mailed-links"
        assert site_secret(store, "signing") == "the-old-key-that-signed-mailed-links"
    finally:
        store.close()


def test_worker_stops_cleanly_on_sigterm(settings, smtp, cli_env) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "PAPERTIDE_DATA_DIR": str(settings.data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "papertide", "worker", "--no-sync"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not smtp.received and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "worker stopped" in out and len(smtp.received) == 1


def test_the_demo_subscriber_gets_a_real_digest_on_the_demo_day(settings, tmp_path) -> None:
    """`papertide demo` adds a confirmed subscriber; its digest today is empty (the samples
    are old) and the preview names the newest day, whose digest holds papers."""
    assert "Demo subscriber: demo@example.org" in _run(settings, "demo", "--no-votes")
    out = tmp_path / "d.html"
    today = _run(settings, "digest", "preview", "demo@example.org", "-o", str(out))
    assert "nothing new" in today
    newest = today.split("--date ")[-1].split()[0]
    assert newest == "2026-04-09", today
    then = _run(settings, "digest", "preview", "demo@example.org", "--date", newest, "-o", str(out))
    assert "9 Apr 2026:" in then and "nothing new" not in then and "Nothing new" not in then
    assert out.read_text("utf-8").count("/papers/") >= 3
    wrong = runner.invoke(
        app,
        [
            "--data-dir",
            str(settings.data_dir),
            "digest",
            "preview",
            "demo@example.org",
            "--date",
            "2026-13-09",
        ],
    )
    assert wrong.exit_code == 2 and "--date: not a date" in wrong.output
    assert "Demo subscriber" not in _run(settings, "demo", "--no-votes")  # added once
