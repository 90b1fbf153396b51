"""Drawn covers: a paper without a picture still has one, drawn from its category and title,
the same every time, a few hundred bytes, served from the site's own origin with caching."""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.store import Store
from papertide.web import create_app
from papertide.web.covers import cover_hue, cover_svg, monogram
from tests.conftest import serving
from tests.support.search_corpus import add_papers, paper

SVG = "{http://www.w3.org/2000/svg}"


def test_a_cover_is_the_same_every_time_and_small() -> None:
    one = cover_svg("Sparse Attention for Long Documents", "cs.CL")
    assert one == cover_svg("Sparse Attention for Long Documents", "cs.CL")
    assert one != cover_svg("Dense Retrieval at Scale", "cs.CL")
    assert len(one.encode()) < 1000
    root = ElementTree.fromstring(one)  # well-formed SVG
    assert root.tag == f"{SVG}svg"
    assert [t.text for t in root.iter(f"{SVG}text")] == ["SA", "cs.CL"]
    untitled = ElementTree.fromstring(cover_svg("Sparse Attention", None))
    assert [t.text for t in untitled.iter(f"{SVG}text")] == ["SA"]  # no made-up category


def test_papers_of_one_archive_share_a_family_of_hues() -> None:
    cs = [cover_hue(c) for c in ("cs.CL", "cs.LG", "cs.CV", "cs.AI")]
    assert max(cs) - min(cs) <= 24
    assert abs(cover_hue("q-bio.NC") - cover_hue("cs.CL")) > 24
    assert 0 <= cover_hue("made-up.XX") < 360
    assert cover_hue(None) == cover_hue("")


def test_title_markup_is_escaped_and_initials_skip_stop_words() -> None:
    drawn = cover_svg('<script>alert("x")</script> & more', "cs.CR", label='A "quoted" <b>')
    ElementTree.fromstring(drawn)  # still well-formed: nothing broke out of its element
    assert "<script" not in drawn and "<b>" not in drawn
    assert monogram("The Art of Computer Programming") == "AC"
    assert monogram("On the of") == "OT"
    assert monogram("") == "?"


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    store = Store.open(settings.resolved_database_url)
    add_papers(
        store,
        settings,
        [paper(1, "Wavelet scattering networks", "An abstract.", "Ada", "cs.CV", "2024-01-05")],
    )
    with serving(create_app(settings)) as opened:
        yield opened
    store.close()


def test_the_cover_is_served_same_origin_with_caching_and_revalidation(client: TestClient) -> None:
    found = client.get("/api/papers/2401.00001").json()
    answer = client.get(f"/papers/{found['id']}/cover.svg")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert re.fullmatch(r"public, max-age=\d{4,}", answer.headers["cache-control"])
    assert 'aria-label="Cover of Wavelet scattering networks"' in answer.text
    again = client.get(
        f"/papers/{found['id']}/cover.svg", headers={"If-None-Match": answer.headers["etag"]}
    )
    assert again.status_code == 304
    assert client.get("/papers/no-such-paper/cover.svg").status_code == 404
