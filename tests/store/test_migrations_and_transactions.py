"""The store itself: migrations, SQLite settings, transactions."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, text

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.ingest import ingest_paths
from papertide.store import Store
from papertide.store.schema import metadata, papers
from papertide.store.writer import writing


def test_migrations_build_exactly_the_declared_schema(any_store: Store) -> None:
    with any_store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def _migrations() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", "papertide.store:migrations")
    return ScriptDirectory.from_config(cfg)


def test_migration_history_has_one_head() -> None:
    assert len(_migrations().get_heads()) == 1


def test_migration_files_sorted_by_name_run_from_base_to_head() -> None:
    scripts = _migrations()
    chain = [Path(s.path).name for s in reversed(list(scripts.walk_revisions()))]
    files = sorted(p.name for p in Path(scripts.versions).glob("*.py") if p.name[0] != "_")
    assert files == chain


def test_opening_twice_is_a_no_op_migration(settings: Settings) -> None:
    Store.open(settings.resolved_database_url).close()
    store = Store.open(settings.resolved_database_url)
    with store.engine.connect() as conn:
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == _migrations().get_current_head()
    store.close()


def test_sqlite_uses_wal_and_foreign_keys(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_readers_see_nothing_of_an_open_import(store: Store, settings: Settings, seeds: list[Path]):
    reader = Store.open(settings.resolved_database_url, migrate=False)
    with store.write() as session:
        from papertide.ingest import import_items
        from papertide.sources.files import numbered_lines
        from papertide.sources.pages import parse_page

        items = parse_page(numbered_lines(seeds[0]), str(seeds[0]))
        import_items(session, items, settings=settings)
        assert reader.count_papers() == 0  # another connection: not committed yet
    assert reader.count_papers() == 85
    reader.close()


def test_iter_modified_pages_through_everything_once(store: Store, settings: Settings, seeds):
    ingest_paths(store, seeds, settings=settings)
    batches = list(store.iter_modified(batch=50))
    ids = [paper.id for batch in batches for _, paper in batch]
    assert len(batches) == 5
    assert len(ids) == len(set(ids)) == 216
    last = batches[-1][-1][0]
    assert list(store.iter_modified(last)) == []


def test_the_data_folder_and_database_files_are_private(tmp_path: Path) -> None:
    """papertide.db holds emails and password hashes: never created 0644 (world-readable)."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        settings = Settings(data_dir=tmp_path / "fresh" / "data")
        store = Store.open(settings.resolved_database_url)
        store.create_user(username="ada", email="a@b.org", password_hash="x", now=utcnow())
        data = settings.data_dir
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        files = sorted(data.glob("papertide.db*"))
        assert [f.name for f in files] == ["papertide.db", "papertide.db-shm", "papertide.db-wal"]
        for file in files:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
        store.close()
        # A database made by an earlier version is tightened when it is opened.
        (data / "papertide.db").chmod(0o644)
        Store.open(settings.resolved_database_url).close()
        assert stat.S_IMODE((data / "papertide.db").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_a_big_import_on_postgresql_keeps_its_lookups_on_indexes(pg_url: str) -> None:
    """Inside one import transaction PostgreSQL's statistics are refreshed as the table
    fills, so the dedupe look-up (keys IN (...) OR ...) runs on the indexes instead of a
    sequential scan of every row inserted so far (found at 1M papers: 17 s a batch)."""
    from papertide.models import Paper
    from papertide.store import writer

    store = Store.open(pg_url)
    batch, batches = 1_000, 12
    try:
        with store.write() as session:
            for b in range(batches):
                session.insert_papers(
                    [
                        Paper(
                            id=f"2401.{n:05d}",
                            title=f"Paper number {n} on topic {n % 97}",
                            arxiv_id=f"2401.{n:05d}",
                            authors=[f"Author {n % 50}"],
                            first_seen=utcnow(),
                        )
                        for n in range(b * batch, (b + 1) * batch)
                    ]
                )
            assert session._analyze_at > writer._FIRST_ANALYZE  # refreshed at least once
            # A batch's keys (20 here, as the table is small); title_key is not unique, so
            # without statistics each key is guessed to match 0.5% of the rows.
            sample = range(0, 12_000, 600)
            ids = ", ".join(f"'2401.{n:05d}'" for n in sample)
            titles = ", ".join(f"'paper number {n} on topic {n % 97}'" for n in sample)
            plan = "\n".join(
                session.conn.exec_driver_sql(
                    f"EXPLAIN SELECT pk FROM papers WHERE arxiv_id IN ({ids}) "
                    f"OR doi IN ('x') OR title_key IN ({titles})"
                ).scalars()
            )
            assert "Seq Scan" not in plan and "Index" in plan, plan
            found = session.find_candidates(
                arxiv_ids=["2401.00007", "2401.11999"], dois=[], external=[], title_keys=[]
            )
            assert sorted(p.arxiv_id or "" for p in found) == ["2401.00007", "2401.11999"]
    finally:
        store.close()


def test_a_similar_list_from_a_staler_index_never_replaces_a_fresher_one(
    any_store: Store, any_settings: Settings, seeds: list[Path]
) -> None:
    """A list carries the feed position of the index that ranked it: a node behind on the
    feed saving the same paper's list later keeps the fresher one; a list of another model,
    or one saved by hand (no position), replaces it; a deleted paper keeps nothing."""
    ingest_paths(any_store, seeds[:1], settings=any_settings)
    pk, other = [p.pk or 0 for p in any_store.list_papers(limit=2)]
    now = utcnow()

    def save(items: list, model: str = "m1", position: int | None = None) -> bool:
        return any_store.save_similar(pk, model=model, items=items, now=now, position=position)

    assert save([(other, 0.9, ["a"])], position=10)
    assert not save([(other, 0.1, ["staler"])], position=9)
    kept = any_store.similar_list(pk)
    assert kept is not None and kept.items == [(other, 0.9, ["a"])] and kept.position == 10
    assert save([(other, 0.8, ["same"])], position=10)  # equally fresh: the later one
    assert save([(other, 0.7, ["fresher"])], position=11)
    assert save([(other, 0.6, ["other model"])], model="m2", position=3)
    assert save([(other, 0.5, ["by hand"])], model="m2")
    assert save([(other, 0.4, ["old"])], model="m2", position=1)  # over a hand-saved list
    kept = any_store.similar_list(pk)
    assert kept is not None and kept.items == [(other, 0.4, ["old"])] and kept.model == "m2"
    assert any_store.similar_list(other) is None
    with writing(any_store.engine) as conn:
        conn.execute(delete(papers).where(papers.c.pk == pk))
    assert not save([(other, 0.3, ["gone"])], position=20)
    assert any_store.similar_list(pk) is None


def test_every_paper_reader_returns_the_papers_external_ids(
    any_store: Store, any_settings: Settings, tmp_path: Path
) -> None:
    """External ids come with each paper's row (one query): a paper with two namespaces,
    one with one and one with none read back the same through every reader."""
    corpus = tmp_path / "scifact-dev" / "corpus.jsonl"
    corpus.parent.mkdir()
    corpus.write_text(
        '{"_id": "d1", "title": "Alpha trials", "text": "Alpha."}\n'
        '{"_id": "d2", "title": "Beta trials", "text": "Beta."}\n'
    )
    ingest_paths(any_store, [corpus], settings=any_settings)
    other = tmp_path / "nfcorpus" / "corpus.jsonl"
    other.parent.mkdir()
    other.write_text('{"_id": "n1", "title": "Alpha trials", "text": "Alpha."}\n')
    ingest_paths(any_store, [other], settings=any_settings)  # merged into Alpha
    snapshot = tmp_path / "one.jsonl"
    snapshot.write_text('{"title": "Gamma trials", "abstract": "Gamma.", "authors": ["A. B"]}\n')
    ingest_paths(any_store, [snapshot], settings=any_settings)
    want = {
        "Alpha trials": {"scifact-dev": "d1", "nfcorpus": "n1"},
        "Beta trials": {"scifact-dev": "d2"},
        "Gamma trials": {},
    }
    listed = any_store.list_papers(limit=10)
    assert {p.title: p.external_ids for p in listed} == want
    pks = [p.pk or 0 for p in listed]
    ids = [p.id or "" for p in listed]
    readers = {
        "papers_by_pk": any_store.papers_by_pk(pks),
        "papers_by_id": any_store.papers_by_id(ids),
        "get_paper": [any_store.get_paper(i) for i in ids],
        "iter_papers": [p for batch in any_store.iter_papers(batch=2) for p in batch],
        "iter_modified": [p for batch in any_store.iter_modified(batch=2) for _, p in batch],
    }
    for name, found in readers.items():
        assert {p.title: p.external_ids for p in found if p} == want, name
    with any_store.write() as ws:
        assert {p.title: p.external_ids for p in ws.load(pks)} == want
