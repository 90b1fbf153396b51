"""Day / Week / Month links keep the day: from Wednesday Dec 2, Week then Day comes back to
Dec 2, not to Monday Nov 30; Month then Day too, not to the 1st."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.web import create_app
from tests.conftest import serving


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app over an empty store (the period pages and their links still show)."""
    with serving(create_app(settings)) as opened:
        yield opened


def _link(client: TestClient, path: str, name: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, path
    nav = re.search(r'<nav class="periods"[^>]*>(.*?)</nav>', page.text, re.S)
    assert nav, path
    found = re.search(r'<a href="([^"]+)"[^>]*>' + name + "</a>", nav.group(1))
    assert found, (path, name)
    return found.group(1).replace("&amp;", "&")


def test_week_then_day_comes_back_to_the_day(client: TestClient) -> None:
    week = _link(client, "/papers/date/2026-12-02", "Week")
    assert week == "/papers/week/2026-W49?on=2026-12-02"
    assert _link(client, week, "Day") == "/papers/date/2026-12-02"  # before: Monday Nov 30
    assert _link(client, week, "Month") == "/papers/month/2026-12?on=2026-12-02"


def test_month_then_day_comes_back_to_the_day(client: TestClient) -> None:
    month = _link(client, "/papers/date/2026-12-02", "Month")
    assert _link(client, month, "Day") == "/papers/date/2026-12-02"  # before: the 1st
    assert _link(client, month, "Week") == "/papers/week/2026-W49?on=2026-12-02"


def test_a_day_outside_the_period_is_ignored(client: TestClient) -> None:
    # A hand-made ?on= outside the month: the month's own first day, as without it.
    assert _link(client, "/papers/month/2026-12?on=2025-01-09", "Day") == "/papers/date/2026-12-01"
    assert client.get("/papers/month/2026-12?on=not-a-day").status_code == 422
