"""Recommendations from a subscriber's upvotes: one small linear classifier per user.

In the spirit of arxiv-sanity-lite: papers are tf-idf vectors; for each user a linear model
learns to tell the papers they upvoted (positives) from the rest (negatives: a sample of
the other papers, as arxiv-sanity treats every unrated paper as negative). Here the model
is L2-regularised logistic regression fitted by gradient descent in numpy, on sparse rows,
so training one user costs milliseconds and no scikit-learn is needed. Each recommended
paper says which upvoted paper it is most like ("like: <title>").
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from papertide.models import Hit, Paper
from papertide.search.tokenize import analyze

Vector = NDArray[np.float64]
# How many sampled negatives one explicit "not interested" counts as.
DISLIKE_WEIGHT = 10.0
# A reason names the most similar of the first this-many positives (newest first): bounds
# the similarity matrix (candidates x positives) for readers with thousands of votes.
MAX_EXPLAINED = 200
REASON_BLOCK = 256  # candidates compared with the positives at a time


@dataclass(slots=True)
class Rows:
    """L2-normalised sparse rows (CSR: indptr, indices, data) over a TfidfSpace's terms."""

    indptr: NDArray[np.int64]
    indices: NDArray[np.int64]
    data: Vector

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def dot(self, w: Vector) -> Vector:
        """Each row times ``w``."""
        rows = np.repeat(np.arange(len(self)), np.diff(self.indptr))
        sums = np.bincount(rows, weights=self.data * w[self.indices], minlength=len(self))
        return sums.astype(np.float64)

    def tdot(self, r: Vector, dim: int) -> Vector:
        """The rows' transpose times ``r`` (one weight per row)."""
        counts = np.diff(self.indptr)
        sums = np.bincount(self.indices, weights=self.data * np.repeat(r, counts), minlength=dim)
        return sums.astype(np.float64)

    def take(self, rows: list[int]) -> Rows:
        """The given rows, in that order."""
        starts, ends = self.indptr[rows], self.indptr[np.asarray(rows, dtype=np.int64) + 1]
        parts = [np.arange(s, e) for s, e in zip(starts, ends, strict=True)]
        picked = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
        return Rows(indptr, self.indices[picked], self.data[picked])

    def stack(self, other: Rows) -> Rows:
        """These rows followed by ``other``'s."""
        indptr = np.concatenate([self.indptr, other.indptr[1:] + self.indptr[-1]])
        return Rows(
            indptr,
            np.concatenate([self.indices, other.indices]),
            np.concatenate([self.data, other.data]),
        )


class TfidfSpace:
    """Terms and idf learnt from a set of papers (title + abstract), to vectorise papers."""

    def __init__(self, papers: list[Paper]) -> None:
        docs = [Counter(_terms(p)) for p in papers]
        df: Counter[str] = Counter()
        for doc in docs:
            df.update(doc.keys())
        self.vocab = {term: i for i, term in enumerate(sorted(df))}
        n = max(len(docs), 1)
        # Smoothed idf, as scikit-learn's TfidfVectorizer(smooth_idf=True): ln((1+n)/(1+df))+1
        self.idf = np.ones(len(self.vocab))
        for term, i in self.vocab.items():
            self.idf[i] = math.log((1 + n) / (1 + df[term])) + 1
        self.rows = self._rows(docs)

    @property
    def dim(self) -> int:
        """How many terms the space knows."""
        return len(self.vocab)

    def vectorise(self, papers: list[Paper]) -> Rows:
        """Rows for papers (terms the space does not know are dropped)."""
        return self._rows([Counter(_terms(p)) for p in papers])

    def _rows(self, docs: list[Counter[str]]) -> Rows:
        indptr, indices, data = [0], list[int](), list[float]()
        for doc in docs:
            known = [(self.vocab[t], (1 + math.log(c))) for t, c in doc.items() if t in self.vocab]
            weights = [tf * self.idf[i] for i, tf in known]
            norm = math.sqrt(sum(w * w for w in weights)) or 1.0
            indices.extend(i for i, _ in known)
            data.extend(w / norm for w in weights)
            indptr.append(len(indices))
        return Rows(
            np.asarray(indptr, dtype=np.int64),
            np.asarray(indices, dtype=np.int64),
            np.asarray(data, dtype=np.float64),
        )


def _terms(paper: Paper) -> list[str]:
    return analyze(f"{paper.title} {paper.title} {paper.abstract}")  # title counts double


