"""The outbox against a real SMTP server on loopback: headers, retries, bounces, and a
sender SIGKILLed between send and mark that neither loses nor duplicates a digest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.mail.digest import compose_due, links_for, site_search, user_votes
from papertide.mail.send import PAUSE_ENV, PAUSE_FILE_ENV, SendReport, deliver_due
from papertide.store import Store, outbox
from papertide.store import subscriptions as subs
from tests.conftest import FIXED_NOW
from tests.support.smtp_server import add_papers, add_subscriber, mail_settings, smtp

__all__ = ["smtp"]

PAPERS = [
    {
        "title": "Sparse attention for long documents",
        "abstract": "We sparsify attention.",
        "categories": ["cs.CL"],
        "authors": ["Ada Lovelace"],
    },
    {
        "title": "Protein folding with diffusion",
        "abstract": "Diffusion models fold proteins.",
        "categories": ["q-bio.BM"],
        "authors": ["Marie Curie"],
    },
    {
        "title": "Graph transformers at scale",
        "abstract": "Scaling graph transformers.",
        "categories": ["cs.LG"],
        "authors": ["Alan Turing"],
    },
]


def _compose(store: Store, settings: Settings, now: datetime = FIXED_NOW) -> int:
    """Compose through the real pipeline: the site's search and the subscribers' votes."""
    search = site_search(settings, store)
    try:
        report = compose_due(
            store,
            links=links_for(settings, store),
            now=now,
            weekly_day=0,
            search=search,
            votes=user_votes(store),
        )
    finally:
        search.close()
    return report.created


def _deliver(store: Store, settings: Settings, now: datetime = FIXED_NOW) -> SendReport:
    links = links_for(settings, store)
    return deliver_due(store, mail=settings.mail, links=links, clock=lambda: now)


def _setup(store: Store, settings: Settings, emails: list[str], now: datetime = FIXED_NOW) -> None:
    add_papers(store, PAPERS, now=now)
    for addr in emails:
        add_subscriber(store, addr, now=now, categories=["cs.CL", "cs.LG"])


def test_digest_is_multipart_with_list_headers_and_fixed_ids(any_store, any_settings, smtp):
    settings = mail_settings(any_settings, smtp)
    _setup(any_store, settings, ["ada@example.org"])
    assert _compose(any_store, settings) == 1
    assert _compose(any_store, settings) == 0  # composing again is a no-op
    report = _deliver(any_store, settings)
    assert (report.sent, report.failed) == (1, 0)
    [msg] = smtp.received
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Sparse attention for long documents" in part
        assert "Graph transformers at scale" in part
        assert "Protein folding" not in part
        assert "in: cs.CL" in part
    assert "<style" not in html and "<img" not in html and 'style="' in html
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Unsubscribe"].startswith("<http://testserver/unsubscribe/")
    assert msg["Message-ID"].startswith("<digest.d") and msg["Message-ID"].endswith("@testserver>")
    assert parsedate_to_datetime(msg["Date"]).tzinfo is not None
    assert _deliver(any_store, settings).sent == 0


def test_421_is_retried_with_backoff_then_sent(any_store, any_settings, smtp):
    settings = mail_settings(any_settings, smtp)
    _setup(any_store, settings, ["ada@example.org"])
    _compose(any_store, settings)
    smtp.replies = ["421 4.3.0 Try again later"]
    first = _deliver(any_store, settings)
    assert (first.sent, first.retried) == (0, 1)
    retry = settings.mail.retry_base_seconds
    assert _deliver(any_store, settings, FIXED_NOW + timedelta(seconds=retry - 1)).sent == 0
    later = _deliver(any_store, settings, FIXED_NOW + timedelta(seconds=retry))
    assert later.sent == 1
    assert len(smtp.received) == 1
    assert outbox.outbox_counts(any_store) == {"sent": 1}


def test_550_fails_and_stops_the_address_at_the_bounce_limit(any_store, any_settings, smtp):
    settings = mail_settings(any_settings, smtp, bounce_limit=2)
    _setup(any_store, settings, ["gone@example.org", "ada@example.org"])
    smtp.refuse["gone@example.org"] = "550 5.1.1 No such user"
    for day in range(3):
        _compose(any_store, settings, now=FIXED_NOW + timedelta(days=day))
        add_papers(
            any_store,
            [{"title": f"More attention {day}", "categories": ["cs.CL"]}],
            now=FIXED_NOW + timedelta(days=day + 1),
        )
        _deliver(any_store, settings, FIXED_NOW + timedelta(days=day))
    gone = subs.get_subscriber(any_store, email="gone@example.org")
    assert gone is not None and gone.status == "bouncing" and gone.bounces == 2
    assert outbox.outbox_counts(any_store)["failed"] == 2  # the third day composed nothing for it
    assert {m["To"] for m in smtp.received} == {"ada@example.org"}


def _run_killed(settings: Settings, point: str, marker: str) -> None:
    env = {
        **os.environ,
        "PAPERTIDE_DATA_DIR": str(settings.data_dir),
        "PAPERTIDE_MAIL__SMTP_HOST": "127.0.0.1",
        "PAPERTIDE_MAIL__SMTP_PORT": str(settings.mail.smtp_port),
        "PAPERTIDE_MAIL__SECRET_KEY": "test-secret",
        "PAPERTIDE_MAIL__BASE_URL": "http://testserver",
        PAUSE_ENV: point,
        PAUSE_FILE_ENV: marker,
    }
    if settings.database_url:
        env["PAPERTIDE_DATABASE_URL"] = settings.database_url
    proc = subprocess.Popen([sys.executable, "-m", "papertide", "digest", "send"], env=env)
    deadline = time.monotonic() + 30
    while not Path(marker).exists():
        assert proc.poll() is None and time.monotonic() < deadline, "sender never paused"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_sigkill_between_send_and_mark_loses_nothing_and_resends_same_id(
    any_store, any_settings, smtp, tmp_path
):
    settings = mail_settings(any_settings, smtp)
    # The sender process reads the wall clock: papers filed now (its 3-day window covers
    # a midnight between here and there).
    now = utcnow()
    _setup(any_store, settings, ["a@example.org", "b@example.org", "c@example.org"], now)
    _run_killed(settings, "after_send", str(tmp_path / "paused"))
    assert len(smtp.received) == 1  # the server accepted one mail; its mark never happened
    assert outbox.outbox_counts(any_store) == {"claimed": 3}  # the batch it had claimed
    links = links_for(settings, any_store)
    assert deliver_due(any_store, mail=settings.mail, links=links).sent == 0  # lease holds
    after_lease = lambda: utcnow() + timedelta(seconds=settings.mail.lease_seconds + 1)  # noqa: E731
    assert deliver_due(any_store, mail=settings.mail, links=links, clock=after_lease).sent == 3
    assert outbox.outbox_counts(any_store) == {"sent": 3}
    ids = [str(m["Message-ID"]) for m in smtp.received]
    assert len(ids) == 4 and len(set(ids)) == 3  # the re-send reuses the Message-ID
    again = [m for m in smtp.received if str(m["Message-ID"]) == ids[0]]
    assert again[0]["Date"] == again[1]["Date"]
    assert (
        again[0].get_body(("plain",)).get_content() == again[1].get_body(("plain",)).get_content()
    )
    assert len(smtp.unique()) == 3


def test_sigkill_before_send_sends_it_on_the_next_run(any_store, any_settings, smtp, tmp_path):
    settings = mail_settings(any_settings, smtp)
    _setup(any_store, settings, ["a@example.org", "b@example.org"], utcnow())
    _run_killed(settings, "before_send", str(tmp_path / "paused"))
    assert smtp.received == []
    after_lease = lambda: utcnow() + timedelta(seconds=settings.mail.lease_seconds + 1)  # noqa: E731
    report = deliver_due(
        any_store, mail=settings.mail, links=links_for(settings, any_store), clock=after_lease
    )
    assert report.sent == 2
    assert sorted(m["To"] for m in smtp.received) == ["a@example.org", "b@example.org"]


def test_senders_started_together_send_each_digest_once(any_store, any_settings, smtp):
    """Three `papertide digest send` processes at once (three cron hosts): they compose the
    same digests (one row each: the outbox's unique key) and split the claims, so each
    subscriber gets exactly one mail."""
    settings = mail_settings(any_settings, smtp)
    emails = [f"r{i}@example.org" for i in range(6)]
    _setup(any_store, settings, emails, utcnow())  # the senders read the wall clock
    env = {
        **os.environ,
        "PAPERTIDE_DATA_DIR": str(settings.data_dir),
        "PAPERTIDE_MAIL__SMTP_HOST": "127.0.0.1",
        "PAPERTIDE_MAIL__SMTP_PORT": str(settings.mail.smtp_port),
        "PAPERTIDE_MAIL__SECRET_KEY": "test-secret",
        "PAPERTIDE_MAIL__BASE_URL": "http://testserver",
    }
    if settings.database_url:
        env["PAPERTIDE_DATABASE_URL"] = settings.database_url
    senders = [
        subprocess.Popen(
            [sys.executable, "-m", "papertide", "digest", "send"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for sender in senders:
        _, err = sender.communicate(timeout=180)
        assert sender.returncode == 0, err[-2000:]
    assert sorted(m["To"] for m in smtp.received) == sorted(emails)
    assert len(smtp.unique()) == len(emails)
    assert outbox.outbox_counts(any_store) == {"sent": len(emails)}
