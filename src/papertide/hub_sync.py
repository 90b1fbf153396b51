"""`papertide sync-hub` and the worker's hub job: what the papers in the feeds led to.

One round asks the Hugging Face Hub which models, datasets and Spaces cite each chosen paper
(sources/hf_hub.py) and GitHub how many stars its code has (sources/github.py). Which papers
is bounded: those of the newest ``hub_recent_days`` of the feeds, trending's candidates and
papers saved in lists, each at most every ``hub_refresh_hours``, at most
``hub_papers_per_round`` (and ``github_repos_per_round``) a round, never-asked ones first.

A paper's answer is stored whole or not at all: a failed or unreadable answer leaves what
was stored before, and the paper stays due, so the next round asks again. Three failures in
a row end that part of the round (the service is down), as does GitHub's rate limit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.sources import github, hf_hub
from papertide.sources.http import FetchError, PoliteClient
from papertide.store import Store
from papertide.store.hub import HubDue

log = logging.getLogger(__name__)

MAX_FAILURES_IN_A_ROW = 3
StepFn = Callable[[str, int, int], None]  # (part, done, total)


@dataclass(slots=True)
class HubReport:
    """What one round did."""

    papers: int = 0  # papers whose repositories were stored
    repos: int = 0  # repositories stored for them
    stars_checked: int = 0
    stars_changed: int = 0
    failed: int = 0
    problems: list[str] = field(default_factory=list)


def due(
    store: Store, settings: Settings, now: datetime, *, limit: int | None = None
) -> tuple[list[HubDue], list[HubDue]]:
    """The papers a round asks the Hub about, and those whose GitHub stars it asks for (at
    most ``limit`` of each, else the settings' numbers a round)."""
    sync = settings.sync
    hub_limit = limit or sync.hub_papers_per_round
    stars_limit = min(limit, sync.github_repos_per_round) if limit else sync.github_repos_per_round
    latest = store.latest_day()
    recent = None
    if latest is not None and sync.hub_recent_days > 0:
        recent = latest - timedelta(days=sync.hub_recent_days - 1)

    def chosen(count: int, *, stars: bool) -> list[HubDue]:
        if not count:
            return []
        return store.hub_due(
            recent_since=recent,
            voted_since=latest - timedelta(days=settings.trending_window_days) if latest else None,
            voted_top=hub_limit,
            stale_before=now - timedelta(hours=sync.hub_refresh_hours),
            limit=count,
            stars=stars,
        )

    return chosen(hub_limit, stars=False), chosen(stars_limit, stars=True)


def sync_hub(
    store: Store,
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int | None = None,
    on_step: StepFn | None = None,
) -> HubReport:
    """One round: the due papers' Hub repositories, then their GitHub stars."""
    moment = now or utcnow()
    hub, stars = due(store, settings, moment, limit=limit)
    report = HubReport()
    step = on_step or (lambda part, done, total: None)
    _hub_round(store, settings, hub, moment, report, step)
    _stars_round(store, settings, stars, moment, report, step)
    return report


def _client(name: str, settings: Settings, interval: float) -> PoliteClient:
    return PoliteClient(name, settings.sync.model_copy(update={"request_interval": interval}))


def _hub_round(
    store: Store,
    settings: Settings,
    papers: list[HubDue],
    now: datetime,
    report: HubReport,
    step: StepFn,
) -> None:
    sync, in_a_row = settings.sync, 0
    with _client(hf_hub.SOURCE, settings, sync.hub_request_interval) as client:
        for done, paper in enumerate(papers, 1):
            assert paper.arxiv_id is not None
            try:
                links = hf_hub.fetch_links(
                    client, sync.hub_url, paper.arxiv_id, keep=sync.hub_repos_per_kind
                )
            except (FetchError, hf_hub.HubAnswerError) as exc:
                in_a_row += 1
                if _failed(report, f"arXiv {paper.arxiv_id}: {exc}", in_a_row, hf_hub.SOURCE):
                    return
                step(hf_hub.SOURCE, done, len(papers))
                continue
            in_a_row = 0
            store.replace_hub_links(paper_pk=paper.pk, links=links, now=now)
            report.papers += 1
            report.repos += len(links.repos)
            step(hf_hub.SOURCE, done, len(papers))


def _stars_round(
    store: Store,
    settings: Settings,
    papers: list[HubDue],
    now: datetime,
    report: HubReport,
    step: StepFn,
) -> None:
    sync, in_a_row = settings.sync, 0
    with _client(github.SOURCE, settings, sync.github_request_interval) as client:
        github.configure(client, sync.github_token)
        for done, paper in enumerate(papers, 1):
            found = github.github_repo(paper.url_code)
            stars: int | None = None
            if found is not None:
                try:
                    stars = github.fetch_stars(client, sync.github_api_url, *found)
                except FetchError as exc:
                    if github.rate_limited(exc.status):
                        _failed(report, f"{exc}; the rest waits for the next round", 0, "")
                        return
                    if exc.status != 404:  # a repository that is gone is checked all the same
                        in_a_row += 1
                        if _failed(report, str(exc), in_a_row, github.SOURCE):
                            return
                        step(github.SOURCE, done, len(papers))
                        continue
            in_a_row = 0
            report.stars_changed += store.record_stars(paper_pk=paper.pk, stars=stars, now=now)
            report.stars_checked += 1
            step(github.SOURCE, done, len(papers))


def _failed(report: HubReport, problem: str, in_a_row: int, source: str) -> bool:
    """Count and log a failed look-up; True when the part of the round should stop."""
    report.failed += 1
    report.problems.append(problem)
    log.warning("%s", problem)
    if in_a_row >= MAX_FAILURES_IN_A_ROW:
        stop = f"{source}: {in_a_row} failures in a row; the rest waits for the next round"
        report.problems.append(stop)
        log.warning("%s", stop)
        return True
    return False
