"""One rule for every text a user or a source gives: control characters (ESC, BEL, NUL, C1)
are stripped, newlines and tabs stay; names and titles also lose the bidirectional overrides
that make text show in another order than it is stored. Checked where the text comes in
(comments, list names and descriptions, imported papers) and where it goes out (pages, API)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.ingest import ingest_paths
from papertide.normalize import clean_name
from papertide.store import Store
from papertide.web import create_app
from papertide.web.covers import cover_svg
from papertide.web.markdown import render_comment
from papertide.web.tex import marked_html, tex_html
from tests.conftest import serving
from tests.support.search_corpus import add_papers, paper

HOSTILE = "\x1b[31mred\x1b[0m \x07bell\x00 \x85next \u202eevil\u202c \u2066iso\u2069"
PAPER = paper(1, "Sparse attention", "An abstract.", "Ada Lovelace", "cs.CL", "2024-02-01")


@pytest.fixture
def client(any_settings: Settings, fixed_clock: datetime) -> Iterator[TestClient]:
    store = Store.open(any_settings.resolved_database_url)
    add_papers(store, any_settings, [PAPER])
    with serving(create_app(any_settings)) as opened:
        yield opened
    store.close()


def _signed_in(client: TestClient) -> str:
    client.get("/login")
    token = client.cookies["pt_csrf"]
    data = {"username": "ada", "password": "analytical engine", "csrf_token": token}
    assert client.post("/register", data=data, follow_redirects=False).status_code == 303
    return str(client.cookies["pt_csrf"])


def _no_controls(text: str) -> None:
    for bad in ("\x1b", "\x07", "\x00", "\x85"):
        assert bad not in text, repr(bad)


def test_html_made_from_text_has_no_control_characters() -> None:
    """Pages print the HTML these make as it is, so each strips what it returns."""
    text = f"{HOSTILE} with $x^2$ and https://example.org/{HOSTILE[:4]}"
    for html in (
        tex_html(text, ["red", "bell"], links=True),
        marked_html(text, [(0, 8), (12, 20)]),
        render_comment(f"*{HOSTILE}*\n\n`{HOSTILE}` $y$"),
        cover_svg(HOSTILE, "cs.LG\x1b"),
    ):
        _no_controls(str(html))


def test_names_lose_controls_and_bidirectional_overrides() -> None:
    assert clean_name(HOSTILE) == "[31mred[0m bell next evil iso"
    assert clean_name("Plain  title\twith\nspace") == "Plain title with space"


def test_comments_keep_newlines_but_no_control_characters(client: TestClient) -> None:
    token = _signed_in(client)
    body = f"First line {HOSTILE}\n\nSecond\tline"
    made = client.post(
        "/api/papers/2401.00001/comments", json={"body": body}, headers={"X-CSRF-Token": token}
    )
    assert made.status_code == 201
    stored = made.json()["body"]
    _no_controls(stored)
    assert "\n\nSecond\tline" in stored
    _no_controls(client.get("/papers/2401.00001").text)
    _no_controls(client.get("/api/papers/2401.00001/comments").text)


def test_list_names_and_descriptions_are_cleaned(client: TestClient) -> None:
    token = _signed_in(client)
    made = client.post(
        "/api/lists",
        json={"name": f"Reading {HOSTILE}", "public": True, "description": f"Notes {HOSTILE}\nok"},
        headers={"X-CSRF-Token": token},
    )
    assert made.status_code == 201
    shown = made.json()
    assert shown["name"] == "Reading [31mred[0m bell next evil iso"
    _no_controls(shown["description"])
    assert "\u202e" in shown["description"] and shown["description"].endswith("\nok")
    page = client.get(f"/users/ada/lists/{shown['slug']}").text
    _no_controls(page)
    assert "\u202e" not in page.split("</h1>")[0]  # the name, in the page's heading


def test_imported_titles_and_authors_lose_overrides_and_controls(
    any_settings: Settings, tmp_path: Path
) -> None:
    record = {
        "id": "x1",
        "title": "Safe \u202etitle\u202c here",
        "authors": ["Ada \u202eLovelace", "\x1bBob"],
        "abstract": f"Text {HOSTILE}",
    }
    source = tmp_path / "hostile.jsonl"
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    store = Store.open(any_settings.resolved_database_url)
    try:
        ingest_paths(store, [source], settings=any_settings)
        (stored,) = store.list_papers(limit=10)
        again = ingest_paths(store, [source], settings=any_settings)
    finally:
        store.close()
    assert stored.title == "Safe title here"
    assert stored.authors == ["Ada Lovelace", "Bob"]
    _no_controls(stored.abstract)
    assert again.changed == 0 and again.added == 0  # the same record again changes nothing


def test_a_refused_comment_comes_back_into_its_form_without_control_characters(
    client: TestClient,
) -> None:
    """A comment made of control characters alone is empty once they are stripped: refused
    (400), its text put back into the form for the writer to fix, without them."""
    token = _signed_in(client)
    form = {"body": "\x1f\x1b\x07", "csrf_token": token}
    page = client.post("/papers/2401.00001/comments", data=form, follow_redirects=False)
    assert page.status_code == 400
    assert "The comment is empty." in page.text
    _no_controls(page.text)
    assert "\x1f" not in page.text
