"""Hugging Face daily papers: the JSON parser on recorded payloads, and imports on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import orjson
import pytest

from papertide.config import Settings
from papertide.sources.hf_daily import parse_daily, span_of, spans_between
from papertide.sources.http import BadBody, Refused
from papertide.store import Store
from papertide.store.sync_state import load_state
from papertide.sync import sync_sources
from tests.support.fixture_server import (
    NOW,
    FixtureServer,
    HfFeed,
    Reply,
    fixture,
    impatient,
    json_reply,
    settings_for,
    snapshot,
)

LIMITS = {"max_title": 2000, "max_abstract": 100_000}


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    with FixtureServer() as srv:
        srv.handler = HfFeed({"2026-W47": "week_2026-W47.json"})
        yield srv


def hf_settings(base: Settings, server: FixtureServer, **extra: object) -> Settings:
    return settings_for(base, server, sources=["hf"], **extra)


def test_parse_daily_reads_the_paper_and_its_community_fields() -> None:
    items = parse_daily(fixture("hf", "week_2026-W47.json"), "week", listed_on=None, **LIMITS)
    first = items[0].paper  # type: ignore[union-attr]
    assert first.arxiv_id == "2411.00001" and first.title == "Sparse Attention for Long Documents"
    assert first.authors == ["Ada Lovelace", "Alan Turing"]
    assert first.published == datetime(2026, 11, 18, 9, 1, 44) and first.updated is None
    assert first.listed_on == date(2026, 11, 19)  # the day it went on the daily list
    assert (first.upvotes_external, first.comments_count, first.github_stars) == (57, 4, 412)
    assert first.url_code == "https://github.com/example/sparse-attn"
    assert first.url_project == "https://example.org/sparse-attn"
    assert first.submitted_by == "akhaliq"
    assert first.extra == {
        "ai_summary": "Sparse attention matches dense attention on long documents with a "
        "tenth of the memory.",
        "ai_keywords": ["sparse attention", "long-document modelling", "memory efficiency"],
        "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2411.00001.png",
    }
    assert first.sources == ["hf-daily"] and first.url_abs == "https://arxiv.org/abs/2411.00001"
    third = items[2].paper  # type: ignore[union-attr]
    assert third.url_code is None and third.url_project is None and third.extra == {}
    assert third.submitted_by == "lreader" and third.github_stars is None


@pytest.mark.parametrize(
    "thumbnail",
    ["http://cdn-thumbnails.huggingface.co/x.png", "javascript:alert(1)", "https://a b/c.png", 7],
)
def test_a_thumbnail_is_kept_only_as_an_https_address(thumbnail: object) -> None:
    items = orjson.loads(fixture("hf", "week_2026-W47.json"))
    items[0]["thumbnail"] = thumbnail
    body = orjson.dumps(items)
    first = parse_daily(body, "week", listed_on=None, **LIMITS)[0].paper  # type: ignore[union-attr]
    assert "thumbnail" not in first.extra and first.title  # the paper itself is kept


def test_a_day_request_files_papers_under_that_day() -> None:
    items = parse_daily(
        fixture("hf", "date_2026-11-21.json"), "d", listed_on=date(2026, 11, 21), **LIMITS
    )
    assert items[0].paper.listed_on == date(2026, 11, 21)  # type: ignore[union-attr]


def test_spans() -> None:
    assert span_of("week", date(2026, 11, 21)).param == ("week", "2026-W47")
    assert span_of("month", date(2026, 11, 21)).param == ("month", "2026-11")
    assert span_of("date", date(2026, 11, 21)).param == ("date", "2026-11-21")
    weeks = spans_between("week", date(2026, 11, 10), date(2026, 11, 21))
    assert [s.param[1] for s in weeks] == ["2026-W46", "2026-W47"]
    assert len(spans_between("date", date(2026, 11, 19), date(2026, 11, 21))) == 3


@pytest.mark.parametrize(
    ("body", "error", "reason"),
    [
        (fixture("hf", "truncated.json"), BadBody, "malformed or truncated JSON"),
        (fixture("hf", "down.html"), BadBody, "an HTML page instead of JSON"),
        (fixture("hf", "error.json"), Refused, "Invalid date: 2026-13-01"),
        (b'{"papers": []}', BadBody, "expected a JSON array"),
        (b"", BadBody, "empty body"),
    ],
)
def test_bad_payloads(body: bytes, error: type, reason: str) -> None:
    with pytest.raises(error, match=reason):
        parse_daily(body, "x", listed_on=None, **LIMITS)


def test_an_unreadable_item_is_an_error_not_a_paper() -> None:
    body = orjson.dumps([{"paper": {"id": "2411.00030", "title": "T", "upvotes": "many"}}, 7])
    items = parse_daily(body, "x", listed_on=None, **LIMITS)
    assert [str(i) for i in items] == [
        "x:1: item 1: 'upvotes' should be a count, got 'many'",
        "x:2: item 2: expected an object, got int",
    ]


def test_week_import_stores_each_paper_once_with_its_signals(
    server: FixtureServer, any_store: Store, any_settings: Settings
) -> None:
    settings = hf_settings(any_settings, server, hf_period="week", hf_page_size=2)
    [result] = sync_sources(any_store, settings=settings, now=NOW)
    assert (result.status, result.report.added) == ("ok", 3)
    assert [s.query for s in server.requests] == [
        {"week": "2026-W47", "limit": "2", "p": "0"},
        {"week": "2026-W47", "limit": "2", "p": "1"},  # a full page: ask for the next
    ]
    paper = any_store.get_paper("2411.00001")
    assert paper is not None and paper.upvotes_external == 57 and paper.github_stars == 412
    assert paper.extra["ai_keywords"][0] == "sparse attention"  # type: ignore[index]
    assert load_state(any_store, "hf").watermark == "2026-11-21"

    server.requests.clear()
    [again] = sync_sources(any_store, settings=settings, now=NOW)
    assert (again.report.added, again.report.changed, again.report.unchanged) == (0, 0, 3)
    assert any_store.count_papers() == 3


def test_daily_runs_read_new_days_and_refresh_the_last_ones(
    server: FixtureServer, store: Store, settings: Settings
) -> None:
    settings = hf_settings(settings, server, start_date=date(2026, 11, 19))
    server.handler = HfFeed({"2026-11-19": "date_2026-11-19.json"})
    sync_sources(store, settings=settings, now=datetime(2026, 11, 19, 22, 0))
    assert [s.query["date"] for s in server.requests] == ["2026-11-19"]
    assert store.get_paper("2411.00001").upvotes_external == 57  # type: ignore[union-attr]

    server.handler = HfFeed(
        {"2026-11-19": "date_2026-11-19_later.json", "2026-11-21": "date_2026-11-21.json"}
    )
    server.requests.clear()
    [result] = sync_sources(store, settings=settings, now=NOW)
    # Days since the last run, plus the two before it again (hf_refresh_days=2).
    assert [s.query["date"] for s in server.requests] == [
        "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21",
    ]  # fmt: skip
    assert (result.report.added, result.report.changed) == (1, 1)
    paper = store.get_paper("2411.00001")
    assert paper is not None
    assert (paper.upvotes_external, paper.comments_count, paper.github_stars) == (80, 6, 450)
    assert load_state(store, "hf").watermark == "2026-11-21"


ERRORS = {
    "truncated JSON": json_reply(fixture("hf", "truncated.json")),
    "HTML page": Reply(fixture("hf", "down.html"), content_type="text/html"),
    "API error object": json_reply(fixture("hf", "error.json")),
    "503": Reply(b"", status=503, headers={"Retry-After": "0"}),
    "truncated response": Reply(fixture("hf", "week_2026-W47.json"), truncate_at=300),
    "time-out": Reply(fixture("hf", "week_2026-W47.json"), delay=0.8),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_a_failed_request_leaves_papers_and_state_unchanged(
    case: str, server: FixtureServer, store: Store, settings: Settings
) -> None:
    settings = hf_settings(settings, server, hf_period="week")
    sync_sources(store, settings=settings, now=NOW)
    before = snapshot(store)
    server.handler = lambda seen: ERRORS[case]
    [result] = sync_sources(store, settings=impatient(settings), now=NOW)
    assert result.status == "failed" and result.pages == 0
    assert (result.message or "").startswith("hf: GET 127.0.0.1:")
    assert snapshot(store) == before
