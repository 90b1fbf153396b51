"""The files of a vector folder's HNSW graph beside the graph itself (search/graph.py lists
them): the version ann.json names, the token of the rows' numbering (rows.epoch), and
removing them all."""

from __future__ import annotations

import json
import os
from pathlib import Path


def remove_graph(folder: Path) -> None:
    """Delete every graph file (and those of the layout before versions)."""
    for path in [*folder.glob("ann-*.*"), *folder.glob("ann.*"), folder / "center.f32"]:
        path.unlink(missing_ok=True)


def current_version(folder: Path) -> int:
    """The version ann.json names (0 when there is none)."""
    try:
        return int(json.loads((folder / "ann.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return 0


def rows_token(folder: Path) -> str:
    """The token of the rows as they are numbered now (see new_rows_epoch)."""
    try:
        return (folder / "rows.epoch").read_text()
    except OSError:
        return ""


def new_rows_epoch(folder: Path) -> None:
    """Before the rows are rewritten: a new token, so no graph of the old rows is used."""
    temporary = folder / "rows.epoch.tmp"
    temporary.write_text(os.urandom(8).hex())
    temporary.replace(folder / "rows.epoch")
