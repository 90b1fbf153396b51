"""BibTeX exports stay what they say: whatever a title or a name holds (stray braces, field
syntax, `@`, TeX control words, special characters), every export parses with a BibTeX parser
into exactly the entries and fields written, and no control word but the safe ones (math,
accents, typography) is left to run when the entry is typeset."""

from __future__ import annotations

import re

import bibtexparser
from hypothesis import given, settings
from hypothesis import strategies as st

from papertide.models import Paper
from papertide.web.bibtex import SAFE_WORDS, bibtex, bibtex_fields, bibtex_file

HOSTILE_TITLES = [
    "Bib }} injection}, note = {PWNED}, x = {",
    "\\input{/etc/passwd} and {unbalanced",
    "@misc{evil, title={x}} }",
    "100% of $5 & #1 a_b c^d \\",
    "Math $\\mathcal{O}(n^2)$ with \\write18{rm -rf}",
]
HOSTILE_AUTHORS = ["Rob }, title={Evil} @misc{x", "Tom and Jerry", "\\def\\x{y}", "{"]
# Text made of what BibTeX and TeX give meaning to, and a few letters.
PIECES = [*"ab Z{}\\@,=$%&#_^~\"'\n", " and ", "input", "write", "mathcal", "'e"]
TEXT = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


def _parsed(text: str) -> list[dict[str, str]]:
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    return [{k: f.value for k, f in entry.fields_dict.items()} for entry in library.entries]


def _unsafe_words(fields: dict[str, str]) -> list[str]:
    found = (re.findall(r"\\([A-Za-z]+)", value) for value in fields.values())
    return [word for words in found for word in words if word not in SAFE_WORDS]


def _paper(title: str, authors: list[str], arxiv_id: str | None = "2401.00001") -> Paper:
    return Paper(title=title, authors=authors, arxiv_id=arxiv_id, abstract="An abstract.")


def test_hostile_titles_and_authors_stay_inside_their_fields() -> None:
    for title in HOSTILE_TITLES:
        paper = _paper(title, HOSTILE_AUTHORS)
        (fields,) = _parsed(bibtex(paper))
        assert fields == bibtex_fields(paper), title
        assert set(fields) == {"title", "author", "year", "eprint", "archivePrefix"}
        assert _unsafe_words(fields) == [], title
    (fields,) = _parsed(bibtex(_paper(HOSTILE_TITLES[0], ["Ada"])))
    assert "PWNED" in fields["title"] and "note" not in fields


def test_math_accents_and_prices_survive_as_tex() -> None:
    paper = _paper("$\\mathcal{O}(n)$ attention costs $5", ["St\\'ephane Mallat", "Tom and Jerry"])
    fields = bibtex_fields(paper)
    assert fields["title"] == "{$\\mathcal{O}(n)$ attention costs \\$5}"
    assert fields["author"] == "St\\'ephane Mallat and {Tom and Jerry}"  # two people, not three


@settings(max_examples=300, deadline=None)
@given(
    titles=st.lists(TEXT, min_size=1, max_size=4),
    authors=st.lists(TEXT, max_size=4),
    doi=TEXT,
)
def test_every_export_parses_into_exactly_the_fields_written(
    titles: list[str], authors: list[str], doi: str
) -> None:
    papers = [
        Paper(title=t, authors=authors, arxiv_id=f"2401.{n:05d}", doi=doi or None)
        for n, t in enumerate(titles)
    ]
    entries = _parsed(bibtex_file(papers))
    assert entries == [bibtex_fields(p) for p in papers]
    for fields in entries:
        assert _unsafe_words(fields) == []
