"""Odd queries and far dates through the site: an author filter without a name is plain text
with a notice, and periods and filters up to the year 9999 are clean answers, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.web import create_app
from tests.conftest import serving


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The site over a fresh SQLite store, once its search index is ready."""
    with serving(create_app(settings)) as opened:
        yield opened


@pytest.mark.parametrize("author", ["%", "_", "'", "*", "-", "“”"])
def test_an_author_filter_without_a_name_is_plain_text_with_a_notice(
    client: TestClient, author: str
) -> None:
    """author:% and friends are plain text with a notice, not 500s ("words must not be empty")."""
    api = client.get("/api/search", params={"q": f"author:{author}"})
    assert api.status_code == 200, api.text
    assert "plain text" in api.json()["notice"]
    page = client.get("/search", params={"q": f"attention author:{author}"})
    assert page.status_code == 200 and "plain text" in page.text
    assert client.get("/search", params={"q": "x", "author": author}).status_code == 200
    assert client.get("/feeds/search.atom", params={"q": f"author:{author}"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/week/9999-W52", 404),
        ("/api/month/9999-12", 404),
        ("/api/daily?date=9999-12-31", 404),
        ("/papers/month/9999-12", 404),
        ("/papers/week/9999-W52", 404),
        ("/papers/date/9999-12-31", 404),
        ("/papers/date/9998-12-31", 200),
        ("/papers/date/0001-01-01", 200),
        ("/api/search?q=x&after=9999-12-31", 200),
        ("/api/search?q=before:9999-12-31", 200),
    ],
)
def test_far_dates_are_clean_answers(client: TestClient, path: str, status: int) -> None:
    """Year-9999 periods and date filters answer cleanly (once 500s: OverflowError)."""
    answer = client.get(path)
    assert answer.status_code == status, answer.text
    if path.startswith("/api/") and status == 404:
        assert answer.json()["status"] == 404
