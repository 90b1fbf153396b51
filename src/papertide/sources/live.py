"""The live sources behind `papertide sync`: how each turns its stored state into pages.

- arxiv: API search over a date window, from the last run's end (minus an overlap, since
  arXiv lists a submission only once announced) to now; checkpoint = the next ``start``.
- oai: ListRecords from the date of the last complete harvest; checkpoint = the
  resumptionToken of the next page. An expired token restarts the harvest from its date.
- hf: daily papers for each day (week, month) not read yet, re-reading the last few days so
  upvote and comment counts stay fresh; the watermark advances span by span.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from papertide.config import Settings
from papertide.sources import arxiv_api, hf_daily, oai
from papertide.sources.files import Item
from papertide.sources.http import FetchError, PoliteClient
from papertide.sources.settings import SOURCE_NAMES
from papertide.store.sync_state import SourceState

log = logging.getLogger("papertide.sync")


@dataclass(slots=True)
class Page:
    """One unit of work: records to merge and the position to store with them."""

    items: list[Item]
    watermark: str | None
    checkpoint: dict[str, Any] | None
    done: bool
    label: str
    progress: tuple[int, int | None] = (0, None)
    skipped: int = 0


class Source(Protocol):
    """A live source: its name, a line about what it reads, and its pages from a state."""

    name: str

    def describe(self) -> str:
        """What and where this source reads, in one line."""
        ...

    def pages(self, client: PoliteClient, state: SourceState, now: datetime) -> Iterator[Page]:
        """The pages still to read, from ``state`` up to ``now``."""
        ...


def first_day(settings: Settings, now: datetime) -> date:
    """Where a source's first run starts: START_DATE, else BACKFILL_DAYS before now."""
    sync = settings.sync
    return sync.start_date or (now - timedelta(days=sync.backfill_days)).date()


class ArxivApiSource:
    """arXiv API search by categories, terms and a lastUpdated/submitted date window."""

    name = "arxiv"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sync = settings.sync

    def describe(self) -> str:
        """Categories and extra terms, against the API URL."""
        terms = f" AND ({self.sync.arxiv_query})" if self.sync.arxiv_query else ""
        return f"{' '.join(self.sync.arxiv_categories)}{terms} via {self.sync.arxiv_api_url}"

    def pages(self, client: PoliteClient, state: SourceState, now: datetime) -> Iterator[Page]:
        """Pages of the window, resuming at the checkpoint's ``start`` if a run was cut."""
        cp = state.checkpoint
        if cp:
            window = arxiv_api.Window(_dt(cp["window_start"]), _dt(cp["window_end"]))
            start = int(cp["start"])
            log.info("arxiv: resuming the window %s at start=%d", _span(window), start)
        else:
            window, start = arxiv_api.Window(self._window_start(state, now), now), 0
        query = arxiv_api.build_query(
            categories=self.sync.arxiv_categories,
            extra=self.sync.arxiv_query,
            date_field=self.sync.arxiv_date_field,
            window=window,
        )
        for feed in arxiv_api.iter_pages(
            client,
            self.sync.arxiv_api_url,
            query,
            start=start,
            size=self.sync.arxiv_page_size,
            sort_by=self.sync.arxiv_date_field,
            max_title=self.settings.max_title_chars,
            max_abstract=self.settings.max_abstract_chars,
        ):
            yield self._page(feed, window, state)

    def _page(self, feed: arxiv_api.FeedPage, window: arxiv_api.Window, state: SourceState) -> Page:
        after = feed.start + feed.entries
        done = feed.entries == 0 or after >= min(feed.total, arxiv_api.MAX_RESULTS_PER_QUERY)
        if done and feed.total > arxiv_api.MAX_RESULTS_PER_QUERY:
            log.warning("arxiv: %d results, only 30,000 readable: narrow the query", feed.total)
        checkpoint = {
            "window_start": window.start.isoformat(),
            "window_end": window.end.isoformat(),
            "start": after,
        }
        return Page(
            items=list(feed.items),
            watermark=window.end.isoformat() if done else state.watermark,
            checkpoint=None if done else checkpoint,
            done=done,
            label=f"{after}/{feed.total}",
            progress=(after, feed.total),
        )

    def _window_start(self, state: SourceState, now: datetime) -> datetime:
        if state.watermark:
            return _dt(state.watermark) - timedelta(days=self.sync.arxiv_overlap_days)
        return datetime.combine(first_day(self.settings, now), datetime.min.time())


