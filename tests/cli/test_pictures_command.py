"""`papertide pictures fetch|status`: the worker's pictures round by hand, against the
recorded services on a loopback server, and the counts it leaves."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from papertide.bench.pdfs import paper_pdf
from papertide.cli import app
from papertide.config import Settings
from papertide.store import Store
from tests.support.fixture_server import FixtureServer, Reply, Seen
from tests.support.pictures import pdf_reply, recent_paper
from tests.support.search_corpus import add_papers


def test_pictures_fetch_draws_up_to_its_limit_and_status_counts_them(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, [recent_paper(n) for n in range(1, 5)])
    store.close()
    pdf = paper_pdf("Drawn from the command line")

    def handler(seen: Seen) -> Reply:
        if seen.path == "/pdf/2611.00004":
            return Reply(b"<html>rate limited</html>", content_type="text/html")
        return pdf_reply(pdf)

    with FixtureServer() as server:
        server.handler = handler
        env = {
            "PAPERTIDE_PICTURES__ARXIV_PDF_URL": f"{server.url}/pdf",
            "PAPERTIDE_SYNC__REQUEST_INTERVAL": "0",
        }
        runner = CliRunner(env=env)
        base = ["--data-dir", str(settings.data_dir), "pictures"]
        first = runner.invoke(app, [*base, "fetch", "--limit", "2"])
        assert first.exit_code == 0, first.output
        # Newest first: 2611.00004 (refused) and 2611.00003, then the two others.
        assert "pictures: stored 1 " in first.output and "failed 1" in first.output
        rest = runner.invoke(app, [*base, "fetch"])
        assert "pictures: stored 2 " in rest.output and "failed 0" in rest.output
        status = runner.invoke(app, [*base, "status"])
    assert "3 pictures, 1 failed (tried again later), 0 wished for" in status.output
    assert len(server.requests) == 4
