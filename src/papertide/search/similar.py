"""Similar papers: neighbours by abstract meaning (cosine) and shared title terms (BM25),
without the paper itself or its duplicates (pure scoring; the service fetches candidates).

score = cosine + LEXICAL_WEIGHT * bm25 / best_bm25 (the ``blend`` of hybrid.py with the
dense side first). A candidate is a duplicate of the paper when its normalised title is the
same (normalize.title_key) or its words overlap almost wholly (Jaccard >= 0.9; Broder 1997).
"""

from __future__ import annotations

from collections.abc import Callable

from papertide.models import Hit, Paper
from papertide.normalize import title_key
from papertide.search.hybrid import blend
from papertide.search.tokenize import STOPWORDS, analyze, stem, words

LEXICAL_WEIGHT = 0.3
DUPLICATE_JACCARD = 0.9
_SPARE = 5  # candidates read beyond k at a time: room for the paper itself and duplicates


def word_set(paper: Paper) -> set[str]:
    """The distinct non-stopword words of a paper's title and abstract."""
    return {w for w in words(f"{paper.title} {paper.abstract}") if w not in STOPWORDS}


def is_duplicate(paper: Paper, other: Paper, *, mine: set[str] | None = None) -> bool:
    """Whether ``other`` is the same work as ``paper`` under another record."""
    if title_key(paper.title) == title_key(other.title):
        return True
    a, b = mine if mine is not None else word_set(paper), word_set(other)
    union = len(a | b)
    return union > 0 and len(a & b) / union >= DUPLICATE_JACCARD


def shared_title_terms(
    paper: Paper, other: Paper, limit: int = 5, *, stems: set[str] | None = None
) -> list[str]:
    """Title words of ``other`` whose stems appear in ``paper``'s title or abstract."""
    if stems is None:
        stems = set(analyze(f"{paper.title} {paper.abstract}"))
    shared = [w for w in words(other.title) if w not in STOPWORDS and stem(w) in stems]
    return list(dict.fromkeys(shared))[:limit]


def rank_similar(
    paper: Paper,
    dense: dict[int, float],
    lexical: list[tuple[int, float]],
    load: Callable[[list[int]], dict[int, Paper]],
    *,
    k: int,
) -> list[Hit]:
    """The ``k`` best candidates as hits, skipping the paper and its duplicates.

    ``load`` reads candidates' records by row key; they are read in the order they rank, a
    few more than ``k`` at a time, since the first ``k`` and a few duplicates are usually
    all a list takes (reading every candidate of both sides, ~80, was a third of a list's
    time at 100k papers)."""
    mine = word_set(paper)
    stems = set(analyze(f"{paper.title} {paper.abstract}"))
    ranked = blend(lexical, {p: c / LEXICAL_WEIGHT for p, c in dense.items()}, weight=1.0)
    hits: list[Hit] = []
    step = k + _SPARE
    for start in range(0, len(ranked), step):
        chunk = ranked[start : start + step]
        candidates = load([pk for pk, _ in chunk if pk != paper.pk])
        for pk, score in chunk:
            other = candidates.get(pk)
            if other is None or other.id == paper.id:  # the paper itself is never loaded
                continue
            if is_duplicate(paper, other, mine=mine):
                continue
            why = []
            if pk in dense:
                why.append(f"semantic {dense[pk]:.2f}")
            shared = shared_title_terms(paper, other, stems=stems)
            if shared:
                why.append("shared: " + " ".join(shared))
            assert other.id is not None
            hits.append(Hit(other.id, round(score * LEXICAL_WEIGHT, 6), why, other))
            if len(hits) == k:
                return hits
    return hits
