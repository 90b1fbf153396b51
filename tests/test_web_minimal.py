"""The site's first page and paper page, through TestClient on create_app."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.ingest import ingest_paths
from papertide.store import Store
from papertide.web import create_app


def test_index_lists_papers_and_paper_page_shows_listing(
    store: Store, settings: Settings, seeds: list[Path]
) -> None:
    ingest_paths(store, seeds, settings=settings)
    with TestClient(create_app(settings)) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "216 papers" in page.text
        assert "Deep Networks Always Grok and Here is Why" in page.text
        grok = next(p for p in store.list_papers(limit=300) if p.title.startswith("Deep Networks"))
        page = client.get(f"/papers/{grok.id}")
        assert page.status_code == 200
        assert "MInference 1.0" in page.text  # the page it was listed on
        assert client.get("/papers/nope").status_code == 404
        assert client.get("/healthz").json() == {"ok": True, "papers": 216}


def test_imported_text_is_escaped(store: Store, settings: Settings, tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text("Mar 12\n\n<script>alert(1)</script> Title\n\nAbstract & <b>more</b>.\n")
    ingest_paths(store, [page], settings=settings)
    with TestClient(create_app(settings)) as client:
        html = client.get("/").text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Title" in html
    assert "Abstract &amp; &lt;b&gt;more&lt;/b&gt;." in html
