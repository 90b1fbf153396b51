"""What a paper led to on the Hugging Face Hub: fetching (I/O) apart from parsing (pure).

The Hub lists the repositories whose cards cite a paper under the tag ``arxiv:ID``:
``GET {hub}/api/models?filter=arxiv:ID&limit=N&sort=likes`` (likewise ``/api/datasets`` and
``/api/spaces``) answers a JSON array of repositories, most liked first, each
``{"id": "owner/name", "likes": int, "downloads": int (models and datasets),
"lastModified" or "createdAt": ISO time, "tags": [...], ...}``.

Each list is asked for with one more than it keeps, so a paper cited by more repositories
than ``hub_repos_per_kind`` says so ("50+ models") without paging through thousands.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from papertide.models import HUB_KINDS, HubKind, HubLinks, HubRepo, is_hub_repo
from papertide.sources.hf_daily import load_json_array
from papertide.sources.http import PoliteClient, naive_utc

SOURCE = "hf-hub"
PATHS: dict[HubKind, str] = {"model": "models", "dataset": "datasets", "space": "spaces"}


class HubAnswerError(ValueError):
    """The Hub answered a list whose items are not repositories as expected: names the
    source, the request and the item, so nothing of that paper is stored."""


def list_url(base: str, kind: HubKind) -> str:
    """The Hub API endpoint listing repositories of ``kind``."""
    return f"{base.rstrip('/')}/api/{PATHS[kind]}"


def fetch_links(client: PoliteClient, base: str, arxiv_id: str, *, keep: int) -> HubLinks:
    """The models, datasets and Spaces citing ``arxiv_id``, at most ``keep`` of each; raises
    FetchError (the service) or HubAnswerError (its answer) before anything is returned."""
    links = HubLinks()
    for kind in HUB_KINDS:
        url = list_url(base, kind)
        params: dict[str, str | int] = {
            "filter": f"arxiv:{arxiv_id}",
            "limit": keep + 1,
            "sort": "likes",
            "direction": -1,
        }

        def parse(response: httpx.Response, kind: HubKind = kind) -> list[HubRepo]:
            return parse_repos(response.content, kind, origin=_where(response))

        found = client.fetch(url, params, parse)
        if len(found) > keep:
            links.more.add(kind)
        links.repos.extend(found[:keep])
    return links


def _where(response: httpx.Response) -> str:
    return f"{response.url.host}{response.url.path}"


def parse_repos(body: bytes, kind: HubKind, *, origin: str = "the Hub") -> list[HubRepo]:
    """Parse one list answer: its repositories, most liked first, each id once.

    An HTML page, an empty or cut body, or not a JSON array raises BadBody (the client
    retries those); an item that is not a repository raises HubAnswerError naming it."""
    data = load_json_array(body)
    repos: dict[str, HubRepo] = {}
    for number, item in enumerate(data, 1):
        try:
            repo = _repo(item, kind)
        except ValueError as exc:
            raise HubAnswerError(f"{SOURCE}: {origin}: item {number}: {exc}") from exc
        repos.setdefault(repo.repo, repo)
    return sorted(repos.values(), key=lambda r: (-r.likes, r.repo))


def _repo(item: Any, kind: HubKind) -> HubRepo:
    if not isinstance(item, dict):
        raise ValueError(f"expected an object, got {type(item).__name__}")
    ident = item.get("id")
    if not isinstance(ident, str) or not ident:
        raise ValueError("no repository 'id'")
    if not is_hub_repo(ident):
        raise ValueError(f"{ident[:120]!r} is not a repository id")
    likes = _count(item, "likes")
    return HubRepo(
        kind=kind,
        repo=ident,
        likes=likes or 0,
        downloads=_count(item, "downloads"),
        updated=_time(item, "lastModified") or _time(item, "createdAt"),
    )


def _count(item: dict[str, Any], key: str) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key!r} should be a count, got {value!r:.60}")
    return value


def _time(item: dict[str, Any], key: str) -> datetime | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key!r} should be a time, got {value!r:.60}")
    return naive_utc(value)
