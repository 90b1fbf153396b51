"""Composing due digests into the outbox: gathers inputs from the store and search, then
calls the pure selection in compose.py and recommend.py.

Idempotent and cron-safe: a (subscriber, period) that already has a digest is skipped, and
the outbox's unique key makes a concurrent second composer a no-op. Per run, each distinct
query is searched once and each period's candidates, trending list and tf-idf space are
built once, so thousands of subscribers cost little more than their distinct interests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from email.message import Message
from typing import Any
from weakref import WeakKeyDictionary

from papertide.config import Settings
from papertide.mail import compose
from papertide.mail.recommend import TfidfSpace, recommend
from papertide.mail.records import NewDigest, Subscriber
from papertide.mail.render import Links, digest_context, make_message_id, render_digest
from papertide.mail.send import SendReport, deliver_due
from papertide.mail.settings import SECRET_FILE
from papertide.models import Hit, Paper
from papertide.ranking.trending import DEFAULT as DEFAULT_TRENDING
from papertide.ranking.trending import TrendingParams, paper_trending
from papertide.store import Store, outbox
from papertide.store import subscriptions as subs
from papertide.store.secrets import site_secret

SearchFn = Callable[[str], list[Hit]]
VotesFn = Callable[[Subscriber], list[int]]
WRITE_BATCH = 500


@dataclass(slots=True)
class ComposeReport:
    """What one composing pass did."""

    due: int = 0
    created: int = 0
    empty: int = 0
    already: int = 0
    queries: int = 0
    digests: list[NewDigest] = field(default_factory=list)


@dataclass(slots=True)
class _Window:
    """One period's shared inputs, built on first use."""

    candidates: dict[int, Paper]
    now: datetime
    index: compose.Candidates
    params: TrendingParams = DEFAULT_TRENDING
    _trending: list[Hit] | None = None
    _space: TfidfSpace | None = None

    def trending(self, k: int = 30) -> list[Hit]:
        """The window's papers by trending score (votes: the source's plus this site's)."""
        if self._trending is None:
            scored = []
            for paper in self.candidates.values():
                votes = (paper.upvotes_external or 0) + paper.site_votes
                if votes > 0:
                    scored.append((paper_trending(paper, self.now, self.params), votes, paper))
            scored.sort(key=lambda t: (-t[0], t[2].pk or 0))
            self._trending = [
                Hit(p.id or str(p.pk), s, [f"trending: {v} upvote{'s' * (v != 1)}"], p)
                for s, v, p in scored[:k]
            ]
        return self._trending

    def space(self) -> TfidfSpace:
        """The tf-idf space of the window's papers (for recommendations)."""
        if self._space is None:
            self._space = TfidfSpace(list(self.candidates.values()))
        return self._space


def compose_due(
    store: Store,
    *,
    links: Links,
    now: datetime,
    weekly_day: int,
    search: SearchFn,
    votes: VotesFn,
    trending: TrendingParams = DEFAULT_TRENDING,
    dry_run: bool = False,
    dismissed: VotesFn | None = None,
) -> ComposeReport:
    """Compose every due, not yet composed digest and put it in the outbox (unless dry_run).

    ``votes`` gives each subscriber's liked papers (the recommender's positives);
    ``dismissed`` the papers they said "not interested" to: never mailed to them, and
    negatives for their recommender."""
    report = ComposeReport()
    due = [
        (s, period)
        for s in subs.active_subscribers(store)
        if (period := compose.due_period(s.prefs, now, weekly_day=weekly_day)) is not None
    ]
    report.due = len(due)
    done = subs.composed_periods(store, {period for _, period in due})
    todo = [(s, p) for s, p in due if (s.pk, p) not in done]
    report.already = len(due) - len(todo)
    ledger = subs.sent_papers(store, (s.pk for s, _ in todo))
    liked = {s.pk: votes(s) for s, _ in todo}
    unwanted = {s.pk: dismissed(s) if dismissed else [] for s, _ in todo}
    liked_papers = subs.papers_by_pk(
        store, (pk for pks in (*liked.values(), *unwanted.values()) for pk in pks)
    )
    windows: dict[str, _Window] = {}
    searched: dict[str, list[Hit]] = {}
    batch: list[tuple[NewDigest, str]] = []
    for sub, period in todo:
        window = _window(store, windows, period, now, trending)
        for query in sub.prefs.queries:
            if query not in searched:
                searched[query] = search(query)
        positives = [liked_papers[pk] for pk in liked[sub.pk] if pk in liked_papers]
        negatives = [liked_papers[pk] for pk in unwanted[sub.pk] if pk in liked_papers]
        skip = ledger[sub.pk] | set(unwanted[sub.pk])
        digest = _compose_one(sub, period, window, searched, (positives, negatives), skip, links)
        wanted = bool(digest.items) or sub.prefs.send_empty
        report.created += wanted
        report.empty += not wanted
        batch.append((digest, "pending" if wanted else "empty"))
        if len(batch) >= WRITE_BATCH:
            _write(store, batch, report, dry_run=dry_run)
    _write(store, batch, report, dry_run=dry_run)
    report.queries = len(searched)
    return report


