"""Atom feeds through TestClient on create_app: parsed by feedparser, checked against RFC 4287."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path

import feedparser  # type: ignore[import-untyped]
import orjson
import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.ingest import ingest_paths
from papertide.models import Paper
from papertide.ranking.trending import paper_trending
from papertide.store import Store
from papertide.web import create_app
from papertide.web.features import trending
from tests.conftest import serving

ATOM = "{http://www.w3.org/2005/Atom}"
# RFC 3339 date-time, as RFC 4287 section 3.3 requires (upper-case T and Z, offset allowed).
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
TRICKY_TITLE = 'Sparse <b>Attention</b> & "Dense" Routing'
TRICKY_ABSTRACT = "We show a < b && c > d for all <script>alert(1)</script> inputs."


def _client(settings: Settings) -> AbstractContextManager[TestClient]:
    """The app as create_app builds it (feeds router included), its index caught up."""
    return serving(create_app(settings))


# Hand-made papers: id -> (title, day offset from FIXED_NOW's day, the source's upvotes,
# votes cast on this site). Every feed test states its expected ids from these alone.
HAND: dict[str, tuple[str, int, int, int]] = {
    "alpha": ("Sparse attention for long documents", 0, 5, 0),
    "bravo": ("Dense retrieval with sparse codes", 0, 20, 0),
    "charlie": ("Protein folding by diffusion", 0, 0, 2),
    "delta": ("Galaxy rotation curves", 0, 0, 0),
    "echo": ("Speech recognition in noisy rooms", -1, 1000, 0),
    "foxtrot": ("Graph transformers for molecules", -3, 40, 0),
    "golf": ("Quantum error correction codes", -40, 90, 0),
}
ABSTRACTS = {"bravo": "Codes that are sparse make dense retrieval cheap."}


@pytest.fixture
def settings(any_settings: Settings, fixed_clock: datetime) -> Settings:
    """Every feed test runs on SQLite and on PostgreSQL, its clock at FIXED_NOW."""
    return any_settings


@pytest.fixture
def hand(store: Store, fixed_clock: datetime) -> Store:
    """The store with the HAND papers and their site votes."""
    made = []
    for paper_id, (title, offset, external, _) in HAND.items():
        day = fixed_clock.date() + timedelta(days=offset)
        made.append(
            Paper(
                id=paper_id,
                title=title,
                abstract=ABSTRACTS.get(paper_id, f"About {title.lower()}."),
                authors=["Grace Hopper", "Alan Turing"],
                first_seen=fixed_clock,
                published=datetime(day.year, day.month, day.day, 9),
                listed_on=day,
                upvotes_external=external,
            )
        )
    with store.write() as ws:
        ws.insert_papers(made)
    pks = {p.id: p.pk for p in store.list_papers(limit=100)}
    for i in range(max(votes for *_, votes in HAND.values())):
        user = store.create_user(username=f"fan{i}", email=None, password_hash="x", now=fixed_clock)
        for paper_id, (*_, votes) in HAND.items():
            if votes > i:
                store.set_vote(
                    user_pk=user.pk, paper_pk=pks[paper_id] or 0, up=True, now=fixed_clock
                )
    return store


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(row) for row in rows) + b"\n")
    return path


def _rfc4287_problems(body: bytes) -> list[str]:
    """The RFC 4287 rules a feed breaks (the MUSTs of sections 4.1.1 and 4.1.2 we rely on)."""
    root = ET.fromstring(body)
    problems: list[str] = []
    if root.tag != f"{ATOM}feed":
        return [f"root is {root.tag}, not atom:feed"]

    def one(parent: ET.Element, name: str, where: str) -> ET.Element | None:
        found = parent.findall(f"{ATOM}{name}")
        if len(found) != 1:
            problems.append(f"{where} has {len(found)} atom:{name}, needs exactly 1")
            return None
        return found[0]

    def check_common(parent: ET.Element, where: str) -> None:
        for name in ("id", "title", "updated"):
            element = one(parent, name, where)
            if element is not None and not (element.text or "").strip():
                problems.append(f"{where} atom:{name} is empty")
        updated = parent.find(f"{ATOM}updated")
        if updated is not None and not RFC3339.match(updated.text or ""):
            problems.append(f"{where} updated {updated.text!r} is not RFC 3339")
        alternates = {
            (link.get("type"), link.get("hreflang"))
            for link in parent.findall(f"{ATOM}link")
            if link.get("rel", "alternate") == "alternate"
        }
        count = sum(
            1
            for link in parent.findall(f"{ATOM}link")
            if link.get("rel", "alternate") == "alternate"
        )
        if count != len(alternates):
            problems.append(f"{where} has two alternate links of one type and language")
        for link in parent.findall(f"{ATOM}link"):
            if not link.get("href"):
                problems.append(f"{where} has a link without href")
        for author in parent.findall(f"{ATOM}author"):
            if not (author.findtext(f"{ATOM}name") or "").strip():
                problems.append(f"{where} has an author without a name")

    check_common(root, "feed")
    rels = {link.get("rel") for link in root.findall(f"{ATOM}link")}
    if "self" not in rels:
        problems.append("feed has no rel=self link")  # a SHOULD, but our feeds promise it
    feed_authors = root.findall(f"{ATOM}author")
    ids = []
    for number, entry in enumerate(root.findall(f"{ATOM}entry")):
        check_common(entry, f"entry {number}")
        ids.append(entry.findtext(f"{ATOM}id"))
        if not feed_authors and not entry.findall(f"{ATOM}author"):
            problems.append(f"entry {number} has no author and the feed has none")
        if entry.find(f"{ATOM}content") is None and not any(
            link.get("rel", "alternate") == "alternate" for link in entry.findall(f"{ATOM}link")
        ):
            problems.append(f"entry {number} has neither content nor an alternate link")
        published = entry.find(f"{ATOM}published")
        if published is not None and not RFC3339.match(published.text or ""):
            problems.append(f"entry {number} published {published.text!r} is not RFC 3339")
    if len(set(ids)) != len(ids):
        problems.append("entry ids repeat")
    return problems


def _entry_ids(parsed: feedparser.FeedParserDict) -> list[str]:
    return [entry.id.rsplit("/papers/", 1)[1] for entry in parsed.entries]


def test_daily_feed_lists_the_latest_day_in_page_order(hand: Store, settings: Settings) -> None:
    """The latest day (FIXED_NOW's), most voted first (site votes + the source's)."""
    with _client(settings) as client:
        response = client.get("/feeds/daily.atom")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert _rfc4287_problems(response.content) == []
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert _entry_ids(parsed) == ["bravo", "alpha", "charlie", "delta"]  # 20, 5, 2, 0 votes
    assert [entry.title for entry in parsed.entries] == [HAND[i][0] for i in _entry_ids(parsed)]
    feed = parsed.feed
    assert feed.id == "http://testserver/feeds/daily.atom"
    links = {link.rel: link.href for link in feed.links}
    assert links["self"] == "http://testserver/feeds/daily.atom"
    assert links["alternate"] == "http://testserver/papers/date/2026-11-23"
    assert "November 23, 2026" in feed.title
    first = parsed.entries[0]
    assert first.link == "http://testserver/papers/bravo"
    assert first.summary == "Codes that are sparse make dense retrieval cheap."
    assert [a.name for a in first.authors] == ["Grace Hopper", "Alan Turing"]


def test_titles_and_abstracts_are_escaped_and_links_point_to_arxiv(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    rows: list[dict[str, object]] = [
        {
            "id": "tricky",
            "title": TRICKY_TITLE,
            "abstract": TRICKY_ABSTRACT,
            "authors": ["Ada <Lovelace>", "Bob & Co"],
            "arxiv_id": "2401.00001",
            "categories": ["cs.LG", "cs.CL"],
            "published": "2030-01-02T10:00:00Z",
            "updated": "2030-01-03T11:30:00Z",
        },
        {"id": "plain", "title": "No Authors Here", "published": "2030-01-02T09:00:00Z"},
    ]
    ingest_paths(store, [_write_jsonl(tmp_path / "tricky.jsonl", rows)], settings=settings)
    with _client(settings) as client:
        body = client.get("/feeds/daily.atom").content
    assert _rfc4287_problems(body) == []
    assert b"&lt;b&gt;Attention&lt;/b&gt; &amp;" in body
    assert b"<script>" not in body and b"<b>" not in body
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert len(parsed.entries) == 2
    tricky = next(e for e in parsed.entries if e.id.endswith("/papers/2401.00001"))
    assert tricky.title == TRICKY_TITLE
    assert tricky.title_detail.type == "text/plain"
    assert tricky.summary == TRICKY_ABSTRACT
    assert [a.name for a in tricky.authors] == ["Ada <Lovelace>", "Bob & Co"]
    assert tricky.updated == "2030-01-03T11:30:00Z"
    assert tricky.published == "2030-01-02T10:00:00Z"
    assert [t.term for t in tricky.tags] == ["cs.LG", "cs.CL"]
    related = {link.type: link.href for link in tricky.links if link.rel == "related"}
    assert related["text/html"].startswith("https://arxiv.org/abs/2401.00001")
    assert related["application/pdf"].startswith("https://arxiv.org/pdf/2401.00001")
    # An entry without authors falls back on the feed's author, as RFC 4287 4.1.1 allows.
    assert parsed.feed.author == "papertide"


def test_trending_feed_follows_the_trending_ranking(hand: Store, settings: Settings) -> None:
    """At FIXED_NOW (12:00), votes / (age_hours + 2) ** 1.8, age from the day's midnight:
    echo 1000/38^1.8 = 1.43, bravo 20/14^1.8 = 0.173, alpha 5/14^1.8 = 0.043, charlie
    2/14^1.8 = 0.017, foxtrot 40/86^1.8 = 0.013; then the unvoted (delta); golf is 40 days
    old, outside the 30-day window."""
    with _client(settings) as client:
        body = client.get("/feeds/trending.atom").content
    assert _rfc4287_problems(body) == []
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert _entry_ids(parsed) == ["echo", "bravo", "alpha", "charlie", "foxtrot", "delta"]
    assert {link.rel: link.href for link in parsed.feed.links}["alternate"].endswith("/trending")


def test_trending_pages_rank_every_paper_by_the_formula(
    settings: Settings, seeds: list[Path], fixed_clock: datetime
) -> None:
    """The service ranks on index keys only; its pages must equal scoring whole papers."""
    settings = settings.model_copy(update={"trending_window_days": 100_000})
    store = Store.open(settings.resolved_database_url)
    try:
        ingest_paths(store, seeds, settings=settings)
        everyone = store.list_papers(limit=1000)
        now = fixed_clock
        for i in range(1, 4):
            user = store.create_user(username=f"u{i}", email=None, password_hash="x", now=now)
            for paper in everyone[: 7 * i : i]:  # more votes on some, across days
                store.set_vote(user_pk=user.pk, paper_pk=paper.pk or 0, up=True, now=now)
        papers = store.list_papers(limit=1000)
        voted = sorted(
            (p for p in papers if p.site_votes > 0),
            key=lambda p: (-paper_trending(p, now, settings.trending), -(p.pk or 0)),
        )
        unvoted = sorted(
            (p for p in papers if p.site_votes == 0), key=lambda p: (p.day, p.pk), reverse=True
        )
        expected = [p.id for p in voted + unvoted]
        shown: list[str | None] = []
        for offset in range(0, len(expected), 4):  # pages that straddle voted and unvoted
            page = trending.trending(store, settings, user=None, limit=4, offset=offset)
            shown += [view.paper.id for view in page]
    finally:
        store.close()
    assert len(voted) >= 7
    assert shown == expected


def test_empty_store_gives_a_valid_empty_feed(settings: Settings) -> None:
    with _client(settings) as client:
        for path in ("/feeds/daily.atom", "/feeds/trending.atom"):
            body = client.get(path).content
            assert _rfc4287_problems(body) == [], path
            parsed = feedparser.parse(body)
            assert parsed.bozo == 0 and parsed.entries == [], path


def test_search_feed_needs_a_query(settings: Settings) -> None:
    with _client(settings) as client:
        response = client.get("/feeds/search.atom?q=%20")
    assert response.status_code == 400
    assert "search for" in response.text


def test_search_feed_lists_matches_with_the_query_escaped(hand: Store, settings: Settings) -> None:
    with _client(settings) as client:
        response = client.get("/feeds/search.atom", params={"q": "sparse attention"})
        odd = client.get("/feeds/search.atom", params={"q": 'grok & <"why">'})
    assert response.status_code == 200
    assert _rfc4287_problems(response.content) == []
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    # Both words first, then one word (sparse), then what matches by meaning alone.
    ids = _entry_ids(parsed)
    assert ids[:2] == ["alpha", "bravo"], ids
    assert set(ids) <= set(HAND) and len(ids) == len(set(ids))
    assert "sparse attention" in parsed.feed.title
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links["self"] == "http://testserver/feeds/search.atom?q=sparse+attention"
    assert links["alternate"] == "http://testserver/search?q=sparse+attention"
    assert odd.status_code == 200
    assert _rfc4287_problems(odd.content) == []
    odd_parsed = feedparser.parse(odd.content)
    assert odd_parsed.bozo == 0
    assert 'grok & <"why">' in odd_parsed.feed.title


def test_a_store_without_recent_papers_shows_the_ranking_as_it_stood_then(
    settings: Settings, seeds: list[Path], fixed_clock: datetime, tmp_path: Path
) -> None:
    """The captures are months older than the window (the demo's case): trending shows the
    window that ends on the newest day with papers, ranked as on that day, and says so;
    once a paper of today arrives, the window ends today again and the notice is gone."""
    store = Store.open(settings.resolved_database_url)
    try:
        ingest_paths(store, seeds, settings=settings)
        latest = store.latest_day()
        assert latest is not None and latest < fixed_clock.date() - timedelta(days=30)
        start = latest - timedelta(days=settings.trending_window_days)
        at = datetime(latest.year, latest.month, latest.day) + timedelta(days=1)
        window = [p for p in store.list_papers(limit=1000) if p.day and p.day >= start]
        for i in range(1, 4):  # votes on some papers of the window, more on some
            user = store.create_user(
                username=f"u{i}", email=None, password_hash="x", now=fixed_clock
            )
            for paper in window[: 7 * i : i]:
                store.set_vote(user_pk=user.pk, paper_pk=paper.pk or 0, up=True, now=fixed_clock)
        papers = [p for p in store.list_papers(limit=1000) if p.day and p.day >= start]
        # Ranked as on the newest day (its end), not as months-old papers today.
        voted = sorted(
            (p for p in papers if p.site_votes),
            key=lambda p: (-paper_trending(p, at, settings.trending), -(p.pk or 0)),
        )
        assert len(voted) >= 7 and len({p.site_votes for p in voted}) == 3
        with _client(settings) as client:
            page = client.get("/trending").text
            assert "No papers arrived in the last" in page
            assert f'href="/papers/date/{latest.isoformat()}"' in page
            api = client.get("/api/trending").json()["papers"]
            assert [p["id"] for p in api[: len(voted)]] == [p.id for p in voted]
            assert all(p["id"] in {q.id for q in papers} for p in api)
        fresh = tmp_path / "today.jsonl"
        row = {"title": "A paper of today", "abstract": "New.", "arxiv_id": "2611.00001"}
        fresh.write_bytes(orjson.dumps({**row, "published": fixed_clock.date().isoformat()}))
        ingest_paths(store, [fresh], settings=settings)
        with _client(settings) as client:
            assert "No papers arrived" not in client.get("/trending").text
            api = client.get("/api/trending").json()["papers"]
            assert [p["title"] for p in api] == ["A paper of today"]
    finally:
        store.close()
