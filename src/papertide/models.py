"""Domain records shared by every stage: plain dataclasses, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, get_args

from papertide.normalize import web_url


@dataclass(slots=True)
class Paper:
    """One research paper, as normalised by a source or loaded from the store.

    Dates are UTC and naive. ``authors`` keeps the paper's order; ``categories`` has the
    primary arXiv category first. ``id`` (public, stable) and ``pk`` (internal row key) are
    set by the store; sources leave them empty.
    """

    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    arxiv_id: str | None = None
    arxiv_version: int | None = None
    doi: str | None = None
    categories: list[str] = field(default_factory=list)
    published: datetime | None = None
    updated: datetime | None = None
    listed_on: date | None = None
    url_abs: str | None = None
    url_pdf: str | None = None
    url_code: str | None = None
    url_project: str | None = None
    journal_ref: str | None = None
    comments: str | None = None
    upvotes_external: int | None = None
    github_stars: int | None = None
    comments_count: int | None = None
    submitted_by: str | None = None
    site_votes: int = 0  # read-only here: only votes (store.set_vote) change it
    sources: list[str] = field(default_factory=list)
    external_ids: dict[str, str] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)
    id: str | None = None
    pk: int | None = None
    first_seen: datetime | None = None

    @property
    def primary_category(self) -> str | None:
        """The primary arXiv category, if any."""
        return self.categories[0] if self.categories else None

    @property
    def day(self) -> date | None:
        """The paper's one date, everywhere: the day it was listed (on a trending page or a
        daily feed) when it was, else the day it was published, else the day it was first
        seen here. Feeds file it under this day, cards show it, search filters
        (``after:``/``before:``) and sorts by it."""
        if self.listed_on is not None:
            return self.listed_on
        if self.published is not None:
            return self.published.date()
        return self.first_seen.date() if self.first_seen is not None else None

    @property
    def abs_link(self) -> str | None:
        """The abstract page to link: the stored http(s) URL, else arXiv's from the id."""
        stored = web_url(self.url_abs)
        if stored or not self.arxiv_id:
            return stored
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_link(self) -> str | None:
        """The PDF to link: the stored http(s) URL, else arXiv's from the id."""
        stored = web_url(self.url_pdf)
        if stored or not self.arxiv_id:
            return stored
        return f"https://arxiv.org/pdf/{self.arxiv_id}"

    @property
    def day_kind(self) -> str:
        """Which date ``day`` is: "listed", "published" or "added" (first seen here)."""
        if self.listed_on is not None:
            return "listed"
        return "published" if self.published is not None else "added"

    @property
    def day_label(self) -> str:
        """How a card introduces ``day``: "listed on", "published" or "added"."""
        return {"listed": "listed on"}.get(self.day_kind, self.day_kind)


@dataclass(slots=True)
class Record:
    """What a source yields: a paper plus where it was read (file and line) for errors."""

    paper: Paper
    origin: str
    line: int


@dataclass(slots=True)
class Listing:
    """A page that listed papers in order: a trending-page capture's "listed with" data.

    ``positions`` index into the records the same source yielded, in page order; the first
    is the subject paper the page was opened for.
    """

    kind: str
    origin: str
    listed_on: date
    positions: list[int]


@dataclass(slots=True)
class RecordError:
    """A record that could not be read: where, and why."""

    origin: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.origin}:{self.line}: {self.reason}"


@dataclass(slots=True)
class Hit:
    """One result of any search or ranking: which paper, how strong, and why.

    Every search and ranking function returns a list of these, so pages, the API and mail
    can mix and explain them. ``why`` holds short human-readable reasons, e.g.
    ``"title and abstract match: sparse attention"``, ``"close in meaning"``,
    ``"like: <title you upvoted>"``.
    """

    paper_id: str
    score: float
    why: list[str] = field(default_factory=list)
    paper: Paper | None = None
    snippet: Snippet | None = None  # the passage of the abstract that shows why (search)
    scores: dict[str, float] = field(default_factory=dict)  # "cosine", "passage": for tools


@dataclass(slots=True)
class Snippet:
    """A passage of a paper's text with the query's words marked: ``marks`` are
    ``(start, end)`` character offsets into ``text``, in order, never inside math."""

    text: str
    marks: list[tuple[int, int]] = field(default_factory=list)


