"""papertide reads the wall clock in one place, papertide.clock, so that ``clock.frozen``
freezes every date the program writes or compares against (durations use time.monotonic
or time.perf_counter, which are not dates and stay where they are)."""

from __future__ import annotations

import ast
from datetime import date, datetime
from pathlib import Path

from papertide.clock import frozen
from papertide.models import Paper
from papertide.sources.http import retry_after_seconds
from papertide.sources.pages import parse_page_date
from papertide.store.rows import paper_to_row

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "papertide"
# Calls that read the wall clock: (module or class name, attribute).
READS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
}


def _reads(tree: ast.AST) -> list[tuple[int, tuple[str, str]]]:
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
        if (name, node.func.attr) in READS:
            found.append((node.lineno, (name, node.func.attr)))
    return found


def test_only_clock_py_reads_the_wall_clock() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "clock.py":
            continue
        for line, call in _reads(ast.parse(path.read_text(encoding="utf-8"))):
            offenders.append(f"{relative}:{line}: {'.'.join(call)}()")
    assert offenders == [], "read the time through papertide.clock instead:\n" + "\n".join(
        offenders
    )


def test_the_scan_sees_each_way_of_reading_the_clock() -> None:
    source = "datetime.now(UTC)\ndt.datetime.utcnow()\ndate.today()\ntime.time()\n"
    assert [line for line, _ in _reads(ast.parse(source))] == [1, 2, 3, 4]
    assert _reads(ast.parse("time.monotonic()\nclock.utcnow()\nutcnow()\n")) == []


def test_frozen_clock_reaches_rows_retry_after_and_page_dates() -> None:
    at = datetime(2026, 11, 23, 12, 0, 0, 250000)
    with frozen(at):
        assert paper_to_row(Paper(id="x", title="T"))["modified"] == at
        assert retry_after_seconds("Mon, 23 Nov 2026 12:00:30 GMT") == 29.75
        assert parse_page_date("Dec 24") == date(2025, 12, 24)
        assert parse_page_date("Nov 23") == date(2026, 11, 23)
