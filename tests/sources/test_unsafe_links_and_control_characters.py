"""Unsafe text in records, through the real importers, store, site and `show`: links that are
not http(s) are refused at import and checked again when shown; control characters are
stripped at import and never reach a page or the terminal."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from papertide.cli import app
from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import Paper
from papertide.store import Store
from papertide.web import create_app
from tests.conftest import serving

runner = CliRunner()
HOSTILE_LINKS = {
    "url": "javascript:alert(1)",
    "pdf_url": "data:text/html,<script>alert(1)</script>",
    "github": "JavaScript:alert(document.cookie)",
    "projectPage": "vbscript:msgbox(1)",
}


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--data-dir", str(settings.data_dir), *args])
    return result.exit_code, result.output


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The site over a fresh SQLite store, once its search index is ready."""
    with serving(create_app(settings)) as opened:
        yield opened


def _store(client: TestClient) -> Store:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    return store


def _add(store: Store, **fields: object) -> Paper:
    now = utcnow()
    paper = Paper(id="p1", first_seen=now, published=now, listed_on=now.date(), **fields)  # type: ignore[arg-type]
    with store.write() as ws:
        ws.insert_papers([paper])
    return paper


def test_import_refuses_links_that_are_not_http_naming_file_line_and_field(
    settings: Settings, tmp_path: Path
) -> None:
    data = tmp_path / "links.jsonl"
    lines = [{"_id": "ok", "title": "Fine", "text": "a", "url": "https://example.org/ok"}]
    lines += [
        {"_id": key, "title": f"Bad {key}", "text": "a", key: value}
        for key, value in HOSTILE_LINKS.items()
    ]
    data.write_text("\n".join(orjson.dumps(line).decode() for line in lines) + "\n")
    code, out = _cli(settings, "ingest", str(data))
    assert code == 0, out
    for line, (field, value) in enumerate(
        zip(("url_abs", "url_pdf", "url_code", "url_project"), HOSTILE_LINKS.values(), strict=True),
        start=2,
    ):
        assert f"{data}:{line}: field {field!r}: {value!r} is not an http(s) URL" in out
    assert "1 added" in out


def test_links_already_stored_are_checked_again_when_shown(client: TestClient) -> None:
    """A record stored before the import check (or by another writer) renders no bad link."""
    _add(
        _store(client),
        title="Hostile links",
        url_abs=HOSTILE_LINKS["url"],
        url_pdf=HOSTILE_LINKS["pdf_url"],
        url_code=HOSTILE_LINKS["github"],
        url_project=HOSTILE_LINKS["projectPage"],
    )
    for path in ("/papers/p1", "/", "/feeds/daily.atom"):
        body = client.get(path).text
        assert "Hostile links" in body, path
        assert "script:" not in body.lower() and "data:text" not in body, path
    api = client.get("/api/papers/p1").json()
    assert api["links"] == {"abstract": None, "pdf": None, "code": None, "project": None}


def test_control_characters_are_stripped_at_import(settings: Settings, tmp_path: Path) -> None:
    """NUL, BEL and ESC from records reach no page, digest or terminal (they once did)."""
    data = tmp_path / "controls.jsonl"
    record = {
        "_id": "c1",
        "title": "Red\x1b[31m alert\x07 \x00here",
        "text": "An abstract\x1b]0;owned\x07 with\x9b escapes.",
        "authors": ["Ada\x1b[2J Lovelace"],
    }
    data.write_text(orjson.dumps(record).decode() + "\n")
    code, out = _cli(settings, "ingest", str(data))
    assert code == 0 and "1 added" in out, out
    store = Store.open(settings.resolved_database_url)
    try:
        [paper] = store.list_papers()
    finally:
        store.close()
    assert paper.title == "Red[31m alert here"
    assert paper.abstract == "An abstract]0;owned with escapes."
    assert paper.authors == ["Ada[2J Lovelace"]
    code, shown = _cli(settings, "show", paper.id or "")
    assert code == 0 and "Red[31m alert here" in shown
    with TestClient(create_app(settings)) as client:
        page = client.get(f"/papers/{paper.id}").text
    assert not any(c in page for c in "\x1b\x07\x00\x9b")


def test_show_prints_no_control_characters_stored_before(settings: Settings) -> None:
    """Records stored by an earlier version keep theirs: the terminal still gets none."""
    store = Store.open(settings.resolved_database_url)
    try:
        _add(store, title="Title \x1b[31mred", abstract="text \x1b]8;;x\x07", authors=["A\x00B"])
    finally:
        store.close()
    code, shown = _cli(settings, "show", "p1")
    assert code == 0, shown
    assert "Title [31mred" in shown
    assert not any(c in shown for c in "\x1b\x07\x00")
