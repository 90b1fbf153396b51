"""The README is a front door and the docs hold together: the README stays short with no
overlong lines, every relative link in the README and docs/ reaches a file that exists and
an anchor that one of its headings makes, and no code, test or document cites a tracker
number (a rule says what it protects, not which ticket asked for it)."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCUMENTS = sorted([README, ROOT / "tests" / "README.md", *(ROOT / "docs").glob("*.md")])
# Rendered from the demo by a script of their own; checked once the folder is there.
RENDERED = ROOT / "docs" / "screenshots"

FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)
TRACKER = re.compile(r"\b(?:issues?|tickets?)[ _-]?(?:no\.? ?)?#?\d+\b", re.I)
SCANNED = ("src", "tests", "docs", "scripts")
TEXT_SUFFIXES = {".py", ".md", ".sh", ".toml", ".html", ".txt", ".cfg", ".ini", ".yml", ".yaml"}
VENDORED = ROOT / "src" / "papertide" / "web" / "static"


def prose(text: str) -> str:
    """A document without its code: links and headings inside code are not links."""
    return FENCE.sub("", text)


def anchor(heading: str) -> str:
    """The anchor GitHub makes of a heading: lower case, code marks and punctuation dropped,
    spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(document: Path) -> set[str]:
    """Every anchor a Markdown file's headings make (a repeated one gets -1, -2...)."""
    found: set[str] = set()
    for heading in HEADING.findall(prose(document.read_text(encoding="utf-8"))):
        base = anchor(heading)
        name, n = base, 0
        while name in found:
            n += 1
            name = f"{base}-{n}"
        found.add(name)
    return found


def broken_links(document: Path, root: Path = ROOT) -> list[str]:
    """The relative links of a document whose file or anchor does not exist."""
    broken = []
    text = INLINE_CODE.sub("", prose(document.read_text(encoding="utf-8")))
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_part, _, fragment = target.partition("#")
        path = (document.parent / path_part).resolve() if path_part else document
        if path.is_relative_to(RENDERED) and not RENDERED.exists():
            continue
        if not path.exists():
            broken.append(f"{document.relative_to(root)}: {target}: no such file")
        elif fragment and path.suffix == ".md" and fragment not in anchors(path):
            broken.append(f"{document.relative_to(root)}: {target}: no such heading")
    return broken


def test_the_readme_is_a_short_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 350, f"README.md has {len(lines)} lines: move reference to docs/"
    long = [n for n, line in enumerate(lines, 1) if len(line) > 400]
    assert not long, f"README.md lines over 400 characters: {long}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file_and_a_heading(document: Path) -> None:
    assert broken_links(document) == []


def test_the_link_check_finds_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\n## Two words\n\n[b](b.md) [c](c.md#nowhere)\n")
    (tmp_path / "c.md").write_text("# C: `code` and (more)\n")
    ok = tmp_path / "ok.md"
    ok.write_text("[a](a.md#two-words) [c](c.md#c-code-and-more) [w](https://x.org/#y)\n")
    assert broken_links(ok, tmp_path) == []
    assert broken_links(tmp_path / "a.md", tmp_path) == [
        "a.md: b.md: no such file",
        "a.md: c.md#nowhere: no such heading",
    ]


def scanned_files() -> list[Path]:
    """The project's own text: code, tests, docs, scripts and the files at the top."""
    files = [README, ROOT / "Makefile", ROOT / "pyproject.toml"]
    for folder in SCANNED:
        for path in (ROOT / folder).rglob("*"):
            if (
                path.is_file()
                and path.suffix in TEXT_SUFFIXES
                and not path.is_relative_to(VENDORED)
                and "__pycache__" not in path.parts
            ):
                files.append(path)
    return files


def test_no_code_test_or_document_cites_a_tracker_number() -> None:
    cited = []
    for path in scanned_files():
        name = str(path.relative_to(ROOT))
        if TRACKER.search(path.name):
            cited.append(f"{name}: named after a tracker number")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if TRACKER.search(line):
                cited.append(f"{name}:{n}: {line.strip()[:120]}")
    assert not cited, "say what a rule protects, not which ticket asked for it:\n" + "\n".join(
        cited
    )


def test_the_tracker_pattern_finds_the_usual_spellings() -> None:
    number = "36"  # kept apart, so this file does not cite one itself
    for text in ("see issue ", "Issue #", "issue-", "issues ", "ticket "):
        assert TRACKER.search(text + number), text
    for text in ("this issue", "unum-cloud/USearch#735", "issues with 2 cores"):
        assert not TRACKER.search(text), text
