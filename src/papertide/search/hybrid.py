"""Fusing ranked lists from the lexical and dense retrievers (pure functions).

- ``blend``: each candidate scores bm25 / best_bm25 + weight * cosine. Dividing by the best
  BM25 score puts BM25 on the cosine's 0..1 scale per query, the normalised linear
  combination that Bruch, Gai & Ingber (2023, "An Analysis of Fusion Functions for Hybrid
  Retrieval", ACM TOIS) find more accurate than RRF when tuned. Candidates that one side
  did not retrieve get 0 from it (BM25) or their exact cosine (dense side, computed).
  With passage vectors (search/passages.py) the best passage's cosine is a third term.
- ``rrf``: reciprocal rank fusion, sum of w / (k + rank) (Cormack, Clarke & Büttcher 2009,
  "Reciprocal Rank Fusion outperforms Condorcet and individual Rank Learning Methods").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Ranked = list[tuple[int, float]]


def blend(
    lexical: Ranked,
    cosine: Mapping[int, float],
    *,
    weight: float,
    passage: Mapping[int, float] | None = None,
    passage_weight: float = 0.0,
) -> Ranked:
    """Candidates of both sides by bm25/best + weight*cosine (+ passage_weight * the best
    passage's cosine, for candidates that have passages), best first (ties by pk)."""
    best = max((score for _, score in lexical), default=0.0)
    scores: dict[int, float] = {}
    for pk, score in lexical:
        scores[pk] = score / best if best > 0 else 0.0
    for pk, cos in cosine.items():
        scores[pk] = scores.get(pk, 0.0) + weight * cos
    for pk, cos in (passage or {}).items():
        scores[pk] = scores.get(pk, 0.0) + passage_weight * cos
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def rrf(rankings: Sequence[Sequence[int]], *, k: int = 60, weights: Sequence[float] = ()) -> Ranked:
    """Reciprocal rank fusion of several rankings (ranks start at 1), best first."""
    scores: dict[int, float] = {}
    for i, ranking in enumerate(rankings):
        w = weights[i] if i < len(weights) else 1.0
        for rank, pk in enumerate(ranking, start=1):
            scores[pk] = scores.get(pk, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))
