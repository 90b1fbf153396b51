"""Snippets and reasons that show why a paper matched (pure: no index, no I/O).

``best_passage`` picks the window of one or two sentences of an abstract (at most ``LIMIT``
characters, about two lines of a card) holding the most distinct query terms, then the
most occurrences, earliest first; a longer sentence is cut around its first match, on word
boundaries, with "…" where text was cut. Math (``$...$``, ``$$...$$``, pandoc's rule as in
web/tex.py, simplified) is never cut and never marked: a mark inside ``$\\pi_0$`` breaks it.
``reasons`` says in words where the query's words were found.
"""

from __future__ import annotations

import re
from bisect import bisect_left

from papertide.models import Paper, Snippet
from papertide.search.tokenize import term_spans, terms_in

LIMIT = 300
# Display math, then inline math whose inner ends are not spaces (pandoc's tex_math_dollars).
_MATH = re.compile(r"\$\$.+?\$\$|\$(?=\S)(?:\\\$|[^$])+?(?<=[^\s\\])\$(?!\d)", re.DOTALL)
# A sentence's last mark and the spaces after it (the mark first: a scan jumps between
# marks, where a look back first was tried at every character).
_SENTENCE_END = re.compile(r"[.!?]\s+(?=[A-Z0-9$\\(\[])")


def best_passage(text: str, terms: set[str], limit: int = LIMIT) -> Snippet | None:
    """The passage of ``text`` that holds the most of ``terms`` (index terms, as
    ``tokenize.analyze`` makes them), its matching words marked; the opening of ``text``
    without marks when none is there; None for an empty text."""
    text = " ".join(text.split())
    return _best_passage(text, term_spans(text, terms), limit) if text else None


def passage_and_reasons(
    paper: Paper, terms: dict[str, str], *, close: bool, authors: list[str]
) -> tuple[Snippet | None, list[str]]:
    """``best_passage`` of the abstract and ``reasons``, from one scan of the abstract for
    the query's words (a search page asks both of each of its hits)."""
    text = " ".join((paper.abstract or "").split())
    spans = term_spans(text, terms)
    snippet = _best_passage(text, spans, LIMIT) if text else None
    in_abstract = {term for _, _, term in spans}
    return snippet, _reasons(paper.title, in_abstract, terms, close=close, authors=authors)


def _best_passage(text: str, spans: list[tuple[int, int, str]], limit: int) -> Snippet:
    """best_passage of a whitespace-normalised, non-empty ``text`` whose query words are
    ``spans`` (tokenize.term_spans)."""
    math = [m.span() for m in _MATH.finditer(text)]
    sentences = _sentences(text, math)
    # The query's words in the text, found once (outside math); every window below counts
    # from this list instead of reading its words again.
    found = [(a, b, t) for a, b, t in spans if not _inside(a, math)]
    # The best window: most distinct terms, then most occurrences, then one sentence rather
    # than two, then the earliest. Without any, the opening sentences that fit.
    best: tuple[int, int, int, int] | None = None
    chosen = sentences[0]
    if len(sentences) > 1 and sentences[1][1] <= limit:
        chosen = (0, sentences[1][1])
    starts = [a for a, _, _ in found]
    for i, (start, _) in enumerate(sentences):
        for last in (i, i + 1):
            if last >= len(sentences) or (last > i and sentences[last][1] - start > limit):
                continue
            end = sentences[last][1]
            inside = [t for _, _, t in found[bisect_left(starts, start) : bisect_left(starts, end)]]
            key = (-len(set(inside)), -len(inside), last - i, start)
            if inside and (best is None or key < best):
                best, chosen = key, (start, end)
    start, end = chosen
    if end - start > limit:
        start, end = _cut(text, start, end, limit, found, math)
    return _snippet(text, start, end, found)


def _sentences(text: str, math: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(start, end) of each sentence; a full stop inside math ends none."""
    spans, start = [], 0
    for found in _SENTENCE_END.finditer(text):
        end = found.start() + 1  # after the mark
        if _inside(end, math):
            continue
        spans.append((start, end))
        start = found.end()
    spans.append((start, len(text)))
    return spans


def _inside(index: int, math: list[tuple[int, int]]) -> bool:
    return any(a <= index < b for a, b in math)


def _cut(
    text: str,
    start: int,
    end: int,
    limit: int,
    found: list[tuple[int, int, str]],
    math: list[tuple[int, int]],
) -> tuple[int, int]:
    """A window of at most ``limit`` characters of text[start:end] from a little before its
    first match (of ``found``), on word boundaries, math kept whole."""
    first = next((a for a, _, _ in found if start <= a < end), start)
    left = max(start, first - limit // 4)
    right = min(end, left + limit)
    for a, b in math:  # never split a formula: leave out one that does not fit
        if a < left < b:
            left = b
        if a < right < b:
            right = a
    while left > start and left < len(text) and not text[left - 1].isspace():
        left += 1  # start on a word
    while right < end and right > left and not text[right].isspace():
        right -= 1  # end on a word
    return left, right


def _snippet(text: str, start: int, end: int, found: list[tuple[int, int, str]]) -> Snippet:
    body = text[start:end].strip()
    offset = start + (len(text[start:end]) - len(text[start:end].lstrip()))
    before = "… " if start > 0 and not _sentence_start(text, start) else ""
    after = " …" if end < len(text) and text[end - 1] not in ".!?" else ""
    shift = len(before) - offset
    marks = [(a + shift, b + shift) for a, b, _ in found if offset <= a and b <= offset + len(body)]
    return Snippet(before + body + after, marks)


def _sentence_start(text: str, index: int) -> bool:
    head = text[:index].rstrip()
    return not head or head[-1] in ".!?"


def reasons(paper: Paper, terms: dict[str, str], *, close: bool, authors: list[str]) -> list[str]:
    """Why ``paper`` matched, in words: where the query's ``terms`` (index term -> the word
    as typed) were found, "close in meaning" when ``close``, and each author asked for.
    Words of one character and numbers are left out: they say nothing to a reader."""
    in_abstract = terms_in(paper.abstract or "", terms)
    return _reasons(paper.title, in_abstract, terms, close=close, authors=authors)


def _reasons(
    title: str, in_abstract: set[str], terms: dict[str, str], *, close: bool, authors: list[str]
) -> list[str]:
    telling = {t: w for t, w in terms.items() if len(w) > 1 and not w.isdigit()}
    in_title = terms_in(title, telling)
    in_abstract = in_abstract & telling.keys()
    why: list[str] = []
    found = [w for t, w in telling.items() if t in in_title | in_abstract]
    if found:
        where = (
            "title and abstract match"
            if in_title and in_abstract
            else "title matches"
            if in_title
            else "abstract matches"
        )
        why.append(f"{where}: {' '.join(found)}")
    if close:
        why.append("close in meaning")
    why += [f"author: {author}" for author in authors]
    return why
