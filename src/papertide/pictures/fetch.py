"""The worker's pictures round: which papers get a picture, fetched politely, drawn in a
capped child process, stored.

A round takes the papers ``Store.picture_candidates`` names (wished-for, recent, saved), at
most ``pictures.per_round``, and for each: claims it (so a second worker at the same time
skips it), fetches its Hugging Face thumbnail if the source gave one, else its arXiv PDF,
through the sources' polite client (one request at a time at arXiv's pace, Retry-After, a
User-Agent), renders it (``sandbox.render``) and stores the WebP. A failure is one log line
naming the paper and the reason; the paper keeps its drawn cover and is tried again after
``retry_hours``, doubling with each failure.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import Paper
from papertide.pictures.sandbox import Kind, RenderRefused, render
from papertide.pictures.settings import PictureSettings
from papertide.sources.http import FetchError, PoliteClient
from papertide.store import Store

log = logging.getLogger(__name__)

HF_THUMBNAIL_HOST = "cdn-thumbnails.huggingface.co"
LEASE = timedelta(minutes=15)  # a claim held by a worker that died runs out after this
MAX_BACKOFF = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class PictureSource:
    """Where a paper's picture comes from: what kind of input, its URL, the origin stored."""

    kind: Kind
    url: str
    origin: str


@dataclass(slots=True)
class RoundReport:
    """What a round did: pictures stored, failures, papers another worker had claimed."""

    stored: int = 0
    failed: int = 0
    taken: int = 0
    cards: int = 0  # card variants cut for pictures stored before they were made
    bytes_stored: int = 0
    failures: list[str] = field(default_factory=list)


def picture_source(paper: Paper, settings: PictureSettings) -> PictureSource | None:
    """The thumbnail Hugging Face named for the paper, else its arXiv PDF, else None."""
    thumbnail = paper.extra.get("thumbnail")
    if isinstance(thumbnail, str):
        parts = urlsplit(thumbnail)
        if parts.scheme == "https" and parts.hostname == HF_THUMBNAIL_HOST and parts.path:
            url = settings.hf_thumbnail_url.rstrip("/") + parts.path
            return PictureSource("image", url, "hf-thumbnail")
    if paper.arxiv_id:
        return PictureSource("pdf", f"{settings.arxiv_pdf_url.rstrip('/')}/{paper.arxiv_id}", "pdf")
    return None


def retry_at(now: datetime, tries: int, settings: PictureSettings) -> datetime:
    """When a paper whose fetch failed ``tries`` times may be tried again."""
    wait = timedelta(hours=settings.retry_hours) * (1 << min(max(tries - 1, 0), 16))
    return now + min(wait, MAX_BACKOFF)


def choose_papers(store: Store, settings: Settings, *, limit: int | None = None) -> list[Paper]:
    """The papers a round takes: up to ``limit`` (default ``per_round``) waiting ones."""
    wanted = settings.pictures
    return store.picture_candidates(
        now=utcnow(), recent_days=wanted.recent_days, limit=limit or wanted.per_round
    )


def fetch_pictures(
    store: Store,
    settings: Settings,
    chosen: list[Paper] | None = None,
    *,
    progress: Callable[[int], object] | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> RoundReport:
    """One round: a picture for each paper ``chosen`` (default: ``choose_papers``); ``stop``
    (the worker's SIGTERM) is looked at between papers, so a round ends within one."""
    if chosen is None:
        chosen = choose_papers(store, settings)
    report = RoundReport()
    _cut_cards(store, settings.pictures, report, stop)
    with PoliteClient("pictures", settings.sync) as client:
        for paper in chosen:
            if stop():
                break
            _picture_one(store, client, settings.pictures, paper, report)
            if progress is not None:
                progress(1)
    return report


def _cut_cards(
    store: Store, settings: PictureSettings, report: RoundReport, stop: Callable[[], bool]
) -> None:
    """Card variants for pictures stored without one (before cards were made, or restored
    from such a site), drawn from the stored picture in the capped child like any input; a
    picture replaced meanwhile keeps the card that came with it."""
    for paper_pk, version, data in store.pictures_without_cards(limit=settings.per_round):
        if stop():
            return
        try:
            drawn = render(
                "image", data, memory_mb=settings.render_memory_mb, timeout=settings.render_timeout
            )
        except RenderRefused as exc:  # the tile shows the whole picture; not tried again
            log.warning("card of picture %s not cut: %s; tiles show it whole", version, exc)
            store.save_card(paper_pk, version=version, card=data)
            continue
        report.cards += store.save_card(paper_pk, version=version, card=drawn.card)


def _picture_one(
    store: Store, client: PoliteClient, settings: PictureSettings, paper: Paper, report: RoundReport
) -> None:
    assert paper.pk is not None
    tries = store.claim_picture(paper.pk, now=utcnow(), lease=LEASE)
    if tries is None:
        report.taken += 1
        return
    source = picture_source(paper, settings)
    try:
        if source is None:
            raise RenderRefused("no thumbnail and no arXiv id to draw a picture from")
        cap = int(settings.max_download_mb * 1024 * 1024)
        download = client.fetch_bytes(source.url, limit=cap, seconds=settings.download_seconds)
        drawn = render(
            source.kind,
            download.data,
            memory_mb=settings.render_memory_mb,
            timeout=settings.render_timeout,
        )
    except (FetchError, RenderRefused) as exc:
        why = str(exc)
        log.warning("picture of %s refused: %s; its cover stays", paper.id, why)
        store.fail_picture(paper.pk, error=why, next_try=retry_at(utcnow(), tries, settings))
        report.failed += 1
        report.failures.append(f"{paper.id}: {why}")
        return
    store.save_picture(
        paper.pk,
        data=drawn.data,
        card=drawn.card,
        mime="image/webp",
        size=(drawn.width, drawn.height),
        origin=source.origin,
        now=utcnow(),
    )
    report.stored += 1
    report.bytes_stored += len(drawn.data)
