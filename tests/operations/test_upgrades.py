"""An older papertide started on a store that a newer one migrated: every command, and
`serve` too, stops with one line naming the database's revision, the newest this papertide
knows and what to do, instead of Alembic's traceback; the store is left untouched."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import text

from papertide.config import Settings
from papertide.store import Store
from papertide.store.revisions import known_revisions

NEWER = "pictures_from_a_newer_release"


def _papertide(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERTIDE_DATA_DIR": str(settings.data_dir)}
    env.pop("PAPERTIDE_DATABASE_URL", None)
    if settings.database_url:
        env["PAPERTIDE_DATABASE_URL"] = settings.database_url
    return subprocess.run(
        [sys.executable, "-m", "papertide", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_an_older_papertide_refuses_a_store_a_newer_one_migrated_in_one_line(
    any_settings: Settings,
) -> None:
    store = Store.open(any_settings.resolved_database_url)
    with store.engine.begin() as conn:  # what a newer papertide's migration leaves
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": NEWER})
    newest = known_revisions()[-1]
    for command in (["stats"], ["serve", "--port", "0"]):
        result = _papertide(any_settings, *command)
        assert result.returncode == 3, (command, result.stderr[-2000:])
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1, result.stderr
        for words in (NEWER, f"up to '{newest}'", f"papertide db downgrade {newest} --yes"):
            assert words in lines[0], lines[0]
    assert store.schema_revision() == NEWER
    store.close()