def _window(
    store: Store,
    windows: dict[str, _Window],
    period: str,
    now: datetime,
    trending: TrendingParams = DEFAULT_TRENDING,
) -> _Window:
    start, end = compose.period_window(period)
    key = f"{start}/{end}"
    if key not in windows:
        found = subs.papers_between(
            store, start=datetime.combine(start, time()), end=datetime.combine(end, time())
        )
        by_pk = {p.pk: p for p in found if p.pk is not None}
        windows[key] = _Window(by_pk, now, compose.Candidates.of(list(by_pk.values())), trending)
    return windows[key]


def _compose_one(
    sub: Subscriber,
    period: str,
    window: _Window,
    searched: dict[str, list[Hit]],
    likes: tuple[list[Paper], list[Paper]],
    sent: set[int],
    links: Links,
) -> NewDigest:
    prefs = sub.prefs
    positives, negatives = likes
    interests = compose.match_interests(
        prefs=prefs,
        candidates=window.index,
        searched=searched,
        skip=sent,
        limit=3 * prefs.papers_per_mail,
    )
    recommended: list[Hit] = []
    if positives:
        papers = list(window.candidates.values())
        recommended = recommend(
            window.space(),
            papers,
            positives,
            k=prefs.papers_per_mail,
            seed=sub.pk,
            dislikes=negatives,
        )
    items = compose.compose_items(
        prefs=prefs,
        trending=window.trending() if prefs.include_trending else [],
        interests=interests,
        recommended=recommended,
        already_sent=sent,
    )
    return NewDigest(
        subscriber_pk=sub.pk,
        period=period,
        message_id=make_message_id(
            secret=links.secret, subscriber_pk=sub.pk, period=period, domain=links.domain
        ),
        subject=compose.digest_subject(period, len(items)),
        items=items,
        created=window.now.replace(microsecond=0),
    )


def _write(
    store: Store, batch: list[tuple[NewDigest, str]], report: ComposeReport, *, dry_run: bool
) -> None:
    """Write a batch of digests in one transaction; unwanted empty ones are kept as 'empty'
    (so the period counts as done) and never sent."""
    if dry_run:
        report.digests.extend(digest for digest, _ in batch)
    elif batch:
        with store.write() as ws:
            for digest, status in batch:
                outbox.add_digest(ws, digest=digest, status=status)
    batch.clear()


_SECRETS: WeakKeyDictionary[Store, str] = WeakKeyDictionary()


def signing_secret(settings: Settings, store: Store) -> str:
    """The key that signs mail links and CSRF tokens: the configured ``mail.secret_key``,
    else the one kept in the database for every node (made once; a ``mail-secret.key``
    an earlier version left in the data folder is adopted, so links already mailed work)."""
    if settings.mail.secret_key:
        return settings.mail.secret_key
    if store not in _SECRETS:
        legacy = settings.data_dir / SECRET_FILE
        adopt = legacy.read_text("utf-8").strip() if legacy.is_file() else None
        _SECRETS[store] = site_secret(store, "signing", adopt=adopt)
    return _SECRETS[store]


