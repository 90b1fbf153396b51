"""BibTeX for papers: one entry in arXiv's own style (@misc with eprint fields), and a file
of entries with keys made unique (a list's export)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from papertide.models import Paper
from papertide.normalize import web_url


def _publication_year(paper: Paper) -> int | str:
    """The year the paper was published: its date, else its arXiv id's (YYMM since 2007,
    YYMM after the slash before); never the day it was imported or listed."""
    if paper.published is not None:
        return paper.published.year
    if paper.arxiv_id:
        found = re.match(r"^(?:[a-z.-]+/)?(\d{2})(\d{2})", paper.arxiv_id)
        if found and 1 <= int(found[2]) <= 12:
            yy = int(found[1])
            return 1900 + yy if yy >= 91 else 2000 + yy
    return ""


def bibtex(paper: Paper) -> str:
    """A BibTeX entry for the paper (arXiv's own style: @misc with eprint fields)."""
    first = paper.authors[0].split()[-1] if paper.authors else "anon"
    year = _publication_year(paper)
    key = re.sub(r"\W+", "", f"{first}{year}{(paper.title.split() or ['x'])[0]}").lower()
    fields = {
        "title": "{" + paper.title + "}",
        "author": " and ".join(paper.authors),
        "year": str(year),
        "eprint": paper.arxiv_id,
        "archivePrefix": "arXiv" if paper.arxiv_id else None,
        "primaryClass": paper.primary_category,
        "doi": paper.doi,
        "url": web_url(paper.url_abs),
    }
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields.items() if v)
    return f"@misc{{{key},\n{body}\n}}"


def bibtex_file(papers: Iterable[Paper]) -> str:
    """Every paper as BibTeX, one file, keys made unique (a, b, ... after a repeat)."""
    entries, seen = [], Counter[str]()
    for paper in papers:
        entry = bibtex(paper)
        key = entry[entry.index("{") + 1 : entry.index(",")]
        seen[key] += 1
        if seen[key] > 1:
            suffix = chr(ord("a") + seen[key] - 2) if seen[key] < 28 else str(seen[key])
            entry = entry.replace("{" + key + ",", "{" + key + suffix + ",", 1)
        entries.append(entry)
    return "\n\n".join(entries) + ("\n" if entries else "")
