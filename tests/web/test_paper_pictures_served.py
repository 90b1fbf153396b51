"""Stored pictures on the site: served from its own origin at an address that names their
bytes (cached for a year, immutable, with an ETag; any other version is 404), named by
every card and API paper (read in one query for a whole page), and a paper page opened
without a picture asks the worker for one, which never costs the page anything."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, text

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import Paper
from papertide.store import Store
from papertide.store.picture_tables import picture_wishes
from papertide.web import create_app
from tests.conftest import serving
from tests.support.pictures import recent_paper
from tests.support.search_corpus import add_papers, pk_of

WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8 stand-in bytes"


def _old_style() -> Paper:
    paper = recent_paper(1)
    paper.arxiv_id = "cs/0101001"
    return paper


@pytest.fixture
def site(settings: Settings) -> Iterator[tuple[TestClient, Store]]:
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, [_old_style(), *(recent_paper(n) for n in range(2, 8))])
    with serving(create_app(settings)) as client:
        yield client, store
    store.close()


def _save(store: Store, arxiv_id: str, data: bytes = WEBP) -> str:
    return store.save_picture(
        pk_of(store, arxiv_id),
        data=data,
        mime="image/webp",
        size=(400, 300),
        origin="pdf",
        now=utcnow(),
    )


def test_a_stored_picture_is_served_immutable_with_an_etag(
    site: tuple[TestClient, Store],
) -> None:
    client, store = site
    version = _save(store, "cs/0101001")  # an old-style id: it has a slash
    paper_id = store.get_paper("cs/0101001").id  # type: ignore[union-attr]
    answer = client.get(f"/pictures/{paper_id}.{version}.webp")
    assert answer.status_code == 200 and answer.content == WEBP
    assert answer.headers["content-type"] == "image/webp"
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    etag = answer.headers["etag"]
    again = client.get(f"/pictures/{paper_id}.{version}.webp", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


def test_an_unknown_or_stale_picture_is_not_found(site: tuple[TestClient, Store]) -> None:
    client, store = site
    old = _save(store, "2611.00002", b"old bytes")
    new = _save(store, "2611.00002", b"new bytes")
    assert client.get(f"/pictures/2611.00002.{new}.webp").status_code == 200
    for path in (
        f"/pictures/2611.00002.{old}.webp",  # replaced since
        f"/pictures/2611.00002.{new}.png",
        f"/pictures/2611.00003.{new}.webp",  # a paper without a picture
        f"/pictures/no-such-paper.{new}.webp",
        "/pictures/.webp",
    ):
        assert client.get(path).status_code == 404, path


def test_papers_in_the_api_name_their_picture_else_their_cover(
    site: tuple[TestClient, Store],
) -> None:
    client, store = site
    version = _save(store, "2611.00004")
    papers = client.get("/api/daily", params={"date": "2026-11-20"}).json()["papers"]
    urls = {p["arxiv_id"]: p["picture_url"] for p in papers}
    assert urls["2611.00004"] == f"http://testserver/pictures/2611.00004.{version}.webp"
    assert urls["2611.00005"] == "http://testserver/papers/2611.00005/cover.svg"
    one = client.get("/api/papers/2611.00004").json()
    assert one["picture_url"].endswith(f"/pictures/2611.00004.{version}.webp")


def test_a_page_of_cards_reads_its_pictures_in_one_query(
    site: tuple[TestClient, Store],
) -> None:
    client, store = site
    _save(store, "2611.00003")
    _save(store, "2611.00006")
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "paper_pictures" in statement:
            seen.append(statement)

    event.listen(store.engine.__class__, "before_cursor_execute", count)
    try:
        answer = client.get("/papers/date/2026-11-20", headers={"Cache-Control": "no-cache"})
    finally:
        event.remove(store.engine.__class__, "before_cursor_execute", count)
    assert answer.status_code == 200
    assert len(seen) == 1, seen


def _wishes(store: Store) -> list[int]:
    with store.engine.connect() as conn:
        return list(conn.scalars(select(picture_wishes.c.paper_pk)))


def test_opening_a_paper_page_without_a_picture_wishes_for_one(
    site: tuple[TestClient, Store],
) -> None:
    client, store = site
    _save(store, "2611.00002")
    assert client.get("/papers/2611.00002").status_code == 200
    assert client.get("/papers/2611.00005").status_code == 200
    assert client.get("/papers/2611.00005").status_code == 200
    assert _wishes(store) == [pk_of(store, "2611.00005")]


def test_a_store_that_refuses_the_wish_never_fails_the_page(
    site: tuple[TestClient, Store], caplog: pytest.LogCaptureFixture
) -> None:
    client, store = site
    with store.engine.begin() as conn:  # as a read-only database would answer the write
        conn.execute(
            text(
                "CREATE TRIGGER refuse_wishes BEFORE INSERT ON picture_wishes "
                "BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END"
            )
        )
    caplog.set_level(logging.INFO, logger="papertide.web.display")
    answer = client.get("/papers/2611.00007")
    assert answer.status_code == 200 and "Paper number 7" in answer.text
    assert _wishes(store) == []
    assert any("2611.00007" in r.getMessage() for r in caplog.records)


def test_a_card_variant_is_served_at_its_own_address_and_tiles_ask_for_it(
    site: tuple[TestClient, Store],
) -> None:
    client, store = site
    pk = pk_of(store, "2611.00004")
    full = store.save_picture(
        pk, data=WEBP, card=b"RIFF card bytes", mime="image/webp", size=(400, 300),
        origin="pdf", now=utcnow(),
    )  # fmt: skip
    card = store.card_marks([pk], user_pk=None).pictures[pk][1]
    answer = client.get(f"/pictures/2611.00004.{card}.card.webp")
    assert answer.status_code == 200 and answer.content == b"RIFF card bytes"
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get(f"/pictures/2611.00004.{full}.card.webp").status_code == 404
    assert client.get(f"/pictures/2611.00004.{card}.webp").status_code == 404
    # A page's tiles name the card (drawn at once or when scrolled near); the paper page the
    # whole picture.
    day = client.get("/").text
    assert f"/pictures/2611.00004.{card}.card.webp" in day
    assert f"/pictures/2611.00004.{full}.webp" not in day
    assert f'src="/pictures/2611.00004.{full}.webp"' in client.get("/papers/2611.00004").text
