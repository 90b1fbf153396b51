"""What every page, API route and feed shows, computed once: HTML, JSON and Atom all call here.

Periods: a day (``2026-03-12``), an ISO week (``2026-W11``) or a month (``2026-03``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import quote

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import Hit, Paper, User
from papertide.normalize import web_url
from papertide.ranking.trending import keys_trending
from papertide.store import Store

NEW_FOR = timedelta(hours=24)
# A paper first seen in the last NEW_FOR is "new" only if its own date is that recent too:
# an import of old captures or an archive is not news (arXiv announces up to 3 days after
# submission, over a weekend).
NEW_DAY_SLACK = timedelta(days=3)
_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Period:
    """A span of days a feed shows: [start, end)."""

    kind: str  # "date" | "week" | "month"
    start: date
    end: date

    @property
    def slug(self) -> str:
        """How the period is written in URLs."""
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        return self.start.isoformat()

    @property
    def label(self) -> str:
        """How the period is written for people."""
        if self.kind == "week":
            return f"Week {self.slug[-2:]} of {self.start.isocalendar()[0]}"
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        return f"{self.start:%A, %B} {self.start.day}, {self.start.year}"

    @property
    def path(self) -> str:
        """The page of this period."""
        return f"/papers/{self.kind}/{self.slug}"

    def as_kind(self, kind: str) -> Period:
        """The day, week or month that holds this period's first day."""
        return period_containing(kind, self.start)

    def shifted(self, steps: int) -> Period:
        """The period ``steps`` before (negative) or after this one."""
        if self.kind == "date":
            return day_period(self.start + timedelta(days=steps))
        if self.kind == "week":
            return period_containing("week", self.start + timedelta(weeks=steps))
        month = self.start.month - 1 + steps
        return period_containing("month", date(self.start.year + month // 12, month % 12 + 1, 1))


def day_period(day: date) -> Period:
    """The period of one day."""
    return Period("date", day, day + timedelta(days=1))


def period_containing(kind: str, day: date) -> Period:
    """The day, ISO week or month that holds ``day``."""
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period("week", start, start + timedelta(days=7))
    if kind == "month":
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return Period("month", start, following)
    return day_period(day)


def parse_period(kind: str, value: str) -> Period:
    """Read a period from its URL form, or raise ValueError saying what was expected.

    The year 9999 is refused: its last day, week or month ends past ``date.max`` (an
    OverflowError, a 500, before; issue 13, finding 9).
    """
    if value[:4].isdigit() and int(value[:4]) >= date.max.year:
        raise ValueError(f"{value!r} is past the last year this site shows ({date.max.year - 1})")
    if kind == "date":
        try:
            return day_period(date.fromisoformat(value))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a date like 2026-03-12") from exc
    if kind == "week" and (m := _WEEK_RE.match(value)):
        try:
            return period_containing("week", date.fromisocalendar(int(m[1]), int(m[2]), 1))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an ISO week") from exc
    if kind == "month" and (m := _MONTH_RE.match(value)) and 1 <= int(m[2]) <= 12:
        return period_containing("month", date(int(m[1]), int(m[2]), 1))
    examples = {"week": "2026-W11", "month": "2026-03"}
    raise ValueError(f"{value!r} is not a {kind} like {examples.get(kind, '2026-03-12')}")


@dataclass(slots=True)
class PaperView:
    """A paper as a list shows it: with the reader's vote and whether it is new."""

    paper: Paper
    voted: bool = False
    is_new: bool = False
    why: list[str] = field(default_factory=list)
    site_comments: int = 0  # live comments on this site
    local_submitter: str | None = None  # the account here that submitted it, if any

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


@dataclass(slots=True)
class FeedPage:
    """One page of a period's feed."""

    period: Period
    papers: list[PaperView]
    total: int
    page: int
    per_page: int
    previous: Period | None  # the nearest earlier period with papers
    following: Period | None  # the nearest later period with papers
    anchor: date | None = None  # the day the reader came from (kept by Day/Week/Month)

    @property
    def day(self) -> date:
        """The day the Day / Week / Month links keep: the one the reader came from when it
        lies in this period, else the period's first day."""
        anchor = self.anchor
        if anchor is not None and self.period.start <= anchor < self.period.end:
            return anchor
        return self.period.start

    def kind_path(self, kind: str) -> str:
        """The day, week or month holding ``day``; a week or month remembers the day, so
        Week then Day comes back to it (not to the Monday), Month then Day too."""
        path = period_containing(kind, self.day).path
        return path if kind == "date" else f"{path}?on={self.day.isoformat()}"

    @property
    def pages(self) -> int:
        """How many pages the period has."""
        return max(1, -(-self.total // self.per_page))


def is_new(paper: Paper, now: datetime) -> bool:
    """Whether to mark a paper "new": first seen here in the last day, and of recent date."""
    seen, day = paper.first_seen, paper.day
    if seen is None or now - seen >= NEW_FOR:
        return False
    return day is None or day >= (seen - NEW_DAY_SLACK).date()


def views(store: Store, found: list[Paper], user: User | None, now: datetime) -> list[PaperView]:
    """Wrap papers for display: the reader's votes, comment counts and local submitters
    (one connection), the "new" mark."""
    marks = store.card_marks([p.pk for p in found if p.pk], user_pk=user.pk if user else None)
    return [
        PaperView(
            paper=p,
            voted=p.pk in marks.voted,
            is_new=is_new(p, now),
            site_comments=marks.comments.get(p.pk or 0, 0),
            local_submitter=marks.submitters.get(p.pk or 0),
        )
        for p in found
    ]


def period_feed(
    store: Store,
    period: Period,
    *,
    user: User | None,
    page: int = 1,
    per_page: int = 30,
    anchor: date | None = None,
) -> FeedPage:
    """The papers of a period, most voted first, with the nearest periods that have papers."""
    found, total = store.papers_between(
        period.start, period.end, limit=per_page, offset=(page - 1) * per_page
    )
    before, after = store.neighbour_days(period.start, period.end)
    return FeedPage(
        period=period,
        papers=views(store, found, user, utcnow()),
        total=total,
        page=page,
        per_page=per_page,
        previous=period_containing(period.kind, before) if before else None,
        following=period_containing(period.kind, after) if after else None,
        anchor=anchor,
    )


def latest_period(store: Store) -> Period:
    """The newest day with papers (today when the store is empty)."""
    return day_period(store.latest_day() or utcnow().date())


def trending_until(store: Store, settings: Settings) -> date:
    """The last day of the trending window: today, or the newest day with papers when no
    paper arrived in the window's days before today."""
    today = utcnow().date()
    latest = store.latest_day()
    if latest is None or latest >= today - timedelta(days=settings.trending_window_days):
        return today
    return latest


def trending(
    store: Store,
    settings: Settings,
    *,
    user: User | None,
    limit: int = 30,
    offset: int = 0,
    until: date | None = None,
) -> list[PaperView]:
    """Papers of the trending window ranked by ``trending_score`` (formula in ranking/).

    Only papers with votes can score above zero, so only they are scored; papers without
    votes follow, newest first, from an indexed query (fast at any store size).

    The window ends today, or on the newest day with papers when that is older
    (``trending_until``, read here unless the caller has it): a store that stopped
    receiving papers (the demo's captures, a site whose sync is paused) shows the ranking as
    it stood then, said so on the page, rather than "nothing trending".
    """
    until = until or trending_until(store, settings)
    now = min(utcnow(), datetime(until.year, until.month, until.day) + timedelta(days=1))
    window_start = until - timedelta(days=settings.trending_window_days)
    params = settings.trending
    scored = [
        (keys_trending(k.site_votes, k.upvotes_external, k.day, now, params), k.pk)
        for k in store.voted_keys_since(window_start)
    ]
    scored.sort(key=lambda item: (-item[0], -item[1]))
    page = scored[offset : offset + limit]
    found = {p.pk: p for p in store.papers_by_pk([pk for _, pk in page])}
    chosen = [(score, found[pk]) for score, pk in page if pk in found]
    if len(chosen) < limit:
        skip = max(0, offset - len(scored))
        rest = store.unvoted_since(window_start, limit=limit - len(chosen), offset=skip)
        chosen += [(0.0, p) for p in rest]
    shown = views(store, [p for _, p in chosen], user, now)
    for view, (score, _) in zip(shown, chosen, strict=True):
        view.why = [f"trending score {score:.3f}"]
    return shown


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
        view.why = by_id[view.paper.id or ""].why
    return shown


def _publication_year(paper: Paper) -> int | str:
    """The year the paper was published: its date, else its arXiv id's (YYMM since 2007,
    YYMM after the slash before); never the day it was imported or listed."""
    if paper.published is not None:
        return paper.published.year
    if paper.arxiv_id:
        found = re.match(r"^(?:[a-z.-]+/)?(\d{2})(\d{2})", paper.arxiv_id)
        if found and 1 <= int(found[2]) <= 12:
            yy = int(found[1])
            return 1900 + yy if yy >= 91 else 2000 + yy
    return ""


def bibtex(paper: Paper) -> str:
    """A BibTeX entry for the paper (arXiv's own style: @misc with eprint fields)."""
    first = paper.authors[0].split()[-1] if paper.authors else "anon"
    year = _publication_year(paper)
    key = re.sub(r"\W+", "", f"{first}{year}{(paper.title.split() or ['x'])[0]}").lower()
    fields = {
        "title": "{" + paper.title + "}",
        "author": " and ".join(paper.authors),
        "year": str(year),
        "eprint": paper.arxiv_id,
        "archivePrefix": "arXiv" if paper.arxiv_id else None,
        "primaryClass": paper.primary_category,
        "doi": paper.doi,
        "url": web_url(paper.url_abs),
    }
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items() if v)
    return f"@misc{{{key},\n{body}\n}}"
