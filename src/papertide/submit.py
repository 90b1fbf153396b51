"""Community submission of a paper by arXiv id or URL: find it, or fetch it from arXiv.

Fetching uses the live arXiv API source (sources/arxiv_api.py, ``id_list`` query) through the
same polite client and the same import path as `papertide sync`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from papertide.config import Settings
from papertide.ingest import import_items
from papertide.models import Paper, Record
from papertide.normalize import parse_arxiv_id
from papertide.sources.arxiv_api import parse_feed
from papertide.sources.http import FetchError, PoliteClient
from papertide.store import Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SubmitOutcome:
    """The submitted paper (None when it could not be had), whether it was new, a message."""

    paper: Paper | None
    new: bool
    message: str


def resolve_submission(store: Store, settings: Settings, ref: str) -> SubmitOutcome:
    """The stored paper for ``ref``, or the paper fetched from arXiv and stored now."""
    parsed = parse_arxiv_id(ref)
    if parsed is None:
        return SubmitOutcome(None, False, f"{ref!r} is not an arXiv id or URL.")
    arxiv_id = parsed[0]
    found = store.get_paper(arxiv_id)
    if found is not None:
        return SubmitOutcome(found, False, "Already here.")
    try:
        paper = _fetch(settings, arxiv_id)
    except FetchError as exc:
        log.warning("submission of %s: arXiv could not be reached: %s", arxiv_id, exc)
        # The reader gets plain words; the operator's log keeps the host, status and cause.
        why = "arXiv is busy" if exc.status in (429, 503) else "arXiv could not be reached"
        return SubmitOutcome(
            None,
            False,
            f"Could not add {arxiv_id}: {why} just now. Nothing was lost: try again in a few "
            "minutes.",
        )
    if paper is None:
        return SubmitOutcome(None, False, f"arXiv has no paper {arxiv_id}.")
    paper.sources = ["submission", *paper.sources]
    with store.write() as session:
        import_items(session, [Record(paper, f"arXiv:{arxiv_id}", 1)], settings=settings)
    return SubmitOutcome(store.get_paper(arxiv_id), True, "Added.")


def _fetch(settings: Settings, arxiv_id: str) -> Paper | None:
    sync = settings.sync.model_copy(update={"retries": min(settings.sync.retries, 1)})
    with PoliteClient("submit", sync) as client:
        page = client.fetch(
            settings.sync.arxiv_api_url,
            {"id_list": arxiv_id, "start": 0, "max_results": 1},
            lambda response: parse_feed(
                response.content,
                str(response.url),
                expect_start=0,
                max_title=settings.max_title_chars,
                max_abstract=settings.max_abstract_chars,
            ),
        )
    papers = [item.paper for item in page.items if isinstance(item, Record)]
    return papers[0] if papers else None
