"""The sample of the collection that similar lists standardise each candidate against
(hubness; search/similar.py), and the idf the lists weigh terms by.

A candidate's mean and standard deviation of relatedness to every other paper would need
the whole collection; a fixed sample estimates both (the error of a mean over 128 to 256
papers is under a tenth of the deviation). The sample is the papers whose pk is 1, 1 + step,
1 + 2 step, ... up to the highest pk, ``step`` the largest power of two that leaves at least
SAMPLE of them: every process and node that looks at the same store and index draws the
same sample, so a list computed by the worker and the same list computed on a page's first
view agree; it changes only when the highest pk reaches the next multiple of ``step``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from papertide.search.similar import DENSE_WEIGHT, Terms

SAMPLE = 64
_IDF_CACHE = 500_000  # terms whose idf is remembered for one searcher


def sample_pks(max_pk: int, size: int = SAMPLE) -> list[int]:
    """The pks of the sample when the highest pk is ``max_pk`` (size to 2 * size of them)."""
    if max_pk <= 2 * size:
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
        missing = list(dict.fromkeys(t for t in terms if t not in known))
        if missing:
            found = {
                t: math.log((1 + self.num_docs) / (1 + self.doc_freq(t))) + 1.0 for t in missing
            }
            if len(known) + len(found) <= _IDF_CACHE:
                known.update(found)
            else:
                return np.fromiter((known.get(t) or found[t] for t in terms), dtype=np.float64)
        return np.fromiter(map(known.__getitem__, terms), dtype=np.float64, count=len(terms))


class Neighbourhood:
    """The sample's term vectors (a term x paper matrix) and embeddings."""

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
        standard deviation of each one's relatedness to the sample's papers (itself left
        out)."""
        n = len(pks)
        lexical = np.zeros((n, len(self.pks)), dtype=np.float32)
        rows = np.repeat(np.arange(len(terms)), np.diff(terms.indptr)) - first
        where = np.fromiter(
            (self.rows.get(t, -1) for t in terms.vocabulary),
            dtype=np.int64,
            count=len(terms.vocabulary),
        )[terms.indices]
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