def links_for(settings: Settings, store: Store) -> Links:
    """The site address, signing key and sender every mail uses."""
    mail = settings.mail
    secret = signing_secret(settings, store)
    return Links(base_url=mail.base_url, secret=secret, from_address=mail.from_address)


class SiteSearch:
    """The site's hybrid search as a SearchFn; the index is opened on the first query."""

    def __init__(self, settings: Settings, store: Store, *, k: int = 100) -> None:
        self.settings, self.store, self.k = settings, store, k
        self._service: Any = None

    def __call__(self, query: str) -> list[Hit]:
        if self._service is None:
            from papertide.search import SearchService  # heavy: only when someone has queries

            self._service = SearchService.open(self.settings, self.store)
        hits: list[Hit] = self._service.search(query, k=self.k, mode="hybrid").hits
        return hits

    def close(self) -> None:
        """Close the index if a query opened it."""
        if self._service is not None:
            self._service.close()
            self._service = None


def site_search(settings: Settings, store: Store, *, k: int = 100) -> SiteSearch:
    """The site's hybrid search for composing digests (close it when done)."""
    return SiteSearch(settings, store, k=k)


def user_votes(store: Store) -> VotesFn:
    """Each subscriber's upvoted and saved papers (through the account linked to their
    address): the recommender's positives, as on the For you page."""

    def liked(sub: Subscriber) -> list[int]:
        if sub.user_pk is None:
            return []
        voted = store.user_votes(sub.user_pk)
        seen = set(voted)
        return voted + [pk for pk in store.user_saved(sub.user_pk) if pk not in seen]

    return liked


def user_dismissals(store: Store) -> VotesFn:
    """Each subscriber's "not interested" papers (through their linked account)."""
    return lambda sub: store.user_dismissed(sub.user_pk) if sub.user_pk is not None else []


def run_digests(
    store: Store, *, settings: Settings, now: datetime, dry_run: bool = False
) -> tuple[ComposeReport, SendReport | None]:
    """Compose what is due, then deliver the outbox: what `digest send` and the worker run."""
    links = links_for(settings, store)
    composed = compose_due(
        store,
        links=links,
        now=now,
        weekly_day=settings.mail.weekly_day,
        search=site_search(settings, store),
        votes=user_votes(store),
        trending=settings.trending,
        dry_run=dry_run,
        dismissed=user_dismissals(store),
    )
    if dry_run:
        return composed, None
    return composed, deliver_due(store, mail=settings.mail, links=links)


def preview_message(
    store: Store, *, settings: Settings, subscriber: Subscriber, now: datetime
) -> tuple[Message, int]:
    """The digest ``subscriber`` would get for the current period (nothing is written), and
    how many papers it holds."""
    links = links_for(settings, store)
    period = compose.current_period(subscriber.prefs, now)
    search = site_search(settings, store)
    try:
        searched = {query: search(query) for query in subscriber.prefs.queries}
    finally:
        search.close()
    liked = subs.papers_by_pk(store, user_votes(store)(subscriber))
    unwanted = user_dismissals(store)(subscriber)
    negatives = list(subs.papers_by_pk(store, unwanted).values())
    sent = subs.sent_papers(store, [subscriber.pk])[subscriber.pk] | set(unwanted)
    window = _window(store, {}, period, now, settings.trending)
    likes = (list(liked.values()), negatives)
    digest = _compose_one(subscriber, period, window, searched, likes, sent, links)
    papers = subs.papers_by_pk(store, (item.paper_pk for item in digest.items))
    context = digest_context(
        items=digest.items,
        papers=papers,
        links=links,
        subscriber_pk=subscriber.pk,
        email=subscriber.email,
    )
    message = render_digest(
        subject=digest.subject,
        message_id=digest.message_id,
        created=digest.created,
        to=subscriber.email,
        context=context,
        links=links,
    )
    return message, len(digest.items)
