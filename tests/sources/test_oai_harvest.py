"""OAI-PMH harvest: the ListRecords parser on recorded pages, and harvests on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from papertide.config import Settings
from papertide.sources.http import BadBody, Refused
from papertide.sources.oai import ExpiredToken, parse_list_records, split_authors
from papertide.store import Store
from papertide.store.sync_state import load_state
from papertide.sync import sync_sources
from tests.support.fixture_server import (
    NOW,
    FixtureServer,
    Reply,
    fixture,
    impatient,
    oai_harvest,
    settings_for,
    snapshot,
    xml,
)

LIMITS = {"max_title": 2000, "max_abstract": 100_000}
TOKEN_2, TOKEN_3 = "6034821|1001", "6034821|2001"


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    with FixtureServer() as srv:
        srv.handler = oai_harvest
        yield srv


def oai_settings(base: Settings, server: FixtureServer, **extra: object) -> Settings:
    return settings_for(base, server, sources=["oai"], **extra)


def parse(name: str, prefix: str = "arXiv") -> object:
    return parse_list_records(fixture("oai", name), name, prefix=prefix, **LIMITS)


def test_parse_list_records_arxiv_format() -> None:
    page = parse_list_records(fixture("oai", "page1.xml"), "p1", prefix="arXiv", **LIMITS)
    assert page.token == TOKEN_2 and page.complete_list_size == 5 and page.cursor == 0
    assert page.response_date == datetime(2026, 11, 21, 12, 0, 1)
    first = page.items[0].paper  # type: ignore[union-attr]
    assert first.arxiv_id == "2411.00001" and first.arxiv_version is None
    assert first.title == "Sparse Attention for Long Documents"
    assert first.authors == ["Ada Lovelace", "Alan Turing"]
    assert first.extra["affiliations"] == {"Ada Lovelace": ["Analytical Engine Lab"]}
    assert first.categories == ["cs.CL", "cs.LG"]
    assert (first.published, first.updated) == (datetime(2026, 11, 18), datetime(2026, 11, 19))
    assert first.doi == "10.1234/sparse.2026.17"
    assert first.journal_ref == "Trans. Long Doc. 3 (2026) 1-12"
    assert first.extra["license"] == "http://creativecommons.org/licenses/by/4.0/"
    assert first.sources == ["arxiv-oai"]
    second = page.items[1].paper  # type: ignore[union-attr]
    assert second.authors == ["Grace M. Hopper Jr"]
    assert second.updated == second.published == datetime(2026, 11, 19)


def test_deleted_records_and_the_last_page() -> None:
    page2 = parse("page2.xml")
    assert len(page2.items) == 1 and page2.deleted == 1 and page2.token == TOKEN_3  # type: ignore[attr-defined]
    page3 = parse("page3.xml")
    assert page3.token is None and page3.cursor == 4  # type: ignore[attr-defined]


def test_parse_arxiv_raw_format_with_versions() -> None:
    page = parse_list_records(fixture("oai", "raw.xml"), "raw", prefix="arXivRaw", **LIMITS)
    paper = page.items[0].paper  # type: ignore[union-attr]
    assert (paper.arxiv_id, paper.arxiv_version) == ("2411.00004", 3)
    assert paper.published == datetime(2026, 10, 2, 11, 0)
    assert paper.updated == datetime(2026, 11, 21, 7, 45, 12)
    assert paper.authors == ["Edsger Dijkstra", "Tony Hoare", "Barbara Liskov"]
    assert paper.categories == ["cs.LG", "cs.SE"] and paper.comments == "v3: one more result"
    assert paper.extra["arxiv_submitter"] == "Edsger Dijkstra"


def test_split_authors() -> None:
    assert split_authors("A. One (MIT (CSAIL)), B. Two, and C. Three") == [
        "A. One",
        "B. Two",
        "C. Three",
    ]
    assert split_authors("") == []


@pytest.mark.parametrize(
    ("name", "error", "reason"),
    [
        ("bad_token.xml", ExpiredToken, "badResumptionToken"),
        ("bad_argument.xml", Refused, "OAI-PMH error badArgument: Illegal set"),
        ("truncated.xml", BadBody, "malformed or truncated XML"),
    ],
)
def test_oai_errors(name: str, error: type, reason: str) -> None:
    with pytest.raises(error, match=reason):
        parse(name)


def test_no_records_match_is_an_empty_last_page() -> None:
    page = parse("no_records.xml")
    assert page.items == [] and page.token is None  # type: ignore[attr-defined]


def test_three_page_harvest_cut_after_page_two_resumes_with_the_token(
    server: FixtureServer, any_store: Store, any_settings: Settings
) -> None:
    settings = oai_settings(any_settings, server)
    # A time-out mid-harvest: page 3 comes far too late. The good pages get the generous
    # time-out of settings_for (2 s), so a loaded machine cannot make them time out too.
    server.handler = lambda seen: (
        Reply(fixture("oai", "page3.xml"), delay=6.0)
        if seen.query.get("resumptionToken") == TOKEN_3
        else oai_harvest(seen)
    )
    [cut] = sync_sources(any_store, settings=settings, now=NOW)
    assert (cut.status, cut.pages, cut.report.added, cut.skipped) == ("failed", 2, 3, 1)
    assert "timed out" in (cut.message or "")
    first = server.requests[0].query
    assert first == {
        "verb": "ListRecords",
        "metadataPrefix": "arXiv",
        "set": "cs",
        "from": "2026-11-18",
    }
    state = load_state(any_store, "oai")
    assert state.checkpoint == {
        "from": "2026-11-18",
        "token": TOKEN_3,
        "harvest_date": "2026-11-21",
        "pages": 2,
    }
    assert state.watermark is None and any_store.count_papers() == 3

    server.handler = oai_harvest
    server.requests.clear()
    [resumed] = sync_sources(any_store, settings=settings, now=NOW + timedelta(hours=1))
    assert (resumed.status, resumed.pages, resumed.report.added) == ("ok", 1, 1)
    # The token is an exclusive argument (OAI-PMH 2.0, 4.5): nothing else is sent with it.
    assert [s.query for s in server.requests] == [
        {"verb": "ListRecords", "resumptionToken": TOKEN_3}
    ]
    state = load_state(any_store, "oai")
    assert state.watermark == "2026-11-21" and state.checkpoint is None
    assert any_store.count_papers() == 4
    assert any_store.get_paper("2411.00099") is None  # the deleted record

    server.requests.clear()
    [again] = sync_sources(any_store, settings=settings, now=NOW + timedelta(days=1))
    assert (again.status, again.pages, again.report.added, again.report.changed) == ("ok", 3, 0, 0)
    assert server.requests[0].query["from"] == "2026-11-21"  # from the last harvest's date
    assert any_store.count_papers() == 4


def test_503_with_retry_after_mid_harvest_is_waited_out(
    server: FixtureServer, store: Store, settings: Settings
) -> None:
    settings = oai_settings(settings, server)
    busy = [Reply(b"", status=503, headers={"Retry-After": "0"})]
    server.handler = lambda seen: (
        busy.pop() if busy and seen.query.get("resumptionToken") == TOKEN_2 else oai_harvest(seen)
    )
    [result] = sync_sources(store, settings=settings, now=NOW)
    assert (result.status, result.report.added) == ("ok", 4)
    tokens = [s.query.get("resumptionToken") for s in server.requests]
    assert tokens == [None, TOKEN_2, TOKEN_2, TOKEN_3]


def test_an_expired_token_restarts_the_harvest_from_its_date(
    server: FixtureServer, store: Store, settings: Settings
) -> None:
    settings = oai_settings(settings, server)
    server.handler = lambda seen: (
        Reply(b"", status=503)
        if seen.query.get("resumptionToken") == TOKEN_2
        else oai_harvest(seen)
    )
    sync_sources(store, settings=settings, now=NOW)
    assert load_state(store, "oai").checkpoint["token"] == TOKEN_2  # type: ignore[index]
    expired = [xml("bad_token.xml", "oai")]
    server.handler = lambda seen: expired.pop() if expired else oai_harvest(seen)
    server.requests.clear()
    [result] = sync_sources(store, settings=settings, now=NOW + timedelta(days=1))
    assert result.status == "ok" and store.count_papers() == 4
    queries = [s.query for s in server.requests]
    assert queries[0] == {"verb": "ListRecords", "resumptionToken": TOKEN_2}
    assert queries[1]["from"] == "2026-11-18" and "resumptionToken" not in queries[1]


ERRORS = {
    "503 with Retry-After": Reply(b"", status=503, headers={"Retry-After": "0"}),
    "HTML error page": Reply(fixture("arxiv", "html_error.html"), content_type="text/html"),
    "malformed XML": xml("truncated.xml", "oai"),
    "truncated response": Reply(fixture("oai", "page1.xml"), truncate_at=700),
    "time-out": Reply(fixture("oai", "page1.xml"), delay=0.8),
    "OAI error badArgument": xml("bad_argument.xml", "oai"),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_a_failed_page_leaves_papers_and_checkpoint_unchanged(
    case: str, server: FixtureServer, store: Store, settings: Settings
) -> None:
    settings = oai_settings(settings, server)
    sync_sources(store, settings=settings, now=NOW)
    before = snapshot(store)
    server.handler = lambda seen: ERRORS[case]
    server.requests.clear()
    [result] = sync_sources(store, settings=impatient(settings), now=NOW + timedelta(days=1))
    assert result.status == "failed" and result.pages == 0
    assert (result.message or "").startswith("oai: GET 127.0.0.1:")
    assert snapshot(store) == before
    assert len(server.requests) == (1 if case == "OAI error badArgument" else 2)
