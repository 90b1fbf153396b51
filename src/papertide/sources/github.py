"""A paper's code on GitHub: its repository's stars, fetching (I/O) apart from parsing (pure).

``GET {api}/repos/OWNER/REPO`` answers the repository as a JSON object whose
``stargazers_count`` is its stars (GitHub REST API, "Get a repository"). Without a token
GitHub allows 60 requests an hour from one address, with one 5,000; past the limit it
answers 403 or 429 (with ``x-ratelimit-remaining: 0``), which ends a round's look-ups.
"""

from __future__ import annotations

import re

import orjson

from papertide.sources.http import BadBody, PoliteClient, Refused

SOURCE = "github"
# https://github.com/OWNER/REPO[.git][/anything]: owner names are letters, digits and single
# hyphens (at most 39); repository names letters, digits, ".", "-", "_" (at most 100).
_REPO_URL = re.compile(
    r"https?://(?:www\.)?github\.com/([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/"
    r"([A-Za-z0-9._-]{1,100}?)(?:\.git)?(?:[/?#].*)?",
    re.ASCII,
)


def github_repo(url: str | None) -> tuple[str, str] | None:
    """(owner, repo) of a github.com repository URL, or None for anything else."""
    if not url:
        return None
    found = _REPO_URL.fullmatch(url.strip())
    if found is None or found.group(2) in (".", ".."):
        return None
    return found.group(1), found.group(2)


def configure(client: PoliteClient, token: str | None) -> None:
    """Ask for GitHub's JSON, and sign the requests with ``token`` when there is one."""
    client.http.headers["Accept"] = "application/vnd.github+json"
    client.http.headers["X-GitHub-Api-Version"] = "2022-11-28"
    if token:
        client.http.headers["Authorization"] = f"Bearer {token.strip()}"


def fetch_stars(client: PoliteClient, api: str, owner: str, repo: str) -> int:
    """The repository's stars; raises FetchError (404 for a repository that is gone)."""
    url = f"{api.rstrip('/')}/repos/{owner}/{repo}"
    return client.fetch(url, {}, lambda response: parse_stars(response.content))


def parse_stars(body: bytes) -> int:
    """``stargazers_count`` of a repository answer; BadBody for anything else."""
    head = body[:100].lstrip().lower()
    if not head:
        raise BadBody("empty body instead of a JSON object")
    if head.startswith((b"<!doctype html", b"<html")):
        raise BadBody("an HTML page instead of JSON")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadBody(f"malformed or truncated JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise BadBody(f"expected a JSON object, got {type(data).__name__}")
    stars = data.get("stargazers_count")
    if isinstance(stars, bool) or not isinstance(stars, int) or stars < 0:
        if "message" in data:
            raise Refused(f"GitHub: {str(data['message'])[:200]}")
        raise BadBody(f"'stargazers_count' should be a count, got {stars!r:.60}")
    return stars


def rate_limited(response_status: int | None) -> bool:
    """Whether a failed look-up means GitHub wants no more requests for now."""
    return response_status in (403, 429)