@dataclass(slots=True)
class User:
    """A community account (passwords live only as hashes in the store)."""

    pk: int
    username: str
    email: str | None
    created: datetime
    moderator: bool = False


@dataclass(slots=True)
class ImportReport:
    """What one ingest run did."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    # Records of a paper this run had already read (a paper on several pages): merged into
    # it, and counted here rather than as unchanged.
    repeated: int = 0
    listings_added: int = 0
    listings_changed: int = 0
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[RecordError] = field(default_factory=list)
    records: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Records read per second."""
        return self.records / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class Comment:
    """A comment on a paper; top-level comments carry their replies (one level deep).

    ``deleted`` comments are kept only as a "[deleted]" placeholder while they have replies
    (their body is gone); ``hidden`` ones were hidden by a moderator.
    """

    pk: int
    paper_pk: int
    user_pk: int
    username: str
    body: str
    created: datetime
    parent_pk: int | None = None
    edited: datetime | None = None
    deleted: datetime | None = None
    hidden: datetime | None = None
    replies: list[Comment] = field(default_factory=list)


@dataclass(slots=True)
class PaperList:
    """A user's named list of saved papers, private unless ``public``."""

    pk: int
    user_pk: int
    owner: str
    slug: str
    name: str
    public: bool
    created: datetime
    updated: datetime
    description: str = ""
    size: int = 0


# What a paper led to on the Hugging Face Hub: repositories tagged with its arXiv id.
HubKind = Literal["model", "dataset", "space"]
HUB_KINDS: tuple[HubKind, ...] = get_args(HubKind)
# A Hub repository id: "name" (a legacy model) or "owner/name"; letters, digits, "-", "_"
# and "." (no ".." and not ending in "."), at most 96 characters a part, as the Hub allows.
_HUB_PART = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_-])?"
HUB_REPO = re.compile(rf"(?:{_HUB_PART}/)?{_HUB_PART}", re.ASCII)
_HUB_PATHS = {"model": "", "dataset": "datasets/", "space": "spaces/"}


def is_hub_repo(repo: str) -> bool:
    """Whether ``repo`` is a Hub repository id safe to put in a link."""
    return bool(HUB_REPO.fullmatch(repo)) and ".." not in repo


def hub_repo_url(kind: str, repo: str) -> str | None:
    """The repository's page on huggingface.co, or None for an id that is not one."""
    if kind not in _HUB_PATHS or not is_hub_repo(repo):
        return None
    return f"https://huggingface.co/{_HUB_PATHS[kind]}{repo}"


@dataclass(frozen=True, slots=True)
class HubRepo:
    """A model, dataset or Space on the Hugging Face Hub that cites a paper."""

    kind: HubKind
    repo: str  # "owner/name"
    likes: int = 0
    downloads: int | None = None  # models and datasets (the Hub's last 30 days)
    updated: datetime | None = None  # the repository's last change (else its creation)

    @property
    def url(self) -> str | None:
        """Its page on huggingface.co (None if the id fails the strict pattern)."""
        return hub_repo_url(self.kind, self.repo)


@dataclass(slots=True)
class HubLinks:
    """A paper's repositories on the Hub, most liked first, and the kinds the Hub listed
    more of than were kept (``more``)."""

    repos: list[HubRepo] = field(default_factory=list)
    more: set[str] = field(default_factory=set)
    checked: datetime | None = None

    def of(self, kind: str) -> list[HubRepo]:
        """The repositories of one kind."""
        return [r for r in self.repos if r.kind == kind]

    @property
    def counts(self) -> HubCounts:
        """How many of each kind."""
        return HubCounts(
            models=len(self.of("model")),
            datasets=len(self.of("dataset")),
            spaces=len(self.of("space")),
            more=frozenset(self.more),
        )


@dataclass(frozen=True, slots=True)
class HubCounts:
    """How many models, datasets and Spaces cite a paper; a kind in ``more`` has more."""

    models: int = 0
    datasets: int = 0
    spaces: int = 0
    more: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.models or self.datasets or self.spaces)
