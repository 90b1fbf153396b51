"""`papertide sync`: run every configured live source incrementally, page by page.

Each source turns its stored state into pages (``Page``); each page is merged into the store
together with the source's new position in ONE transaction, so an interrupted run resumes
where it stopped and a failed page leaves papers and checkpoint as they were. Runs are
idempotent: re-reading what is stored changes nothing (ingest merges by arXiv id).

The sources themselves (what each reads, and its pages) are in sources/live.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.ingest import import_items
from papertide.models import ImportReport
from papertide.sources.http import FetchError, PoliteClient
from papertide.sources.live import Page, Source, make_source
from papertide.store import Store, WriteSession
from papertide.store.sync_state import SourceRun, load_state, log_run, save_state

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SourceResult:
    """What one source's run did."""

    name: str
    status: str = "ok"
    pages: int = 0
    skipped: int = 0
    message: str | None = None
    seconds: float = 0.0
    report: ImportReport = field(default_factory=ImportReport)


PageFn = Callable[[str, Page, SourceResult], None]


def sync_sources(
    store: Store,
    *,
    settings: Settings,
    names: list[str] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    on_page: PageFn | None = None,
) -> list[SourceResult]:
    """Run each named (else each configured) source once, one after the other."""
    chosen = names or list(settings.sync.sources)
    sources = [make_source(name, settings) for name in chosen]  # fail before any request
    moment = now or utcnow()
    return [
        sync_source(store, s, settings=settings, dry_run=dry_run, now=moment, on_page=on_page)
        for s in sources
    ]


def sync_source(
    store: Store,
    source: Source,
    *,
    settings: Settings,
    dry_run: bool = False,
    now: datetime,
    on_page: PageFn | None = None,
) -> SourceResult:
    """Run one source page by page; a failed page ends the run and leaves state as it was."""
    result, started, clock = SourceResult(source.name), utcnow(), time.perf_counter()
    state = load_state(store, source.name)
    try:
        with PoliteClient(source.name, settings.sync) as client:
            for page in source.pages(client, state, now):
                _store_page(store, source.name, page, result, settings=settings, dry_run=dry_run)
                if on_page is not None:
                    on_page(source.name, page, result)
    except FetchError as exc:
        result.status = "failed"
        result.message = f"{exc}. Nothing of that page was stored; the next sync resumes there."
        log.error("%s", result.message)
    except BaseException as exc:  # logged as such, then passed on
        result.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"
        result.message = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        result.seconds = time.perf_counter() - clock
        if not dry_run:
            _log_run(store, result, started)
    return result


def _store_page(
    store: Store,
    name: str,
    page: Page,
    result: SourceResult,
    *,
    settings: Settings,
    dry_run: bool,
) -> None:
    """Merge a page and save the source's position in one transaction."""
    with _transaction(store, rollback=dry_run) as session:
        import_items(session, page.items, settings=settings, report=result.report)
        save_state(
            session,
            source=name,
            watermark=page.watermark,
            checkpoint=page.checkpoint,
            succeeded=page.done,
        )
    result.pages += 1
    result.skipped += page.skipped


class _Rollback(Exception):
    """Raised inside a dry run's transaction so that it is rolled back."""


@contextmanager
def _transaction(store: Store, *, rollback: bool) -> Iterator[WriteSession]:
    """A write transaction; with ``rollback`` (a dry run) nothing of it is kept."""
    try:
        with store.write() as session:
            yield session
            if rollback:
                raise _Rollback
    except _Rollback:
        pass


def _log_run(store: Store, result: SourceResult, started: datetime) -> None:
    """Log the run; a failure to log must not hide why the run itself failed."""
    try:
        log_run(store, run=_run_row(result, started))
    except Exception:
        log.exception("%s: could not log the run in source_runs", result.name)


def _run_row(result: SourceResult, started: datetime) -> SourceRun:
    report = result.report
    return SourceRun(
        source=result.name,
        started=started,
        finished=utcnow(),
        status=result.status,
        pages=result.pages,
        added=report.added,
        changed=report.changed,
        unchanged=report.unchanged,
        errors=len(report.errors),
        message=result.message,
    )


def watch(
    store: Store,
    *,
    settings: Settings,
    names: list[str] | None = None,
    rounds: int | None = None,
    on_round: Callable[[list[SourceResult]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Sync every INTERVAL_MINUTES, forever or for ``rounds`` rounds."""
    done = 0
    while rounds is None or done < rounds:
        results = sync_sources(store, settings=settings, names=names)
        if on_round is not None:
            on_round(results)
        done += 1
        if rounds is None or done < rounds:
            sleep(settings.sync.interval_minutes * 60)
