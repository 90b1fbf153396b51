"""Opening a store whose schema is up to date costs one query and never imports Alembic;
only a database at another revision loads the migration machinery (and is migrated)."""

from __future__ import annotations

import json
import subprocess
import sys

from alembic.config import Config
from alembic.script import ScriptDirectory

from papertide.config import Settings
from papertide.store import Store
from papertide.store.revisions import known_revisions

# Opens the store in a fresh interpreter and says how many statements the revision check
# sent, which revision the database is at after it, and whether Alembic was imported.
_PROBE = """
import json, sys
from sqlalchemy import event
from papertide.store import Store

store = Store.open(sys.argv[1], migrate=False)
sent = []
event.listen(store.engine, "before_cursor_execute", lambda *a: sent.append(a[2]))
store.migrate()
statements = list(sent)
revision = store.schema_revision()
print(json.dumps({
    "statements": statements,
    "revision": revision,
    "alembic": sorted(m for m in sys.modules if m == "alembic" or m.startswith("alembic.")),
}))
"""


def _open_in_a_fresh_process(url: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, url], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_an_up_to_date_store_opens_with_one_query_and_without_alembic(
    any_settings: Settings,
) -> None:
    url = any_settings.resolved_database_url
    Store.open(url).close()
    found = _open_in_a_fresh_process(url)
    assert found["revision"] == known_revisions()[-1]
    statements = found["statements"]
    assert isinstance(statements, list) and len(statements) == 1, statements
    assert "alembic_version" in statements[0]
    assert found["alembic"] == []


def test_an_out_of_date_store_is_still_migrated_on_open(any_settings: Settings) -> None:
    url = any_settings.resolved_database_url
    store = Store.open(url)
    older = known_revisions()[-2]
    store.downgrade(older)
    assert store.schema_revision() == older
    store.close()
    found = _open_in_a_fresh_process(url)
    assert found["revision"] == known_revisions()[-1]
    assert found["alembic"] != []  # the migration machinery, loaded only for this


def test_an_empty_database_is_migrated_from_scratch(any_settings: Settings) -> None:
    found = _open_in_a_fresh_process(any_settings.resolved_database_url)
    assert found["revision"] == known_revisions()[-1]


def test_the_revisions_read_from_the_migration_files_are_alembics() -> None:
    cfg = Config()
    cfg.set_main_option("script_location", "papertide.store:migrations")
    walked = [r.revision for r in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions()))]
    assert known_revisions() == walked


def test_a_store_that_looks_while_another_process_creates_the_schema_reads_its_revision(
    any_settings: Settings,
) -> None:
    """Two nodes started together on a new database: the second looks for the revision just
    as the first commits the new schema (missing at its read, there at its second look)."""
    from sqlalchemy import event

    url = any_settings.resolved_database_url
    looking = Store.open(url, migrate=False)
    assert looking.schema_revision() is None  # a new, empty database
    migrated: list[str | None] = []

    def another_process_migrates(context: object) -> None:
        if not migrated:  # the first failed read: the other node's migration commits now
            other = Store.open(url)
            migrated.append(other.schema_revision())
            other.close()

    event.listen(looking.engine, "handle_error", another_process_migrates)
    try:
        assert looking.schema_revision() == known_revisions()[-1]
    finally:
        event.remove(looking.engine, "handle_error", another_process_migrates)
        looking.close()
    assert migrated == [known_revisions()[-1]]
