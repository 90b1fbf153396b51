"""The search query language, parsed into a plain record (pure: no index, no I/O).

    sparse attention "long context" -survey author:lecun cat:cs.LG after:2024-01-01

- words are searched by meaning and by keyword; "quoted phrases" must appear as written
  (on stems, stopwords skipped); -word and -"phrase" exclude papers;
- author:NAME or author:"first last" keeps papers with that author; cat:cs.LG keeps papers
  in a category (cat:cs: in the archive); filters of one kind are OR-ed, of different kinds
  AND-ed;
- after:DATE keeps papers dated on or after DATE, before:DATE those dated before it; DATE
  is YYYY, YYYY-MM or YYYY-MM-DD. A paper's date is the one its card shows (``Paper.day``:
  the day it was listed, else published, else first seen), the day the feeds file it under.

A malformed query (unbalanced quote, bad date, empty filter, after later than before) never
fails: it is searched as plain text, and ``notice`` says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from papertide.models import Paper
from papertide.search.tokenize import analyze, terms_in, words

FILTERS = ("author", "cat", "after", "before")
_TOKEN = re.compile(r'(-?)(?:([A-Za-z]+):)?("[^"]*"|\S+)')
_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?$")


class QueryError(ValueError):
    """A query that cannot be read as written."""


@dataclass(slots=True)
class ParsedQuery:
    """What a query asks for; ``text`` is its free text (words and phrases) for embedding."""

    words: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    after: date | None = None
    before: date | None = None
    notice: str | None = None
    free: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The free text (words and phrases) as typed, case kept, for embedding and terms."""
        return " ".join(self.free)

    @property
    def has_filters(self) -> bool:
        """Whether anything restricts the set of papers beyond ranking."""
        return (
            bool(self.phrases or self.excluded or self.authors or self.categories or self.after)
            or self.before is not None
        )


def parse_date(value: str) -> date:
    """The first day YYYY, YYYY-MM or YYYY-MM-DD stands for."""
    match = _DATE.match(value)
    if not match:
        raise QueryError(f"'{value}' is not a date (use YYYY-MM-DD)")
    year, month, day = (int(g) if g else 1 for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise QueryError(f"'{value}' is not a date ({exc})") from exc


def parse_query(query: str) -> ParsedQuery:
    """Parse ``query``; on any syntax problem, fall back to plain text with a notice."""
    try:
        return _parse_strict(query)
    except QueryError as exc:
        plain = [w for w in re.split(r'[\s"]+', query) if w]
        return ParsedQuery(
            words=[w for w in words(query) if w not in FILTERS],
            notice=f"{exc}; searched as plain text.",
            free=plain,
        )


def _parse_strict(query: str) -> ParsedQuery:
    if query.count('"') % 2:
        raise QueryError("unbalanced quote")
    parsed = ParsedQuery()
    for negate, name, raw in _TOKEN.findall(query):
        quoted = raw.startswith('"')
        value = raw[1:-1].strip() if quoted else raw
        key = name.lower()
        if not name and raw.endswith(":") and raw[:-1].lower() in FILTERS:
            raise QueryError(f"'{raw}' needs a value")
        if key in FILTERS:
            if negate:
                raise QueryError(f"'-{key}:' is not supported")
            _add_filter(parsed, key, value)
        elif name:  # an unknown prefix such as "ratio:1" is just text
            _add_text(parsed, f"{name}:{value}", negate=bool(negate), quoted=quoted)
        else:
            _add_text(parsed, value, negate=bool(negate), quoted=quoted)
    if parsed.after and parsed.before and parsed.after >= parsed.before:
        raise QueryError("after: is not earlier than before:")
    return parsed


def _add_text(parsed: ParsedQuery, value: str, *, negate: bool, quoted: bool) -> None:
    found = words(value)
    if not found:
        return
    if negate:
        parsed.excluded.append(" ".join(found))
    elif quoted:
        parsed.phrases.append(" ".join(found))
        parsed.free.append(value)
    else:
        parsed.words.extend(found)
        parsed.free.append(value)


def _add_filter(parsed: ParsedQuery, key: str, value: str) -> None:
    if not value:
        raise QueryError(f"'{key}:' needs a value")
    if key == "author":
        if not words(value):  # author:% or author:_: a malformed query, not a crash
            raise QueryError(f"'author:{value}' names no one")
        parsed.authors.append(" ".join(words(value)))
    elif key == "cat":
        parsed.categories.append(value.lower())
    elif key == "after":
        parsed.after = parse_date(value)
    else:
        parsed.before = parse_date(value)


def why_matched(paper: Paper, wanted: dict[str, str], parsed: ParsedQuery) -> list[str]:
    """Reasons a paper matched: query words found in it, authors asked for."""
    why: list[str] = []
    if wanted:
        stems = terms_in(f"{paper.title} {paper.abstract}", wanted)
        matched = [word for s, word in wanted.items() if s in stems]
        if matched:
            why.append("matched: " + " ".join(matched))
    for author in parsed.authors:
        why.append(f"author: {author}")
    return why


def highlight_words(parsed: ParsedQuery) -> list[str]:
    """The query's words worth highlighting (no stopwords), in order."""
    return [w for w in dict.fromkeys(words(parsed.text)) if analyze(w)]
