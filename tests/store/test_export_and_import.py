"""The portable export: a site moves from SQLite to PostgreSQL and back with every row of
every table it holds (papers, accounts with their password hashes, sessions, votes, comments,
lists, subscribers and their digests, embeddings, secrets...), keys and all, so mailed links
and signed-in browsers keep working; new rows after the move get fresh keys; the derived
tables are rebuilt, not carried; an import into a store that holds anything is refused, and
a damaged, unfinished or other-revision export is named, the target left as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from papertide.cli import app
from papertide.config import Settings
from papertide.mail.tokens import make_token, read_token
from papertide.models import Paper
from papertide.store import Store
from papertide.store.export import DERIVED, ExportError, exported_tables, read_manifest
from papertide.store.schema import metadata
from tests.support.full_store import NOW, SESSION_TOKEN, fill_every_table, table_rows
from tests.support.search_corpus import CORPUS, add_papers

runner = CliRunner()
# What a site's people made: a move that lost any of these would lose their work.
PEOPLE_TABLES = {
    "users",
    "sessions",
    "votes",
    "submissions",
    "comments",
    "lists",
    "list_items",
    "dismissals",
    "subscribers",
    "digests",
    "digest_papers",
    "site_secrets",
    "paper_embeddings",
}


def _cli(settings: Settings, *args: str) -> str:
    url = ["--database-url", settings.database_url] if settings.database_url else []
    result = runner.invoke(app, ["--data-dir", str(settings.data_dir), *url, *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_every_declared_table_is_exported_or_listed_as_derived(
    store: Store, tmp_path: Path
) -> None:
    assert set(DERIVED) <= set(metadata.tables)  # no stale names
    store.export_site(tmp_path / "export")
    manifest = read_manifest(tmp_path / "export")
    assert set(manifest["tables"]).isdisjoint(manifest["derived"])
    assert set(manifest["tables"]) | set(manifest["derived"]) == set(metadata.tables)
    for name in manifest["tables"]:
        assert (tmp_path / "export" / f"{name}.jsonl").is_file()


@pytest.mark.postgres
def test_a_site_moves_from_sqlite_to_postgresql_and_back_whole(
    settings: Settings, pg_url: str, tmp_path: Path
) -> None:
    from papertide.search import SearchService

    source = Store.open(settings.resolved_database_url)
    made = fill_every_table(source, settings)
    SearchService.open(settings, source).close()  # real embeddings, stored in the database
    before = table_rows(source, skip=set(DERIVED))
    assert all(before[name] for name in PEOPLE_TABLES), [n for n in PEOPLE_TABLES if not before[n]]
    source.close()

    on_pg = Settings(data_dir=tmp_path / "pg-node", database_url=pg_url)
    _cli(settings, "export", str(tmp_path / "from-sqlite"))
    out = _cli(on_pg, "import-site", str(tmp_path / "from-sqlite"))
    assert f"papers {len(CORPUS)}" in out and "papertide reindex" in out
    pg = Store.open(pg_url)
    assert table_rows(pg, skip=set(DERIVED)) == before
    pg.close()

    back = Settings(data_dir=tmp_path / "back")
    _cli(on_pg, "export", str(tmp_path / "from-pg"))
    _cli(back, "import-site", str(tmp_path / "from-pg"))
    again = Store.open(back.resolved_database_url)
    assert table_rows(again, skip=set(DERIVED)) == before
    again.close()

    pg = Store.open(pg_url)
    try:
        _people_meet_the_same_site(pg, made)
        _new_rows_get_fresh_keys(pg, on_pg, made)
        _derived_tables_are_rebuilt(pg, on_pg)
    finally:
        pg.close()


def _people_meet_the_same_site(store: Store, made: dict[str, Any]) -> None:
    ada = store.user_for_session(SESSION_TOKEN, now=NOW)  # still signed in
    assert ada is not None and ada.username == "ada"
    found = store.user_with_hash("ada")
    assert found is not None and found[1] == "h$ada"
    secret, pk = made["secret"], made["subscriber_pk"]
    token = make_token(secret, "unsubscribe", subscriber_pk=pk, email="reader@example.org")
    from papertide.store.secrets import site_secret

    assert read_token(site_secret(store, "signing"), "unsubscribe", token) == (
        pk,
        "reader@example.org",
    )


def _new_rows_get_fresh_keys(store: Store, settings: Settings, made: dict[str, Any]) -> None:
    newest = max(p.pk or 0 for p in store.list_papers(limit=100))
    add_papers(store, settings, [Paper(title="After the move", arxiv_id="2402.00001")])
    moved = store.get_paper("2402.00001")
    assert moved is not None and (moved.pk or 0) > newest
    user = store.create_user(username="carol", email=None, password_hash="h", now=NOW)
    assert user.pk > 2
    listed = store.create_list(user_pk=made["ada"].pk, name="Second", public=False, now=NOW)
    assert listed.pk > made["list"].pk
    comment = store.add_comment(paper_pk=moved.pk or 0, user=user, body="New", now=NOW)
    assert comment.pk > 2


def _derived_tables_are_rebuilt(store: Store, settings: Settings) -> None:
    """The change feed holds every imported paper, so a new node's index takes them in,
    reusing the carried embeddings; similar lists are recomputed, not carried."""
    from papertide.search import SearchService

    assert store.similar_list(1) is None
    embedded = store.count_embeddings(model=settings.search.embedder)
    assert embedded == len(CORPUS)
    svc = SearchService.open(settings, store)
    try:
        hits = svc.search("sparse attention long context", mode="bm25").hits
        first = store.get_paper(hits[0].paper_id) if hits else None
        assert first is not None and first.title.startswith("Sparse attention")
    finally:
        svc.close()
    assert store.count_embeddings(model=settings.search.embedder) == store.count_papers()


def test_an_import_into_a_store_that_holds_anything_is_refused(
    any_settings: Settings, tmp_path: Path
) -> None:
    source = Store.open(f"sqlite:///{tmp_path / 'source.db'}")
    fill_every_table(source, any_settings)
    source.export_site(tmp_path / "export")
    source.close()
    target = Store.open(any_settings.resolved_database_url)
    try:
        target.create_user(username="zed", email=None, password_hash="x", now=NOW)
        rows = table_rows(target)
        with pytest.raises(ExportError, match=r"not empty \(users: 1\)"):
            target.import_site(tmp_path / "export")
        assert table_rows(target) == rows
    finally:
        target.close()


def test_a_damaged_unfinished_or_other_revision_export_is_named_and_loads_nothing(
    any_store: Store, tmp_path: Path, settings: Settings
) -> None:
    source = Store.open(f"sqlite:///{tmp_path / 'source.db'}")
    add_papers(source, settings, CORPUS)
    source.export_site(tmp_path / "export")
    source.close()
    with pytest.raises(ExportError, match="no such folder"):
        any_store.import_site(tmp_path / "nothing-here")
    manifest_path = tmp_path / "export" / "manifest.json"
    manifest = orjson.loads(manifest_path.read_bytes())

    papers = tmp_path / "export" / "papers.jsonl"
    whole = papers.read_bytes()
    papers.write_bytes(b"".join(whole.splitlines(keepends=True)[:-1]))  # a line lost
    with pytest.raises(ExportError, match=r"papers\.jsonl holds 5 rows, the manifest says 6"):
        any_store.import_site(tmp_path / "export")
    papers.write_bytes(whole + b"{not json\n")
    with pytest.raises(ExportError, match=r"papers\.jsonl line 7"):
        any_store.import_site(tmp_path / "export")
    papers.write_bytes(whole)

    manifest_path.write_bytes(orjson.dumps({**manifest, "revision": "from_a_newer_release"}))
    with pytest.raises(ExportError, match="revision from_a_newer_release"):
        any_store.import_site(tmp_path / "export")
    manifest_path.unlink()  # what an export killed before its end leaves
    with pytest.raises(ExportError, match=r"no manifest\.json"):
        any_store.import_site(tmp_path / "export")
    assert any_store.count_papers() == 0

    manifest_path.write_bytes(orjson.dumps(manifest))
    counts = any_store.import_site(tmp_path / "export")
    assert counts["papers"] == len(CORPUS) == any_store.count_papers()
    assert {t.name for t in exported_tables()} == set(counts)


def test_an_export_is_one_moment_and_replaces_a_folder_only_when_asked(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    add_papers(store, settings, CORPUS[:2])
    target = tmp_path / "export"
    store.export_site(target)
    add_papers(store, settings, CORPUS[2:])
    with pytest.raises(ExportError, match="already exists"):
        store.export_site(target)
    assert read_manifest(target)["tables"]["papers"]["rows"] == 2
    store.export_site(target, force=True)
    assert read_manifest(target)["tables"]["papers"]["rows"] == len(CORPUS)
    assert target.stat().st_mode & 0o077 == 0  # password hashes and secrets: private
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "export"]  # no leftovers
