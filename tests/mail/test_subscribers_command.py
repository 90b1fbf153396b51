"""`papertide subscribers add|list|remove` on a real SQLite store, then `digest preview`."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from papertide.cli import app
from papertide.config import Settings

runner = CliRunner()


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--data-dir", str(settings.data_dir), *args])
    return result.exit_code, result.output


def test_add_list_remove_then_preview(settings: Settings, tmp_path: Path) -> None:
    assert _cli(settings, "demo", "--no-votes")[0] == 0
    assert _cli(settings, "subscribers", "remove", "demo@example.org")[0] == 0  # the demo's own
    code, out = _cli(
        settings, "subscribers", "add", "Ada@Example.org", "--queries", "diffusion model",
        "-q", "attention", "--confirmed",
    )  # fmt: skip
    assert (code, out) == (0, "ada@example.org: active, daily, diffusion model; attention\n")
    code, out = _cli(settings, "subscribers", "add", "bob@example.org", "--frequency", "weekly")
    assert (code, out) == (0, "bob@example.org: pending, weekly, no queries\n")

    code, out = _cli(settings, "subscribers", "list")
    assert code == 0
    assert out.splitlines() == [
        "ada@example.org  active  daily, diffusion model; attention",
        "bob@example.org  pending  weekly, no queries",
        "2 subscribers.",
    ]
    code, out = _cli(settings, "subscribers", "list", "--json")
    rows = [orjson.loads(line) for line in out.splitlines()]
    assert [(r["email"], r["status"], r["queries"]) for r in rows] == [
        ("ada@example.org", "active", ["diffusion model", "attention"]),
        ("bob@example.org", "pending", []),
    ]
    assert rows[0]["confirmed"] is not None and rows[1]["confirmed"] is None

    # An existing address is left alone; a pending one can be confirmed.
    code, out = _cli(settings, "subscribers", "add", "ada@example.org", "-q", "other")
    assert code == 1 and "ada@example.org is already a subscriber (active)" in out
    code, out = _cli(settings, "subscribers", "add", "bob@example.org", "--confirmed")
    assert (code, out) == (0, "bob@example.org: active, weekly, no queries\n")

    preview = tmp_path / "ada.html"
    code, out = _cli(settings, "digest", "preview", "ada@example.org", "-o", str(preview))
    assert code == 0, out
    assert out.startswith(f"wrote {preview} (")
    assert "/unsubscribe/" in preview.read_text("utf-8")

    assert _cli(settings, "subscribers", "remove", "bob@example.org") == (
        0,
        "removed bob@example.org\n",
    )
    assert _cli(settings, "subscribers", "list")[1].splitlines()[-1] == "1 subscriber."
    code, out = _cli(settings, "subscribers", "remove", "bob@example.org")
    assert code == 1 and "no subscriber bob@example.org" in out


def test_add_rejects_a_bad_address(settings: Settings) -> None:
    code, out = _cli(settings, "subscribers", "add", "not-an-address")
    assert code == 2 and "not a valid email address: 'not-an-address'" in out
