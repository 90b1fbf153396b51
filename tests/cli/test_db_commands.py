"""`papertide db`: the schema's revision as an operator sees it (status, and check for
scripts), upgrading it, and taking it back down for an older papertide, on SQLite and
PostgreSQL; a list and its papers survive a downgrade past the migration that renamed their
tables, and the upgrade after it."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from papertide.cli import app
from papertide.config import Settings
from papertide.store import Store
from papertide.store.revisions import known_revisions
from tests.support.search_corpus import add_papers, paper

runner = CliRunner()
NOW = datetime(2026, 1, 1)


@pytest.fixture
def settings(any_settings: Settings) -> Settings:
    return any_settings


def _db(settings: Settings, *args: str) -> tuple[int, str]:
    url = ["--database-url", settings.database_url] if settings.database_url else []
    result = runner.invoke(app, ["--data-dir", str(settings.data_dir), *url, "db", *args])
    return result.exit_code, result.output


def test_status_check_upgrade_and_downgrade_keep_a_list(settings: Settings) -> None:
    newest = known_revisions()[-1]
    assert "revision: empty: no papertide tables yet" in _db(settings, "status")[1]
    assert _db(settings, "check")[0] == 1
    assert _db(settings, "upgrade") == (0, f"upgraded from empty to {newest}\n")
    assert _db(settings, "check") == (0, f"schema {newest}, the newest this papertide knows\n")
    store = Store.open(settings.resolved_database_url)
    add_papers(store, settings, [paper(1, "Sparse attention", "A.", "Ada", "cs.CL", "2024-01-02")])
    user = store.create_user(
        username="ada", email=None, password_hash="x", now=datetime(2026, 1, 1)
    )
    made = store.create_list(user_pk=user.pk, name="Reading", public=True, now=datetime(2026, 1, 1))
    (found,) = store.list_papers(limit=1)
    store.set_saved(list_pk=made.pk, paper_pk=found.pk or 0, saved=True, now=NOW)
    store.close()

    code, out = _db(settings, "downgrade", "social")
    assert code == 2 and "add --yes" in out  # nothing dropped unasked
    assert _db(settings, "downgrade", "social", "--yes") == (
        0,
        f"downgraded from {newest} to social\n",
    )
    code, out = _db(settings, "status")
    behind = len(known_revisions()) - known_revisions().index("social") - 1
    assert f"social, {behind} behind the newest" in out
    assert _db(settings, "check")[0] == 1
    assert _db(settings, "upgrade") == (0, f"upgraded from social to {newest}\n")
    store = Store.open(settings.resolved_database_url)
    try:
        back = store.get_list(user.pk, made.slug)
        assert back is not None and back.name == "Reading" and back.size == 1
        assert store.list_paper_pks(made.pk) == [found.pk]
        again = store.create_list(
            user_pk=user.pk, name="Second", public=False, now=datetime(2026, 1, 3)
        )
        assert again.pk > made.pk  # keys go on after the copied ones (PostgreSQL's sequence)
    finally:
        store.close()


def test_a_database_a_newer_papertide_migrated_is_named_and_not_touched(settings: Settings) -> None:
    _db(settings, "upgrade")
    store = Store.open(settings.resolved_database_url)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'from_a_newer_release'"))
    store.close()
    code, out = _db(settings, "status")
    assert code == 0 and "from_a_newer_release, which a newer papertide made" in out
    code, out = _db(settings, "upgrade")
    assert code == 3 and "newer papertide" in out
    code, out = _db(settings, "downgrade", "nope", "--yes")
    assert code == 2 and "no revision 'nope'" in out
