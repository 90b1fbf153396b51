"""Every command's --help reads like a Unix tool's: metavars, no type tags, examples last."""

from __future__ import annotations

import itertools
import re

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from papertide.cli import app

runner = CliRunner()
WIDTH = 78  # click wraps help at min(terminal, 80) - 2 columns; COLUMNS=80 below

# What Typer prints unless told otherwise: <bool>, <list[Path]>, <%Y-%m-%d>, <int range>,
# braces round required arguments, "x>=1", click's TEXT/INTEGER/PATH type names.
TAGS = re.compile(
    r"<[a-z%][^>]*>|\{[a-z_]+\}|\bx[<>]=|\b(TEXT|INTEGER|PATH|BOOLEAN|FLOAT|RANGE|DATETIME)\b|%Y"
)


def _paths(command, prefix=()):
    for name, child in sorted(getattr(command, "commands", {}).items()):
        yield (*prefix, name), child
        yield from _paths(child, (*prefix, name))


COMMANDS = list(_paths(get_command(app)))
LEAVES = [path for path, cmd in COMMANDS if not getattr(cmd, "commands", None)]


def _help(*path: str) -> str:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("path", [(), *(p for p, _ in COMMANDS)], ids=" ".join)
def test_no_type_tags_and_no_source_files(path: tuple[str, ...]) -> None:
    text = _help(*path)
    assert not TAGS.search(text), TAGS.search(text)
    assert not re.search(r"\b[\w/]+\.py\b", text)  # the reader is not sent to the source


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_examples_come_last_one_a_line(path: tuple[str, ...]) -> None:
    text = _help(*path)
    options = text.index("\nOptions:")
    found = re.search(r"\n  Examples?:\n((?:    .+\n?)+)$", text)
    assert found and found.start() > options, text
    for line in found.group(1).splitlines():
        assert line.startswith("    papertide ") or "papertide " in line, line


@pytest.mark.parametrize("path", [(), *(p for p, _ in COMMANDS)], ids=" ".join)
def test_description_paragraphs_are_wrapped_whole(path: tuple[str, ...]) -> None:
    """No ragged lines: a wrapped line is never followed by a word that would have fit."""
    text = _help(*path)
    head = text.split("\nOptions:")[0].split("\nArguments:")[0].split("\nCommands:")[0]
    lines = head.splitlines()
    for line, after in itertools.pairwise(lines):
        if not (line.startswith("  ") and after.startswith("  ") and after.strip()):
            continue
        if line.startswith("   ") or after.startswith("   "):
            continue  # an indented block kept as written (\b), not a wrapped paragraph
        word = after.split()[0]
        assert len(line) + 1 + len(word) > WIDTH, f"ragged: {line!r} / {after!r}"


def test_flags_and_metavars() -> None:
    assert "--votes / --no-votes  Cast the sample votes." in _help("demo")
    assert "FILE...  Files to import" in _help("ingest")
    assert "Usage: root ingest [OPTIONS] [FILE...]" in _help("ingest").replace("papertide", "root")
    listing = _help("list")
    assert "--date DATE" in listing and "-n, --limit N" in listing
    assert "Usage: root show [OPTIONS] ID" in _help("show").replace("papertide", "root")


def test_quick_start_is_the_readmes() -> None:
    text = _help()
    assert "    papertide demo\n    papertide serve\n" in text
    assert "--samples" not in text


def test_help_names_the_modes_sorts_and_formats_the_code_has() -> None:
    from papertide.search.service import MODES, SORTS
    from papertide.sources.files import FORMATS

    search = " ".join(_help("search").split())
    assert f"One of: {', '.join(MODES)}." in search
    assert f"One of: {', '.join(SORTS)}." in search
    assert f"auto, or one of: {', '.join(FORMATS)}." in " ".join(_help("ingest").split())
