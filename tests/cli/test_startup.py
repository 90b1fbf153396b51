"""`papertide --help`, `--version` and every command's `--help` load only the CLI itself;
`papertide stats` on a SQLite store loads the store and no more.

Checked in a fresh interpreter through sys.modules (not by timing, which a loaded machine
makes flaky); `papertide bench cli` measures the times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from papertide.cli import app
from papertide.config import Settings
from papertide.store import Store

# What a command runs, never what registering it needs: the store (SQLAlchemy, Alembic),
# the web app, the search indexes, the mail code, the benchmarks, rich and pydantic.
HEAVY = (
    "alembic", "fastapi", "starlette", "uvicorn", "jinja2", "numpy", "tantivy", "usearch",
    "sqlalchemy", "pydantic", "pydantic_settings", "rich", "orjson", "httpx",
    "papertide.config", "papertide.store", "papertide.web", "papertide.search",
    "papertide.mail", "papertide.sync", "papertide.sources", "papertide.ingest",
    "papertide.bench",
)  # fmt: skip

_PROBE = """
import contextlib, io, json, sys
from typer.main import get_command
from papertide.cli import app

def paths(command, prefix=()):
    for name, child in sorted(getattr(command, "commands", {}).items()):
        yield [*prefix, name]
        yield from paths(child, (*prefix, name))

runs = [["--help"], ["--version"]] + [[*p, "--help"] for p in paths(get_command(app))]
for argv in runs:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            app(argv, prog_name="papertide")
        except SystemExit as exc:
            assert exc.code == 0, (argv, exc.code)
    assert out.getvalue().strip(), argv
heavy = json.loads(sys.argv[1])
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
print(json.dumps({"runs": len(runs), "loaded": loaded}))
"""


def _probe(code: str, *args: str) -> dict[str, Any]:
    """What ``code`` prints as JSON, run in a fresh interpreter without PAPERTIDE_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTIDE_")}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_help_and_version_load_no_heavy_module() -> None:
    found = _probe(_PROBE, json.dumps(HEAVY))
    assert found["runs"] > 20  # every command and group was asked for its help
    assert found["loaded"] == []


# What `stats` on a SQLite store never needs: the PostgreSQL dialect and driver, the migration
# machinery (the store is at head), the web stack, the search indexes and models, the network.
NOT_FOR_STATS = (
    "sqlalchemy.dialects.postgresql", "psycopg", "alembic", "fastapi", "starlette", "uvicorn",
    "jinja2", "numpy", "tantivy", "usearch", "wordllama", "httpx", "papertide.web",
    "papertide.indexing", "papertide.search.service", "papertide.bench",
)  # fmt: skip

_STATS_PROBE = """
import contextlib, io, json, sys
from papertide.cli import app

with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        app(["--data-dir", sys.argv[2], "stats", "--json"], prog_name="papertide")
    except SystemExit as exc:
        assert exc.code == 0, exc.code
unwanted = json.loads(sys.argv[1])
loaded = sorted(m for m in sys.modules if any(m == u or m.startswith(u + ".") for u in unwanted))
print(json.dumps({"stats": json.loads(out.getvalue()), "loaded": loaded}))
"""


def test_stats_on_a_sqlite_store_loads_no_postgresql_alembic_web_or_search(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    Store.open(Settings(data_dir=data).resolved_database_url).close()  # migrated to head
    found = _probe(_STATS_PROBE, json.dumps(NOT_FOR_STATS), str(data))
    assert found["stats"]["papers"] == 0  # stats ran on that store
    assert found["loaded"] == []


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert (result.exit_code, result.output) == (0, "papertide 0.1.0\n")


def test_a_missing_config_file_fails_when_a_command_runs(tmp_path) -> None:
    missing = tmp_path / "nope.toml"
    result = CliRunner().invoke(app, ["--config", str(missing), "stats"])
    assert result.exit_code == 2
    assert f"config file {missing} does not exist" in result.output