def fit_logistic(
    x: Rows,
    y: Vector,
    dim: int,
    *,
    l2: float = 1e-3,
    steps: int = 150,
    rate: float = 2.0,
    importance: Vector | None = None,
) -> tuple[Vector, float]:
    """Weights and bias of L2-regularised logistic regression (class-balanced gradient descent).

    ``importance`` weighs rows within their class (default: all equal)."""
    w, b = np.zeros(dim), 0.0
    weight = np.ones(len(y)) if importance is None else importance
    pos = max(float(weight[y > 0].sum()), 1e-12) if (y > 0).any() else 1.0
    neg = max(float(weight[y <= 0].sum()), 1e-12) if (y <= 0).any() else 1.0
    sample_weight = weight * np.where(y > 0, 0.5 / pos, 0.5 / neg)  # each class counts half
    # Rows.dot and Rows.tdot, with the row of each non-zero worked out once, not per step.
    owner = np.repeat(np.arange(len(x)), np.diff(x.indptr))
    for _ in range(steps):
        margin = np.bincount(owner, weights=x.data * w[x.indices], minlength=len(x))
        p = 1.0 / (1.0 + np.exp(-(margin + b)))
        r = (p - y) * sample_weight
        grad = np.bincount(x.indices, weights=x.data * r[owner], minlength=dim)
        w -= rate * (grad + l2 * w)
        b -= rate * float(r.sum())
    return w, b


def recommend(
    space: TfidfSpace,
    candidates: list[Paper],
    positives: list[Paper],
    *,
    k: int = 20,
    negatives: int = 300,
    seed: int = 0,
    min_similarity: float = 0.1,
    dislikes: Sequence[Paper] = (),
) -> list[Hit]:
    """Candidates the user's classifier ranks highest, with a "like: <title>" reason.

    Ranked by the classifier; a candidate whose cosine similarity to every upvoted paper is
    below ``min_similarity`` is left out, so a user with few votes is not sent noise.

    ``space`` must have been built from ``candidates`` (its rows are theirs, in order);
    ``positives`` are the upvoted papers, anywhere in the corpus. ``dislikes`` (papers the
    user said "not interested" to) are never recommended and are negatives that each weigh
    DISLIKE_WEIGHT sampled ones, so papers like them sink.
    """
    if not positives or not candidates:
        return []
    pos_rows = space.vectorise(positives)
    liked = {p.pk for p in positives}
    unwanted = {p.pk for p in dislikes} - liked
    skip = liked | unwanted
    others = [i for i, p in enumerate(candidates) if p.pk not in skip]
    sample = random.Random(seed).sample(others, min(negatives, len(others)))
    x = pos_rows.stack(space.rows.take(sample))
    told = [p for p in dislikes if p.pk in unwanted]
    if told:
        x = x.stack(space.vectorise(told))
    y = np.concatenate([np.ones(len(positives)), np.zeros(len(sample) + len(told))])
    importance = np.concatenate(
        [np.ones(len(positives) + len(sample)), np.full(len(told), DISLIKE_WEIGHT)]
    )
    w, b = fit_logistic(x, y, space.dim, importance=importance if told else None)
    scores = space.rows.dot(w) + b
    order = [i for i in np.argsort(-scores, kind="stable") if candidates[i].pk not in skip]
    explained = positives[:MAX_EXPLAINED]
    explained_rows = space.vectorise(explained)
    hits: list[Hit] = []
    # Reasons for the best-ranked candidates first, a block at a time: the first block
    # usually holds the k hits, so the rest is never compared with the positives.
    for start in range(0, len(order), REASON_BLOCK):
        block = [int(i) for i in order[start : start + REASON_BLOCK]]
        sims = similarities(space.rows.take(block), explained_rows, space.dim)
        for i, best, best_sim in zip(block, sims.argmax(axis=1), sims.max(axis=1), strict=True):
            if best_sim < min_similarity:  # ranked high, but it shares ~nothing
                continue
            paper, like = candidates[i], explained[int(best)]
            hits.append(
                Hit(paper.id or str(paper.pk), float(scores[i]), [f"like: {like.title}"], paper)
            )
            if len(hits) >= k:
                return hits
    return hits


def similarities(rows: Rows, others: Rows, dim: int) -> NDArray[np.float64]:
    """Cosine similarity of every row to every row of ``others`` (rows are unit length):
    one bincount over the rows' non-zeros per row of ``others``, in C."""
    out = np.zeros((len(rows), len(others)))
    owner = np.repeat(np.arange(len(rows)), np.diff(rows.indptr))
    for j in range(len(others)):
        lo, hi = others.indptr[j], others.indptr[j + 1]
        dense = np.zeros(dim)
        dense[others.indices[lo:hi]] = others.data[lo:hi]
        weights = rows.data * dense[rows.indices]
        out[:, j] = np.bincount(owner, weights=weights, minlength=len(rows))
    return out
