"""Papers as the site shows them, for every feature: cards (``PaperView``: the paper with
the reader's vote, comment counts, its local submitter, the "new" mark), a paper's whole
page (``PaperDetail``), and lookup by any reference (a 404 that names it otherwise)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import quote

from fastapi import HTTPException, Request
from sqlalchemy.exc import SQLAlchemyError

from papertide.clock import utcnow
from papertide.models import Comment, Hit, HubCounts, HubLinks, Paper, Snippet, User
from papertide.normalize import web_url
from papertide.search.rwlock import IndexBusy
from papertide.store import Store
from papertide.web.bibtex import bibtex
from papertide.web.covers import cover_svg

log = logging.getLogger(__name__)

NEW_FOR = timedelta(hours=24)
# A paper first seen in the last NEW_FOR is "new" only if its own date is that recent too:
# an import of old captures or an archive is not news (arXiv announces up to 3 days after
# submission, over a weekend).
NEW_DAY_SLACK = timedelta(days=3)


@dataclass(slots=True)
class PaperView:
    """A paper as a list shows it: with the reader's vote and whether it is new."""

    paper: Paper
    voted: bool = False
    is_new: bool = False
    why: list[str] = field(default_factory=list)
    snippet: Snippet | None = None  # a search's best passage of the abstract, words marked
    site_comments: int = 0  # live comments on this site
    local_submitter: str | None = None  # the account here that submitted it, if any
    picture: str | None = None  # the version key of the paper's stored picture, if it has one
    card: str | None = None  # the version key of that picture's card variant, once it is cut
    hub: HubCounts = field(default_factory=HubCounts)  # models, datasets, Spaces citing it

    @property
    def picture_url(self) -> str:
        """The paper's picture on this site: the stored one (an immutable, versioned address),
        else its drawn cover."""
        if self.picture:
            return f"/pictures/{self.paper.id}.{self.picture}.webp"
        return f"/papers/{self.paper.id}/cover.svg"

    @property
    def card_url(self) -> str:
        """The picture a grid's tile shows: the card variant (a 16:10 band of about 7 KB),
        else the full picture, else the drawn cover."""
        if self.picture and self.card:
            return f"/pictures/{self.paper.id}.{self.card}.card.webp"
        return self.picture_url

    @property
    def cover(self) -> str:
        """The drawn cover's SVG, for a card to show inline where there is no picture."""
        return cover_svg(self.paper.title, self.paper.primary_category)

    @property
    def votes(self) -> int:
        """Votes here plus votes seen on the source site."""
        return self.paper.site_votes + (self.paper.upvotes_external or 0)

    @property
    def abs_url(self) -> str | None:
        """The abstract page: the stored link, else arXiv's built from the id."""
        p = self.paper
        return web_url(p.url_abs) or (f"https://arxiv.org/abs/{p.arxiv_id}" if p.arxiv_id else None)

    @property
    def pdf_url(self) -> str | None:
        """The PDF: the stored link, else arXiv's built from the id."""
        p = self.paper
        return web_url(p.url_pdf) or (f"https://arxiv.org/pdf/{p.arxiv_id}" if p.arxiv_id else None)

    @property
    def hf_url(self) -> str | None:
        """The paper's page on Hugging Face, for a paper that came from there."""
        p = self.paper
        if p.arxiv_id and "hf-daily" in p.sources:
            return f"https://huggingface.co/papers/{quote(p.arxiv_id)}"
        return None

    @property
    def submitter_url(self) -> str | None:
        """The submitter's profile: here for a local account, on Hugging Face for theirs."""
        if self.local_submitter:
            return f"/users/{quote(self.local_submitter)}"
        name = self.paper.submitted_by
        if name and "hf-daily" in self.paper.sources and re.fullmatch(r"[\w.-]+", name):
            return f"https://huggingface.co/{quote(name)}"
        return None

    @property
    def ai_summary(self) -> str | None:
        """The source's machine-written one-line summary (Hugging Face's ai_summary), if any."""
        value = self.paper.extra.get("ai_summary")
        return value if isinstance(value, str) and value.strip() else None

    @property
    def ai_keywords(self) -> list[str]:
        """The source's machine-picked keywords (Hugging Face's ai_keywords), if any."""
        value = self.paper.extra.get("ai_keywords")
        if not isinstance(value, list):
            return []
        return [k for k in value if isinstance(k, str) and k.strip()]


