"""The pictures job: a picture for each waiting paper, fetched from the recorded services on
a loopback server (a Hugging Face thumbnail first, else the arXiv PDF's first page), drawn in
a capped child process; a hostile or broken input is refused with one log line naming the
paper and the reason, recorded as a failure (tried again later, not every round), and the
paper keeps its drawn cover."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import select

from papertide.bench.pdfs import paper_pdf
from papertide.clock import utcnow
from papertide.config import Settings
from papertide.pictures.fetch import fetch_pictures
from papertide.store import Store
from papertide.store.picture_tables import picture_attempts
from tests.support.fixture_server import FixtureServer, Reply, Seen
from tests.support.pictures import (
    gzipped,
    pdf_reply,
    picture_settings,
    png_bomb,
    png_bytes,
    recent_paper,
)
from tests.support.search_corpus import add_papers, pk_of

REFUSALS = "papertide.pictures.fetch"


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    with FixtureServer() as started:
        yield started


def _serve(server: FixtureServer, answers: dict[str, Reply]) -> None:
    def handler(seen: Seen) -> Reply:
        return answers.get(seen.path, Reply(b"not found", status=404, content_type="text/plain"))

    server.handler = handler


def _picture(store: Store, arxiv_id: str) -> Image.Image | None:
    paper = store.get_paper(arxiv_id)
    assert paper is not None
    found = store.get_picture(paper.id or "")
    if found is None:
        return None
    image = Image.open(io.BytesIO(found.data))
    assert image.format == "WEBP" and image.size == (found.width, found.height)
    return image


def test_an_arxiv_pdf_becomes_a_small_400x300_webp(
    any_settings: Settings, any_store: Store, server: FixtureServer
) -> None:
    add_papers(any_store, any_settings, [recent_paper(1)])
    _serve(server, {"/pdf/2611.00001": pdf_reply(paper_pdf("Sparse Attention", seed=1))})
    report = fetch_pictures(any_store, picture_settings(any_settings, server))
    assert (report.stored, report.failed) == (1, 0)
    image = _picture(any_store, "2611.00001")
    assert image is not None and image.size == (400, 300)
    assert 2_000 < report.bytes_stored < 25_000
    card = any_store.get_picture("2611.00001", card=True)  # the grid's band of it, smaller
    assert card is not None and Image.open(io.BytesIO(card.data)).size == (320, 200)
    assert len(card.data) < report.bytes_stored
    assert server.requests[0].headers["User-Agent"].startswith("papertide/")
    # Stored once: the next round has nothing to fetch.
    assert fetch_pictures(any_store, picture_settings(any_settings, server)).stored == 0
    assert len(server.requests) == 1


def test_a_hugging_face_thumbnail_is_taken_before_the_pdf_and_scaled_to_400_wide(
    settings: Settings, store: Store, server: FixtureServer
) -> None:
    add_papers(store, settings, [recent_paper(2, thumbnail=True)])
    thumb = Reply(png_bytes(1200, 648), content_type="image/png")
    _serve(server, {"/social-thumbnails/papers/2611.00002.png": thumb})
    report = fetch_pictures(store, picture_settings(settings, server))
    assert report.stored == 1
    image = _picture(store, "2611.00002")
    assert image is not None and image.size == (400, 216)
    card = store.get_picture("2611.00002", card=True)  # wider than 16:10: cut at the sides
    assert card is not None and Image.open(io.BytesIO(card.data)).size == (320, 200)
    assert [s.path for s in server.requests] == ["/social-thumbnails/papers/2611.00002.png"]


def test_a_thumbnail_on_another_host_is_never_fetched(
    settings: Settings, store: Store, server: FixtureServer
) -> None:
    paper = recent_paper(3)
    paper.extra["thumbnail"] = "https://169.254.169.254/latest/meta-data.png"
    add_papers(store, settings, [paper])
    _serve(server, {"/pdf/2611.00003": pdf_reply(paper_pdf("From the PDF"))})
    assert fetch_pictures(store, picture_settings(settings, server)).stored == 1
    assert [s.path for s in server.requests] == ["/pdf/2611.00003"]


def test_a_page_with_a_giant_mediabox_is_drawn_at_the_same_small_size(
    settings: Settings, store: Store, server: FixtureServer
) -> None:
    add_papers(store, settings, [recent_paper(4)])
    huge = paper_pdf("Huge page", width=200_000, height=200_000)
    _serve(server, {"/pdf/2611.00004": pdf_reply(huge)})
    report = fetch_pictures(store, picture_settings(settings, server))
    assert report.stored == 1, report.failures
    image = _picture(store, "2611.00004")
    assert image is not None and image.size == (400, 300)


HOSTILE = {
    "an HTML error page": (
        Reply(b"<!doctype html><title>503</title>", content_type="text/html"),
        "not a PDF",
    ),
    "a truncated PDF": (pdf_reply(paper_pdf("Cut")[:200]), "unreadable PDF"),
    "a PDF over the size cap": (pdf_reply(b"%PDF-1.7\n" + b"0" * 300_000), "over the cap"),
    "a gzip body that inflates past the cap": (
        pdf_reply(gzipped(b"%PDF-1.7\n" + b"0" * 3_000_000), headers={"Content-Encoding": "gzip"}),
        "runs past the cap",
    ),
    "a body dripped out past its time": (
        pdf_reply(paper_pdf("Drip"), drip=0.3),
        "body not whole after 1 s",
    ),
    "a body cut short by the server": (
        pdf_reply(paper_pdf("Short"), truncate_at=100),
        "transport error",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_or_broken_pdf_is_refused_with_one_log_line_and_the_cover_stays(
    case: str,
    settings: Settings,
    store: Store,
    server: FixtureServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    reply, reason = HOSTILE[case]
    add_papers(store, settings, [recent_paper(5)])
    _serve(server, {"/pdf/2611.00005": reply})
    caplog.set_level(logging.INFO, logger=REFUSALS)
    wanted = picture_settings(settings, server, max_download_mb=0.25, download_seconds=1)
    report = fetch_pictures(store, wanted)
    assert (report.stored, report.failed) == (0, 1)
    assert _picture(store, "2611.00005") is None  # the cover stays
    lines = [r.getMessage() for r in caplog.records if r.name == REFUSALS]
    assert len(lines) == 1, lines
    assert "2611.00005" in lines[0] and reason in lines[0], lines[0]
    with store.engine.connect() as conn:
        (error, next_try) = conn.execute(
            select(picture_attempts.c.last_error, picture_attempts.c.next_try)
        ).one()
    assert reason in error and next_try > utcnow() + timedelta(hours=5)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (png_bomb(), "decompression bomb"),
        (b"GIF89a not really an image at all", "not an image"),
        (png_bytes(800, 600)[:120], "broken image"),
        (png_bytes(4000, 20), "not a page or picture shape"),
    ],
    ids=["a decompression bomb", "not an image", "a truncated image", "a sliver"],
)
def test_a_hostile_or_broken_thumbnail_is_refused_and_the_cover_stays(
    body: bytes,
    reason: str,
    settings: Settings,
    store: Store,
    server: FixtureServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_papers(store, settings, [recent_paper(6, thumbnail=True)])
    thumb = Reply(body, content_type="image/png")
    _serve(server, {"/social-thumbnails/papers/2611.00006.png": thumb})
    caplog.set_level(logging.INFO, logger=REFUSALS)
    report = fetch_pictures(store, picture_settings(settings, server))
    assert (report.stored, report.failed) == (0, 1)
    assert _picture(store, "2611.00006") is None
    lines = [r.getMessage() for r in caplog.records if r.name == REFUSALS]
    assert len(lines) == 1 and "2611.00006" in lines[0] and reason in lines[0], lines


def test_a_render_over_its_time_is_killed_and_refused(
    settings: Settings, store: Store, server: FixtureServer
) -> None:
    add_papers(store, settings, [recent_paper(7)])
    _serve(server, {"/pdf/2611.00007": pdf_reply(paper_pdf("Slow"))})
    report = fetch_pictures(store, picture_settings(settings, server, render_timeout=0.05))
    assert report.failed == 1 and "longer than 0.05 s" in report.failures[0]


def test_a_failed_paper_is_not_fetched_again_until_its_retry_time(
    settings: Settings, store: Store, server: FixtureServer
) -> None:
    add_papers(store, settings, [recent_paper(8)])
    _serve(server, {"/pdf/2611.00008": Reply(b"gone", status=404, content_type="text/plain")})
    wanted = picture_settings(settings, server)
    assert fetch_pictures(store, wanted).failed == 1
    for _ in range(3):
        assert fetch_pictures(store, wanted).failed == 0
    assert len(server.requests) == 1
    pk = pk_of(store, "2611.00008")
    with store.engine.begin() as conn:  # time passes: the retry is due
        conn.execute(picture_attempts.update().values(next_try=utcnow() - timedelta(seconds=1)))
    _serve(server, {"/pdf/2611.00008": pdf_reply(paper_pdf("Back"))})
    assert fetch_pictures(store, wanted).stored == 1
    with store.engine.connect() as conn:  # success clears the failure
        left = select(picture_attempts).where(picture_attempts.c.paper_pk == pk)
        assert conn.execute(left).first() is None


def test_a_picture_stored_before_cards_gets_its_card_cut_in_the_next_round(
    settings: Settings, store: Store, server: FixtureServer
) -> None:
    add_papers(store, settings, [recent_paper(4), recent_paper(5)])
    old = Image.new("RGB", (400, 300), "navy")
    buffer = io.BytesIO()
    old.save(buffer, "WEBP")
    pk = pk_of(store, "2611.00004")
    version = store.save_picture(
        pk, data=buffer.getvalue(), mime="image/webp", size=(400, 300), origin="pdf",
        now=utcnow(),
    )  # fmt: skip
    broken = pk_of(store, "2611.00005")  # bytes no decoder takes: shown whole, not retried
    store.save_picture(
        broken, data=b"not an image", mime="image/webp", size=(400, 300), origin="pdf",
        now=utcnow(),
    )  # fmt: skip
    report = fetch_pictures(store, picture_settings(settings, server))
    assert report.cards == 1 and server.requests == []  # cut from the stored bytes
    card = store.get_picture("2611.00004", card=True)
    assert card is not None and Image.open(io.BytesIO(card.data)).size == (320, 200)
    assert store.card_marks([pk], user_pk=None).pictures[pk] == (version, card.version)
    assert store.pictures_without_cards(limit=10) == []
    whole = store.get_picture("2611.00005", card=True)
    assert whole is not None and whole.data == b"not an image"
