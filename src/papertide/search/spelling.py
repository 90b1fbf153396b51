"""Did you mean: a spelling suggestion from the collection's own words.

Only a plain query word whose index term no paper holds is corrected ("speculaitve"); phrases,
-exclusions and ``field:`` terms are kept as typed. The candidates are the index's own terms
that start as the word does (tantivy's term dictionary, ``terms_with_prefix``: its first
``PREFIX`` letters; a typo in them is not caught), at most ``CANDIDATES`` of the most common
ones, so the cost is bounded however large the collection. Index terms are stems ("specul"),
so each is compared with the start of the typed word; the closest few are read back as the
words papers write ("speculative", from the stored text of a paper that holds it), and the
suggestion is the one with the best noisy-channel score (Kernighan, Church & Gale 1990):
``log(papers holding it) - EDIT_COST * edits``, edits counted as optimal string alignment
(Damerau-Levenshtein without repeated edits of a substring: a swap of two letters is one).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator

import tantivy

from papertide.search.lexical import LexicalIndex, doc_to_paper
from papertide.search.tokenize import STOPWORDS, stem, words

PREFIX = 2
CANDIDATES = 2_000
CLOSEST = 8  # candidates read back as surface words
EDIT_COST = math.log(50)  # one more edit is worth a word 50 times as common
_PLAIN = re.compile(r"[A-Za-z]{3,}")
# A token of the query language (query.py's _TOKEN): -?, a field:, a quoted phrase or word.
_TOKEN = re.compile(r'(-?)(?:([A-Za-z]+):)?("[^"]*"|\S+)')


def suggest(query: str, lexical: LexicalIndex) -> str | None:
    """The query with its unknown words corrected, or None when there is nothing to fix."""
    out: list[str] = []
    last, changed = 0, False
    for found in _TOKEN.finditer(query):
        negate, name, raw = found.groups()
        word = raw.strip(".,;:!?()")
        fixed = None
        if not negate and not name and _PLAIN.fullmatch(word):
            fixed = correct_word(word.lower(), lexical)
        if fixed is not None:
            start = found.start(3) + raw.index(word)
            out.append(query[last:start] + fixed)
            last, changed = start + len(word), True
    if not changed:
        return None
    out.append(query[last:])
    return "".join(out)


def correct_word(word: str, lexical: LexicalIndex) -> str | None:
    """The collection's likeliest word for a typed ``word`` no paper holds, if one is close."""
    if word in STOPWORDS or lexical.doc_freq(stem(word)) > 0:
        return None
    terms = lexical.searcher.terms_with_prefix("body", word[:PREFIX], limit=CANDIDATES)
    letters, allowed = set(word), _allowed(word)
    near = []
    for term, count in terms:
        if len(set(term) - letters) > allowed:  # each letter the word lacks is an edit
            continue
        edits = _prefix_edits(term, word, allowed)
        if edits is not None:
            near.append((edits, -int(count), str(term)))
    near.sort()
    closest = near[0][0] if near else 0
    best: tuple[float, str] | None = None
    for edits_, minus_count, term in near[:CLOSEST]:
        if edits_ > closest + 1:
            break
        for surface in _surface_words(term, lexical):
            edits = osa(word, surface)
            if edits > _allowed(word):
                continue
            score = math.log1p(-minus_count) - EDIT_COST * edits
            if best is None or score > best[0]:
                best = (score, surface)
    return best[1] if best is not None else None


def _allowed(word: str) -> int:
    """Edits allowed for a word of this length (1 up to 4 letters, 2 up to 8, then 3)."""
    return 1 if len(word) <= 4 else 2 if len(word) <= 8 else 3


def _surface_words(term: str, lexical: LexicalIndex) -> Iterator[str]:
    """The words papers write for index term ``term``, most common first (2 papers read;
    Snowball rewrites endings only, so the word starts as its term does: tokenize.py)."""
    query = tantivy.Query.term_query(lexical.schema, "body", term)
    seen: Counter[str] = Counter()
    start = term[:2]
    for _, address in lexical.searcher.search(query, 2, count=False).hits:
        doc = lexical.searcher.doc(address)
        paper = doc_to_paper(int(doc["pk"][0]), bytes(doc["doc"][0]))
        text = words(f"{paper.title} {paper.abstract}")
        seen.update(w for w in text if w.startswith(start) and stem(w) == term)
    for surface, _ in seen.most_common(5):
        yield surface


def _prefix_edits(term: str, word: str, limit: int) -> int | None:
    """The fewest edits turning ``term`` (a stem) into a start of ``word`` (up to 4 letters
    longer than the term), if at most ``limit``; else None."""
    # A stem is the word less an ending of at most about 5 letters ("ational" -> "ate").
    if len(term) < 3 or not len(word) - 6 - limit <= len(term) <= len(word) + limit:
        return None
    row = _osa_rows(term, word[: len(term) + 4])
    ends = range(max(0, len(term) - limit), min(len(word), len(term) + 4) + 1)
    edits = min(row[j] for j in ends)
    return edits if edits <= limit else None


def osa(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of
    two neighbouring letters, each one edit."""
    return _osa_rows(a, b)[len(b)]


def _osa_rows(a: str, b: str) -> list[int]:
    """The last row of the OSA table: the distance from ``a`` to each prefix of ``b``."""
    before: list[int] = []
    above = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(above[j] + 1, row[j - 1] + 1, above[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, before[j - 2] + 1)
            row[j] = best
        before, above = above, row
    return above