def is_new(paper: Paper, now: datetime) -> bool:
    """Whether to mark a paper "new": first seen here in the last day, and of recent date."""
    seen, day = paper.first_seen, paper.day
    if seen is None or now - seen >= NEW_FOR:
        return False
    return day is None or day >= (seen - NEW_DAY_SLACK).date()


def views(store: Store, found: list[Paper], user: User | None, now: datetime) -> list[PaperView]:
    """Wrap papers for display: the reader's votes, comment counts, local submitters and
    pictures (one connection), the counts of Hub repositories citing them (one read), the
    "new" mark."""
    pks = [p.pk for p in found if p.pk]
    marks = store.card_marks(pks, user_pk=user.pk if user else None)
    hub = store.hub_counts(pks)
    return [
        PaperView(
            paper=p,
            voted=p.pk in marks.voted,
            is_new=is_new(p, now),
            site_comments=marks.comments.get(p.pk or 0, 0),
            local_submitter=marks.submitters.get(p.pk or 0),
            picture=(versions := marks.pictures.get(p.pk or 0, (None, None)))[0],
            card=versions[1],
            hub=hub.get(p.pk or 0, HubCounts()),
        )
        for p in found
    ]


def hits_to_views(store: Store, hits: list[Hit], user: User | None) -> list[PaperView]:
    """Search or similarity hits as displayable papers, keeping order and reasons.

    A hit's ``paper``, when it has one, is the store's row read by the call that made the
    hit (SearchService.search and .similar do so); papers of the others are read here."""
    found = {h.paper_id: h.paper for h in hits if h.paper is not None}
    missing = [h.paper_id for h in hits if h.paper_id not in found]
    found.update((p.id or "", p) for p in store.papers_by_id(missing))
    shown = views(store, [found[h.paper_id] for h in hits if h.paper_id in found], user, utcnow())
    by_id = {h.paper_id: h for h in hits}
    for view in shown:
        hit = by_id[view.paper.id or ""]
        view.why, view.snippet = hit.why, hit.snippet
    return shown


@dataclass(slots=True)
class PaperDetail:
    """Everything the paper page shows."""

    view: PaperView
    bibtex: str
    similar: list[PaperView]
    listed: list[tuple[date, Paper, list[Paper]]]
    comments: list[Comment] = field(default_factory=list)
    hub: HubLinks = field(default_factory=HubLinks)  # the models, datasets, Spaces citing it


def find_paper(store: Store, ref: str) -> Paper:
    """A stored paper by any reference, or 404."""
    paper = store.get_paper(ref)
    if paper is None:
        raise HTTPException(status_code=404, detail=f"No paper {ref!r} here.")
    return paper


def paper_detail(
    request: Request, store: Store, ref: str, *, user: User | None, busy_ok: bool = False
) -> PaperDetail:
    """The paper, its BibTeX, similar papers (search/similar), page listings, discussion and
    the Hub repositories citing it. With ``busy_ok`` (the page), a search index written for
    longer than a request waits leaves the similar papers out instead of a 503."""
    paper = find_paper(store, ref)
    try:
        similar = request.app.state.search.similar(paper.id or "", k=8, paper=paper)
    except IndexBusy:
        if not busy_ok:
            raise
        similar = []
    # The paper and its similar papers as one list: one read of votes and comments for all.
    view, *alike = hits_to_views(store, [Hit(paper.id or "", 0.0, [], paper), *similar], user)
    return PaperDetail(
        view=view,
        bibtex=bibtex(paper),
        similar=alike,
        listed=store.listed_with(paper),
        comments=store.paper_comments(paper.pk or 0, viewer=user),
        hub=store.hub_links(paper.pk or 0),
    )


def wish_picture(store: Store, view: PaperView) -> None:
    """Ask the worker for the picture of a paper a reader opened, if it has none. Run after
    the page is sent; a store that cannot take the write (read-only, down, locked) costs a
    log line, never the page."""
    if view.picture is not None or view.paper.pk is None:
        return
    try:
        store.wish_picture(view.paper.pk, now=utcnow())
    except SQLAlchemyError as exc:
        log.info("picture wish for %s not recorded: %s", view.paper.id, type(exc).__name__)
