"""`papertide digest send|preview` and `papertide worker`: digests from the command line.

`digest send` is idempotent and cron-safe: run it as often as you like (every 15 minutes is
plenty); it composes what is due and not yet composed, then delivers the outbox.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from papertide.cli.common import console, fail, open_store, plural, settings_of

if TYPE_CHECKING:  # the mail code is loaded by the commands that run it
    from types import FrameType

    from papertide.config import Settings
    from papertide.mail.digest import ComposeReport
    from papertide.mail.send import SendReport
    from papertide.store import Store

log = logging.getLogger("papertide.worker")
digest_app = typer.Typer(help="Email digests: compose and send what is due, preview one.")


def _lines(composed: ComposeReport, sent: SendReport | None) -> list[str]:
    lines = [
        f"due {composed.due}, composed {composed.created}, empty (not sent) {composed.empty}, "
        f"already composed {composed.already}, distinct queries {composed.queries}"
    ]
    if sent is not None:
        lines.append(
            f"sent {sent.sent}, retry later {sent.retried}, failed {sent.failed}, "
            f"taken over {sent.lost} in {sent.seconds:.1f} s"
        )
    return lines


def _print(composed: ComposeReport, sent: SendReport | None) -> None:
    for line in _lines(composed, sent):
        console.print(line)


@digest_app.command("send")
def send(
    ctx: typer.Context,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Compose and show what is due; write and send nothing."
    ),
) -> None:
    """Compose the digests that are due and deliver the outbox (safe to run from cron).

    Example:  */15 * * * *  papertide digest send
    """
    from papertide.clock import utcnow
    from papertide.mail.digest import run_digests
    from papertide.store import outbox

    settings = settings_of(ctx)
    store = open_store(settings)
    try:
        composed, sent = run_digests(store, settings=settings, now=utcnow(), dry_run=dry_run)
        _print(composed, sent)
        if dry_run:
            for digest in composed.digests:
                console.print(
                    f"  would send {digest.period} to #{digest.subscriber_pk}: {digest.subject}",
                    highlight=False,
                )
            console.print(f"outbox now: {outbox.outbox_counts(store)}")
    finally:
        store.close()


@digest_app.command("preview")
def preview(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The subscriber's address."),
    out: Path = typer.Option(Path("digest-preview.html"), "--out", "-o", help="HTML file."),
    day: str = typer.Option(
        "",
        "--date",
        metavar="YYYY-MM-DD",
        help="Compose it as on this day (noon UTC) instead of now: an archive's or the "
        "demo's papers are not new today.",
    ),
) -> None:
    """Write the HTML of EMAIL's digest (as it would be composed now) to a file.

    When the digest would hold nothing new, it says so and names the newest day with papers.

    Examples:
      papertide digest preview ada@example.org -o /tmp/d.html
      papertide digest preview demo@example.org --date 2026-04-09
    """
    from papertide.clock import utcnow
    from papertide.mail.digest import preview_message
    from papertide.store import subscriptions as subs

    now = _noon_of(day) if day else utcnow()
    settings = settings_of(ctx)
    store = open_store(settings)
    try:
        sub = subs.get_subscriber(store, email=email.strip().lower())
        if sub is None:
            raise fail(f"no subscriber {email}")
        msg, count = preview_message(store, settings=settings, subscriber=sub, now=now)
        newest = store.latest_day() if count == 0 else None
    finally:
        store.close()
    html = next(part for part in msg.walk() if part.get_content_type() == "text/html")
    payload = html.get_payload(decode=True)
    assert isinstance(payload, bytes)
    out.write_bytes(payload)
    console.print(f"wrote {out} ({msg['Subject']})", highlight=False)
    if newest is not None:
        console.print(
            f"Nothing new for {now.date()}: the newest papers are of {newest}. "
            f"Try: papertide digest preview {email} --date {newest}",
            highlight=False,
        )


def _noon_of(day: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(day), time(12))
    except ValueError:
        raise fail(f"--date: not a date (YYYY-MM-DD): {day!r}", code=2) from None


class _Stop:
    """Set by SIGTERM or SIGINT: the worker finishes the job in hand, then exits."""

    def __init__(self) -> None:
        import threading

        self.event = threading.Event()
        self.signal: int | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        # Only set the flag: printing here could re-enter a write the main code is in.
        self.signal = signum
        self.event.set()


def worker(
    ctx: typer.Context,
    no_sync: bool = typer.Option(
        False, "--no-sync", help="Only digests; no `papertide sync` or `sync-hub`."
    ),
    no_pictures: bool = typer.Option(
        False, "--no-pictures", help="No pictures job (also: pictures.enabled = false)."
    ),
    once: bool = typer.Option(False, "--once", help="Run each job once, then exit."),
) -> None:
    """Run syncs, digests and pictures on their schedules in one long-running process.

    Syncs every sync.interval_minutes (PAPERTIDE_SYNC__INTERVAL_MINUTES), a round of
    `sync-hub` every sync.hub_interval_minutes, digests every mail.digest_interval_minutes,
    a round of paper pictures every pictures.interval_minutes. SIGTERM or Ctrl-C stops it
    cleanly between jobs; a digest batch cut short by a hard kill is sent by a later run
    once its lease (mail.lease_seconds) runs out.

    Examples:
      papertide worker
      papertide worker --once --no-sync
    """
    import sys

    from papertide.logs import lines_to

    settings = settings_of(ctx)
    # Its lines are log lines, each with its time (UTC) and level.
    with lines_to(sys.stdout, json=settings.serve.log_json):
        _work(settings, no_sync=no_sync, no_pictures=no_pictures, once=once)


def _work(settings: Settings, *, no_sync: bool, no_pictures: bool, once: bool) -> None:
    import signal

    from papertide.worker import Job, run_jobs

    stop = _Stop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    store = open_store(settings)
    jobs = [
        Job(
            "digests",
            settings.mail.digest_interval_minutes * 60.0,
            lambda: _digests(store, settings),
        )
    ]
    if settings.pictures.enabled and not no_pictures:
        from papertide.cli.pictures_cmd import run_round

        every = settings.pictures.interval_minutes * 60.0
        jobs.append(Job("pictures", every, lambda: run_round(store, settings, stop.event.is_set)))
    if not no_sync:
        jobs[:0] = [
            Job("sync", settings.sync.interval_minutes * 60.0, lambda: _sync(store, settings)),
            Job("hub", settings.sync.hub_interval_minutes * 60.0, lambda: _hub(store, settings)),
        ]
    try:
        run_jobs(jobs, stop=stop.event, once=once)
    finally:
        store.close()
    why = f" (signal {stop.signal})" if stop.signal is not None else ""
    log.info("worker stopped%s", why)


def _digests(store: Store, settings: Settings) -> None:
    from papertide.clock import utcnow
    from papertide.mail.digest import run_digests

    composed, sent = run_digests(store, settings=settings, now=utcnow())
    for line in _lines(composed, sent):
        log.info(line)


def _sync(store: Store, settings: Settings) -> None:
    from papertide.indexing import index_and_list_similar
    from papertide.sync import sync_sources  # network stack loaded only when syncing

    results = sync_sources(store, settings=settings)
    for result in results:
        log.info("sync %s: %s (%s)", result.name, result.status, plural(result.pages, "page"))
    stored = any(r.report.added or r.report.changed for r in results)
    if stored and index_and_list_similar(settings, store).busy:
        log.info(
            "sync: the search index is being written by another process (a running "
            "`papertide serve`, say): it follows the store's change feed and takes them in"
        )


def _hub(store: Store, settings: Settings) -> None:
    from papertide.cli.hub_cmd import print_report
    from papertide.hub_sync import sync_hub  # network stack loaded only when syncing

    print_report(sync_hub(store, settings))


def register(app: typer.Typer) -> None:
    """Add `digest` and `worker` to the CLI."""
    app.add_typer(digest_app, name="digest")
    app.command("worker")(worker)
