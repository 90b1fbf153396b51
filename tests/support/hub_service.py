"""The Hugging Face Hub's repository lists and GitHub's repository API, played from recorded
answers by a FixtureServer; and papers to ask them about."""

from __future__ import annotations

from datetime import date, datetime

import orjson

from papertide.config import Settings
from papertide.models import Paper
from papertide.sources.settings import SyncSettings
from papertide.store import Store
from tests.support.fixture_server import FixtureServer, Reply, Seen, fixture, json_reply

# The Hub's answers by (list, arXiv id); any other paper is cited by nothing ([]).
RECORDED = {
    ("models", "2411.00001"): "models_2411.00001.json",
    ("datasets", "2411.00001"): "datasets_2411.00001.json",
    ("spaces", "2411.00001"): "spaces_2411.00001.json",
}


class HubService:
    """Answers /api/{models,datasets,spaces}?filter=arxiv:ID&limit=N from ``files`` (a
    Reply instead of a file name is sent as it is) and /repos/OWNER/REPO with ``stars``."""

    def __init__(
        self,
        files: dict[tuple[str, str], str | Reply] | None = None,
        stars: dict[str, int | Reply] | None = None,
    ) -> None:
        self.files = dict(RECORDED if files is None else files)
        self.stars = dict(stars or {})

    def __call__(self, seen: Seen) -> Reply:
        """The recorded answer this request asks for."""
        if seen.path.startswith("/repos/"):
            return self._repo(seen.path.removeprefix("/repos/"))
        kind = seen.path.rsplit("/", 1)[-1]
        arxiv_id = seen.query.get("filter", "").removeprefix("arxiv:")
        found = self.files.get((kind, arxiv_id))
        if isinstance(found, Reply):
            return found
        items = orjson.loads(fixture("hf", "hub", found)) if found else []
        return json_reply(orjson.dumps(items[: int(seen.query.get("limit", 1000))]))

    def _repo(self, name: str) -> Reply:
        stars = self.stars.get(name)
        if isinstance(stars, Reply):
            return stars
        if stars is None:
            return json_reply(fixture("github", "not_found.json"), status=404)
        answer = orjson.loads(fixture("github", "repo.json"))
        answer.update(full_name=name, stargazers_count=stars)
        return json_reply(orjson.dumps(answer))


def hub_settings(base: Settings, server: FixtureServer, **sync: object) -> Settings:
    """``base`` with the Hub and GitHub at ``server``, no pause between requests."""
    values: dict[str, object] = {
        "hub_url": server.url,
        "github_api_url": server.url,
        "hub_request_interval": 0,
        "github_request_interval": 0,
        "backoff": 0.01,
        "retries": 1,
        "timeout": 2.0,
    }
    values.update(sync)
    return base.model_copy(update={"sync": SyncSettings(**values)})  # type: ignore[arg-type]


def add_paper(
    store: Store,
    arxiv_id: str | None,
    *,
    day: date,
    title: str | None = None,
    url_code: str | None = None,
    upvotes: int | None = None,
) -> Paper:
    """Store one paper filed under ``day``; returns it with its pk."""
    when = datetime(day.year, day.month, day.day, 9)
    paper = Paper(
        id=arxiv_id or (title or "paper").lower().replace(" ", "-"),
        title=title or f"Paper {arxiv_id}",
        abstract="An abstract.",
        arxiv_id=arxiv_id,
        categories=["cs.CL"],
        published=when,
        listed_on=day,
        first_seen=when,
        url_code=url_code,
        upvotes_external=upvotes,
    )
    with store.write() as session:
        session.insert_papers([paper])
    return paper