class OaiSource:
    """OAI-PMH ListRecords of one set, following resumption tokens."""

    name = "oai"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sync = settings.sync

    def describe(self) -> str:
        """Set and metadata format, against the OAI base URL."""
        where = f"set {self.sync.oai_set}" if self.sync.oai_set else "all sets"
        return f"{where}, {self.sync.oai_metadata_prefix} format, via {self.sync.oai_url}"

    def pages(self, client: PoliteClient, state: SourceState, now: datetime) -> Iterator[Page]:
        """Pages of the harvest from the last one's date; resumes at a stored token."""
        cp = state.checkpoint or {}
        since = date.fromisoformat(cp.get("from") or self._since(state, now))
        token: str | None = cp.get("token")
        harvest_date: str | None = cp.get("harvest_date")
        number = int(cp.get("pages", 0))
        if token:
            log.info("oai: resuming the harvest from %s at page %d", since, number + 1)
        while True:
            try:
                page = self._fetch(client, since, token)
            except FetchError as exc:
                if not (token and isinstance(exc.__cause__, oai.ExpiredToken)):
                    raise
                log.warning("oai: %s; starting the harvest from %s again", exc.reason, since)
                token, harvest_date, number = None, None, 0
                continue
            number += 1
            harvest_date = harvest_date or page.response_date.date().isoformat()
            token = page.token
            checkpoint = {"from": since.isoformat(), "token": token, "harvest_date": harvest_date}
            yield Page(
                items=list(page.items),
                watermark=harvest_date if token is None else state.watermark,
                checkpoint=None if token is None else {**checkpoint, "pages": number},
                done=token is None,
                label=f"page {number}",
                progress=(number, None),
                skipped=page.deleted,
            )
            if token is None:
                return

    def _since(self, state: SourceState, now: datetime) -> str:
        """From the date the last complete harvest began (arXiv's advice), else the start."""
        return state.watermark or first_day(self.settings, now).isoformat()

    def _fetch(self, client: PoliteClient, since: date, token: str | None) -> oai.OaiPage:
        params = oai.list_params(
            prefix=self.sync.oai_metadata_prefix,
            set_spec=self.sync.oai_set,
            since=since,
            token=token,
        )
        return oai.fetch_page(
            client,
            self.sync.oai_url,
            params,
            prefix=self.sync.oai_metadata_prefix,
            max_title=self.settings.max_title_chars,
            max_abstract=self.settings.max_abstract_chars,
        )


class HfDailySource:
    """Hugging Face daily papers by day, ISO week or month."""

    name = "hf"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sync = settings.sync

    def describe(self) -> str:
        """Period and URL."""
        sync = self.sync
        return f"by {sync.hf_period}, re-reading {sync.hf_refresh_days} days, via {sync.hf_url}"

    def pages(self, client: PoliteClient, state: SourceState, now: datetime) -> Iterator[Page]:
        """A page per span not read yet, plus the last few re-read for fresh counts."""
        today = now.date()
        if state.watermark:
            first = date.fromisoformat(state.watermark) - timedelta(days=self.sync.hf_refresh_days)
        else:
            first = first_day(self.settings, now)
        spans = hf_daily.spans_between(self.sync.hf_period, min(first, today), today)
        for number, span in enumerate(spans, 1):
            items = hf_daily.fetch_span(
                client,
                self.sync.hf_url,
                span,
                size=self.sync.hf_page_size,
                max_title=self.settings.max_title_chars,
                max_abstract=self.settings.max_abstract_chars,
            )
            latest = max(min(span.last, today), date.fromisoformat(state.watermark or "0001-01-01"))
            yield Page(
                items=list(items),
                watermark=latest.isoformat(),
                checkpoint=None,
                done=number == len(spans),
                label=span.param[1],
                progress=(number, len(spans)),
            )


SOURCES: dict[str, Callable[[Settings], Source]] = {
    "arxiv": ArxivApiSource,
    "oai": OaiSource,
    "hf": HfDailySource,
}


def make_source(name: str, settings: Settings) -> Source:
    """The source called ``name`` (arxiv, oai, hf), or ValueError listing the names."""
    if name not in SOURCES:
        raise ValueError(f"unknown source {name!r}; the sources are {', '.join(SOURCE_NAMES)}")
    return SOURCES[name](settings)


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _span(window: arxiv_api.Window) -> str:
    return f"{window.start:%Y-%m-%d %H:%M} to {window.end:%Y-%m-%d %H:%M}"
