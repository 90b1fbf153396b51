"""arXiv API source: the Atom parser on recorded feeds, and sync against a loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from papertide.config import Settings
from papertide.sources.arxiv_api import Window, build_query, parse_feed
from papertide.sources.http import BadBody, Refused
from papertide.store import Store
from papertide.store.sync_state import last_runs, load_state
from papertide.sync import sync_sources
from tests.support.fixture_server import (
    NOW,
    FixtureServer,
    Reply,
    arxiv_api,
    fixture,
    impatient,
    settings_for,
    snapshot,
    xml,
)

LIMITS = {"max_title": 2000, "max_abstract": 100_000}


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    with FixtureServer() as srv:
        srv.handler = arxiv_api
        yield srv


def parse(name: str, start: int = 0) -> object:
    return parse_feed(fixture("arxiv", name), name, expect_start=start, **LIMITS)


def test_parse_feed_reads_every_field() -> None:
    page = parse_feed(fixture("arxiv", "page1.xml"), "page1", expect_start=0, **LIMITS)
    assert (page.total, page.start, page.entries) == (5, 0, 2)
    first = page.items[0].paper  # type: ignore[union-attr]
    assert first.arxiv_id == "2411.00001" and first.arxiv_version == 2
    assert first.title == "Sparse Attention for Long Documents"
    assert first.abstract.startswith("We show that sparse attention keeps long-document quality")
    assert first.authors == ["Ada Lovelace", "Alan Turing"]
    assert first.extra["affiliations"] == {
        "Ada Lovelace": ["Analytical Engine Lab", "University of London"]
    }
    assert first.categories == ["cs.CL", "cs.LG"]  # primary first; ACM I.2.7 left out
    assert first.published == datetime(2026, 11, 18, 9, 1, 44)
    assert first.updated == datetime(2026, 11, 19, 16, 20, 5)
    assert first.doi == "10.1234/sparse.2026.17"
    assert first.journal_ref == "Trans. Long Doc. 3 (2026) 1-12"
    assert first.comments == "12 pages, 4 figures; v2 adds ablations"
    assert first.url_abs == "https://arxiv.org/abs/2411.00001v2"
    assert first.url_pdf == "https://arxiv.org/pdf/2411.00001v2"
    assert first.sources == ["arxiv-api"]
    old = page.items[1].paper  # type: ignore[union-attr]
    assert (old.arxiv_id, old.arxiv_version) == ("hep-th/0601001", 1)
    assert old.categories == ["hep-th", "cs.LG"]
    assert old.published == datetime(2026, 11, 19, 15, 0)  # -05:00 read as UTC
    assert old.doi is None and old.journal_ref is None and "affiliations" not in old.extra


def test_an_unreadable_entry_is_an_error_not_a_paper() -> None:
    body = fixture("arxiv", "page3.xml").replace(b"2411.00004v3</id>", b"not-an-id</id>")
    page = parse_feed(body, "p3", expect_start=4, **LIMITS)
    assert [str(e) for e in page.items] == [
        "p3:1: entry 1: <id> 'http://arxiv.org/abs/not-an-id' is not an arXiv abs URL"
    ]


def test_build_query() -> None:
    window = Window(datetime(2026, 11, 18), datetime(2026, 11, 21, 12, 5))
    query = build_query(
        categories=["cs.CL", "cs.LG"], extra="abs:retrieval", date_field="lastUpdatedDate",
        window=window,
    )  # fmt: skip
    assert query == (
        "(cat:cs.CL OR cat:cs.LG) AND (abs:retrieval) AND "
        "lastUpdatedDate:[202611180000 TO 202611211205]"
    )
    with pytest.raises(ValueError, match="needs categories"):
        build_query(categories=[], extra="", date_field="submittedDate", window=None)


@pytest.mark.parametrize(
    ("name", "error", "reason"),
    [
        ("error.xml", Refused, "start must be >= 0"),
        ("html_error.html", BadBody, "an HTML page instead of an arXiv Atom feed"),
        ("malformed.xml", BadBody, "malformed or truncated XML"),
    ],
)
def test_bad_feeds_are_refused_with_a_reason(name: str, error: type, reason: str) -> None:
    with pytest.raises(error, match=reason):
        parse(name)


def test_an_empty_page_inside_the_result_set_is_not_the_end() -> None:
    with pytest.raises(BadBody, match="no entries at start=2 although totalResults=5"):
        parse("empty_page.xml", start=2)
    with pytest.raises(BadBody, match="startIndex is 0, expected 2"):
        parse("page1.xml", start=2)


def test_multi_page_search_stores_each_paper_once(
    server: FixtureServer, any_store: Store, any_settings: Settings
) -> None:
    settings = settings_for(any_settings, server, sources=["arxiv"])
    [result] = sync_sources(any_store, settings=settings, now=NOW)
    assert (result.status, result.pages, result.report.added) == ("ok", 3, 5)
    assert [s.query["start"] for s in server.requests] == ["0", "2", "4"]
    first = server.requests[0].query
    assert first["max_results"] == "2" and first["sortBy"] == "lastUpdatedDate"
    assert first["sortOrder"] == "ascending"
    assert first["search_query"] == (
        "(cat:cs.CL OR cat:cs.LG) AND lastUpdatedDate:[202611180000 TO 202611211200]"
    )
    assert any_store.count_papers() == 5
    paper = any_store.get_paper("2411.00001")
    assert paper is not None and paper.doi == "10.1234/sparse.2026.17"
    state = load_state(any_store, "arxiv")
    assert state.watermark == NOW.isoformat() and state.checkpoint is None
    assert state.last_success is not None

    server.requests.clear()
    later = NOW + timedelta(hours=6)
    [again] = sync_sources(any_store, settings=settings, now=later)
    assert (again.status, again.report.added, again.report.changed) == ("ok", 0, 0)
    assert again.report.unchanged == 5
    # The next window starts at the last one's end less the overlap (4 days by default).
    assert (
        "lastUpdatedDate:[202611171200 TO 202611211800]" in server.requests[0].query["search_query"]
    )
    assert any_store.count_papers() == 5
    runs = last_runs(any_store)
    assert runs["arxiv"].status == "ok" and runs["arxiv"].added == 0


def test_a_run_cut_after_page_one_resumes_at_page_two(
    server: FixtureServer, store: Store, settings: Settings
) -> None:
    settings = settings_for(settings, server, sources=["arxiv"])
    server.handler = lambda seen: (
        arxiv_api(seen) if seen.query["start"] == "0" else Reply(b"", status=503)
    )
    [result] = sync_sources(store, settings=settings, now=NOW)
    assert result.status == "failed" and result.report.added == 2
    assert "HTTP 503" in (result.message or "")
    state = load_state(store, "arxiv")
    assert state.checkpoint == {
        "window_start": "2026-11-18T00:00:00",
        "window_end": "2026-11-21T12:00:00",
        "start": 2,
    }
    assert state.watermark is None and store.count_papers() == 2

    server.handler = arxiv_api
    server.requests.clear()
    [resumed] = sync_sources(store, settings=settings, now=NOW + timedelta(hours=1))
    assert resumed.status == "ok" and resumed.report.added == 3
    assert [s.query["start"] for s in server.requests] == ["2", "4"]
    assert "202611211200]" in server.requests[0].query["search_query"]  # the same window
    assert store.count_papers() == 5
    assert load_state(store, "arxiv").watermark == "2026-11-21T12:00:00"


ERRORS = {
    "429 every time": Reply(b"Rate exceeded.", status=429),
    "503 with Retry-After": Reply(b"", status=503, headers={"Retry-After": "0"}),
    "HTML error page": xml("html_error.html", "arxiv", content_type="text/html"),
    "malformed XML": xml("malformed.xml", "arxiv"),
    "truncated response": Reply(fixture("arxiv", "page1.xml"), truncate_at=900),
    "time-out": Reply(fixture("arxiv", "page1.xml"), delay=0.8),
    "API error feed": xml("error.xml", "arxiv"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_a_failed_page_leaves_papers_and_checkpoint_unchanged(
    case: str, server: FixtureServer, store: Store, settings: Settings
) -> None:
    settings = settings_for(settings, server, sources=["arxiv"])
    sync_sources(store, settings=settings, now=NOW)
    before = snapshot(store)
    server.handler = lambda seen: ERRORS[case]
    server.requests.clear()
    [result] = sync_sources(store, settings=impatient(settings), now=NOW + timedelta(days=1))
    assert result.status == "failed" and result.pages == 0
    assert result.message is not None and result.message.startswith("arxiv: GET 127.0.0.1:")
    assert "the next sync resumes there" in result.message
    assert snapshot(store) == before
    expected_attempts = 1 if case == "API error feed" else 2
    assert len(server.requests) == expected_attempts
    assert last_runs(store)["arxiv"].status == "failed"


def test_a_first_run_that_fails_stores_nothing(
    server: FixtureServer, any_store: Store, any_settings: Settings
) -> None:
    settings = settings_for(any_settings, server, sources=["arxiv"])
    server.handler = lambda seen: xml("malformed.xml", "arxiv")
    [result] = sync_sources(any_store, settings=settings, now=NOW)
    assert result.status == "failed"
    assert "malformed or truncated XML" in (result.message or "")
    assert snapshot(any_store) == ([], [])
