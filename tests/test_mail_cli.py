"""`papertide digest send|preview` and `papertide worker --once` against a real SMTP server."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from papertide.cli import app
from papertide.clock import utcnow
from papertide.mail.settings import SECRET_FILE, MailSettings, resolve_secret
from papertide.store import outbox
from tests.smtp_server import SmtpSink, add_papers, add_subscriber, smtp

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
    # No secret configured: one was generated under the data folder and is reused.
    assert (settings.data_dir / SECRET_FILE).is_file()


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


def test_secret_is_the_configured_one_or_a_persisted_random_one(tmp_path) -> None:
    assert resolve_secret(MailSettings(secret_key="set"), tmp_path) == "set"
    first = resolve_secret(MailSettings(), tmp_path)
    assert len(first) > 40 and resolve_secret(MailSettings(), tmp_path) == first


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
