"""The sample of the collection that similar lists standardise each candidate against
(hubness; search/similar.py), and the idf the lists weigh terms by.

A candidate's mean and standard deviation of relatedness to every other paper would need
the whole collection. Up to WHOLE papers the whole collection is the sample and both are
exact (the candidate's relatedness to each of its papers). Beyond, a fixed sample of SAMPLE
to 2 x SAMPLE papers gives each term's mean and mean square weight, and the embeddings'
mean and second moment, from which a candidate's mean and deviation follow (``Moments``): a
deviation measured on 64-128 papers alone is decided by the one or two of them nearest the
candidate, while the term moments pool every sample paper holding each term (SciFact
co-relevance recall@10 0.748 -> 0.766; docs/search.md, "Similar lists"). The sample is the
papers whose pk is 1, 1 + step, 1 + 2 step, ... up to the highest pk, ``step`` the largest
power of two that leaves at least SAMPLE of them: every process and node that looks at the
same store and index draws the same sample, so a list computed by the worker and the same
list computed on a page's first view agree; it changes only when the highest pk reaches the
next multiple of ``step``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from papertide.search.similar import DENSE_WEIGHT, Terms, column_of

SAMPLE = 64
WHOLE = 256  # up to this many papers (highest pk), every paper is in the sample
_IDF_CACHE = 500_000  # terms whose idf is remembered for one searcher


def sample_pks(max_pk: int, size: int = SAMPLE) -> list[int]:
    """The pks of the sample when the highest pk is ``max_pk``: all up to WHOLE (or 2 x
    ``size``), else ``size`` to 2 x ``size`` of them."""
    if max_pk <= max(2 * size, WHOLE):
        return list(range(1, max_pk + 1))
    step = 2 ** math.floor(math.log2(max_pk / size))
    return list(range(1, max_pk + 1, step))


class Idf:
    """idf(t) = ln((1 + N) / (1 + df(t))) + 1 (the smoothed idf of scikit-learn's
    TfidfVectorizer) from the lexical index, for a list of terms at once; remembered while
    the index's searcher is the same (tantivy answers a document frequency in about 5 us,
    and a list weighs some 3,000 distinct terms)."""

    def __init__(self, doc_freq: Callable[[str], int], num_docs: int) -> None:
        self.doc_freq = doc_freq
        self.num_docs = num_docs
        self._idf: dict[str, float] = {}

    def __call__(self, terms: list[str]) -> npt.NDArray[np.float64]:
        known = self._idf
        values = list(map(known.get, terms))
        if None in values:
            missing = list(
                dict.fromkeys(t for t, v in zip(terms, values, strict=True) if v is None)
            )
            found = {
                t: math.log((1 + self.num_docs) / (1 + self.doc_freq(t))) + 1.0 for t in missing
            }
            if len(known) + len(found) <= _IDF_CACHE:
                known.update(found)
            else:
                return np.fromiter((known.get(t) or found[t] for t in terms), dtype=np.float64)
            values = list(map(known.__getitem__, terms))
        return np.fromiter(values, dtype=np.float64, count=len(terms))


class Moments:
    """The sample's moments: each term's mean weight and mean squared weight over the
    sample's papers, and their embeddings (whose mean and second moment a candidate's
    cosines with them give).

    A candidate y's relatedness to a sample paper x is sum_t y_t x_t + DENSE_WEIGHT e_y.e_x;
    its mean over the sample is sum_t y_t mean(x_t) + DENSE_WEIGHT e_y.mean(e), and its
    variance is taken as if the terms varied independently, sum_t y_t^2 var(x_t), plus the
    embedding part's exact variance, DENSE_WEIGHT^2 e_y' cov(e) e_y (the covariance of terms,
    and of terms with the embedding, left out). A paper of the sample is left out of its own
    moments. The per-term variance pools over every sample paper holding the term, so one
    sample paper close to a candidate no longer decides its deviation alone (docs/search.md,
    "Similar lists")."""

    def __init__(self, pks: list[int], terms: Terms, vectors: npt.NDArray[np.float32]) -> None:
        self.pks = np.asarray(pks, dtype=np.int64)
        self.rows = terms.vocabulary
        n = max(len(terms), 1)
        columns = terms.indices  # the sample's vocabulary is its own
        w = terms.weights.astype(np.float64)
        self.term_mean = np.bincount(columns, weights=w, minlength=len(self.rows)) / n
        self.term_square = np.bincount(columns, weights=w * w, minlength=len(self.rows)) / n
        self.n = n
        self.vectors = np.asarray(vectors, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.pks)

    def spread(
        self, pks: list[int], terms: Terms, first: int, vectors: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """For the papers ``pks`` (rows ``first``.. of ``terms``, ``vectors``): the mean and
        standard deviation of each one's relatedness to the sample's papers (itself left
        out)."""
        count = len(pks)
        n = len(self.pks)
        inside = np.isin(np.asarray(pks, dtype=np.int64), self.pks)
        # Leaving a paper out of n: mean' = (n mean - own) / (n - 1), likewise the square.
        keep = np.where(inside, n / max(n - 1, 1), 1.0)
        drop = np.where(inside, 1.0 / max(n - 1, 1), 0.0)
        rows, where = _entries(terms, first, self.rows)
        use = (where >= 0) & (rows >= 0)
        rows, where = rows[use], where[use]
        y = terms.weights[use].astype(np.float64)
        mu = keep[rows] * self.term_mean[where] - drop[rows] * y
        square = keep[rows] * self.term_square[where] - drop[rows] * y * y
        lexical_mean = np.bincount(rows, weights=y * mu, minlength=count)
        lexical_var = np.bincount(
            rows, weights=y * y * np.maximum(square - mu * mu, 0.0), minlength=count
        )
        e = np.asarray(vectors, dtype=np.float64)
        own = np.einsum("ij,ij->i", e, e)
        # Each candidate's cosines with the sample's papers give the embedding's mean and
        # second moment (e' cov e) in 0.3 ms a list: the second moment as e' S e, with S the
        # sample's 256 x 256 second moment matrix, took 3 ms as one einsum, and as e @ S a
        # product big enough for BLAS to spread over threads that spin on a busy machine
        # (docs/search.md, "Similar lists"). einsum: numpy's own loop, one thread.
        cosines = np.einsum("ik,jk->ij", e, self.vectors)
        dense_mean = keep * cosines.sum(axis=1) / self.n - drop * own
        dense_square = keep * np.einsum("ij,ij->i", cosines, cosines) / self.n - drop * own**2
        dense_var = np.maximum(dense_square - dense_mean**2, 0.0)
        mean = lexical_mean + DENSE_WEIGHT * dense_mean
        sd = np.sqrt(lexical_var + DENSE_WEIGHT**2 * dense_var)
        return mean.astype(np.float32), np.where(sd > 0, sd, 1.0).astype(np.float32)


class Whole:
    """The whole (small) collection as the sample: its term vectors (a term x paper matrix)
    and embeddings, for the exact mean and deviation of each candidate's relatedness."""

    def __init__(self, pks: list[int], terms: Terms, vectors: npt.NDArray[np.float32]) -> None:
        self.pks = np.asarray(pks, dtype=np.int64)
        self.rows = terms.vocabulary
        self.weights = np.ascontiguousarray(terms.dense(self.rows).T)  # terms x papers
        self.vectors = np.asarray(vectors, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.pks)

    def spread(
        self, pks: list[int], terms: Terms, first: int, vectors: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """For the papers ``pks`` (rows ``first``.. of ``terms``, ``vectors``): the mean and
        standard deviation of each one's relatedness to the other papers."""
        n = len(pks)
        lexical = np.zeros((n, len(self.pks)), dtype=np.float32)
        rows, where = _entries(terms, first, self.rows)
        known = (where >= 0) & (rows >= 0)
        if known.any():
            rows, where, weights = rows[known], where[known], terms.weights[known]
            parts = self.weights[where] * weights[:, None]
            starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
            lexical[rows[starts]] = np.add.reduceat(parts, starts, axis=0)
        related = lexical + DENSE_WEIGHT * (np.asarray(vectors, dtype=np.float32) @ self.vectors.T)
        others = np.asarray(pks, dtype=np.int64)[:, None] != self.pks[None, :]
        count = np.maximum(others.sum(axis=1), 1)
        mean = (related * others).sum(axis=1) / count
        var = (((related - mean[:, None]) ** 2) * others).sum(axis=1) / count
        sd = np.sqrt(var)
        return mean.astype(np.float32), np.where(sd > 0, sd, 1.0).astype(np.float32)


Neighbourhood = Moments | Whole


def neighbourhood(
    pks: list[int], terms: Terms, vectors: npt.NDArray[np.float32], *, whole: bool
) -> Neighbourhood:
    """The sample as lists standardise against it: exact when it is the ``whole``
    collection, by its moments otherwise."""
    return Whole(pks, terms, vectors) if whole else Moments(pks, terms, vectors)


def _entries(
    terms: Terms, first: int, sample_rows: dict[str, int]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """For each stored weight of ``terms``: its paper's index counted from row ``first``
    (negative before it), and its term's row in the sample (``sample_rows``; -1: absent)."""
    rows = np.repeat(np.arange(len(terms)), np.diff(terms.indptr)) - first
    where = column_of(terms.vocabulary, sample_rows)[terms.indices]
    return rows, where
