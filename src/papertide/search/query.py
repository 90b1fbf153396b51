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
fails: it is searched as plain text, and ``notice`` says why. HTML tags (``<b>``,
``</script>``) are not words: they are dropped before parsing.

The query's *content words* are its unquoted words that say what it is about: no stop
words, nothing of one character. A paper matches by its words when it holds enough of them
(``MatchRule``); a query with no content word, no phrase and no filter asks for nothing,
and ``nothing_to_search`` says why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from math import ceil, log

from papertide.search.tokenize import analyze, stem, words

FILTERS = ("author", "cat", "after", "before")
# An HTML tag: <b>, </script>, <img src=x onerror=...>, <br/>.
_MARKUP = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
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
    query = _MARKUP.sub(" ", query)
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


def content_terms(parsed: ParsedQuery) -> list[str]:
    """The index terms of the query's content words (unquoted, no stop words, at least two
    characters), distinct, in query order."""
    found = (stem(w) for w in parsed.words if len(w) > 1)
    return list(dict.fromkeys(term for term in found if term))


@dataclass(frozen=True, slots=True)
class MatchRule:
    """How much of a query's content words a paper must hold to match by its words.

    Each content word weighs 1-3 by its rarity (``WEIGHT_LEVELS`` times its IDF over the
    query's largest IDF, rounded up), so a word nearly every paper holds ("model") weighs
    less than the words that say what the query is about.

    - up to ``all_up_to`` content words: a paper must hold all of them;
    - up to ``most_up_to``: the words it holds must carry ``share`` of the query's weight
      (most of it: with equal weights 2 of 3, 3 of 4, 3 of 5);
    - longer queries (a pasted sentence, a claim): ``weight_share`` of the weight: a
      sentence shares a few telling words with the papers about it, rarely most of them.
    """

    all_up_to: int = 2
    share: float = 0.6
    most_up_to: int = 5
    weight_share: float = 0.15

    def weigh(
        self, terms: list[str], doc_freq: Callable[[str], int], n_docs: int
    ) -> tuple[dict[str, int], int]:
        """Each term's weight (how many matches it counts for) and the weight needed."""
        count = len(terms)
        if count <= self.all_up_to:
            return dict.fromkeys(terms, 1), count
        # BM25's IDF (Robertson & Zaragoza 2009), as tantivy scores with.
        idf = {t: log(1 + (n_docs - doc_freq(t) + 0.5) / (doc_freq(t) + 0.5)) for t in terms}
        top = max(max(idf.values()), 1e-9)
        weights = {t: max(1, ceil(WEIGHT_LEVELS * idf[t] / top - 1e-9)) for t in terms}
        share = self.share if count <= self.most_up_to else self.weight_share
        return weights, max(1, ceil(share * sum(weights.values()) - 1e-9))


WEIGHT_LEVELS = 3


def nothing_to_search(parsed: ParsedQuery) -> str | None:
    """Why the query asks for nothing (no content word, no phrase, no filter), else None."""
    if content_terms(parsed) or any(analyze(p) for p in parsed.phrases):
        return None
    if parsed.authors or parsed.categories or parsed.after or parsed.before:
        return None
    if any(analyze(e) for e in parsed.excluded):
        return None
    if parsed.words or parsed.phrases:
        shown = " ".join(dict.fromkeys(parsed.words + parsed.phrases))
        return (
            f"Nothing to search for: “{shown}” holds only stop words (such as the, of, and) "
            "or single letters, which nearly every paper has. Add a word that says what the "
            "papers are about."
        )
    return (
        "Nothing to search for: the query has no words, only punctuation, symbols or markup. "
        "Type a word that says what the papers are about."
    )


def highlight_words(parsed: ParsedQuery) -> list[str]:
    """The query's words worth highlighting (no stopwords), in order."""
    return [w for w in dict.fromkeys(words(parsed.text)) if analyze(w)]
