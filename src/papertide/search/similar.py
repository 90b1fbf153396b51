"""Similar papers: pure scoring over candidates the service fetched (search/similar_lists.py).

The evidence is the wording of the whole title and abstract, with the meaning of the
abstract as a smaller second voice:

    relatedness(x, y) = tfidf_cosine(x, y) + DENSE_WEIGHT * cosine(x, y)

where tfidf_cosine is the cosine of the papers' terms (the lexical index's stemmed,
stopword-free terms, title counted ``TITLE_REPEAT`` times) weighted
(1 + log tf) * idf (Salton & Buckley 1988, "Term-weighting approaches in automatic text
retrieval"; sublinear tf), and cosine is the embedder's.

Raw similarities have hubs: a few generic papers are close to almost everything and would
fill most lists. Each candidate's relatedness is therefore standardised against its own
similarities to the papers of a fixed sample of the collection (search/neighbourhood.py):

    score(x, y) = (relatedness(x, y) - mean_y) / sd_y

("global scaling" of Schnitzer, Flexer, Schedl & Widmer 2012, "Local and global scaling
reduce hubs in space", JMLR 13; the Gaussian mutual proximity there standardises both sides,
but x's own mean and deviation are the same for every candidate of x's list, so they would
not change its order). A paper close to everything has a high mean_y and gains little. The
FEEDBACK_NEIGHBOURS best keep their places; the rest are ordered by their score averaged
with their mean score against those best ones (``ranked``). The list is ordered by this
score, which the reasons show, and shown up to where it falls away (``cut``).

A candidate is a duplicate of the paper when its normalised title is the same
(normalize.title_key) or its words overlap almost wholly (Jaccard >= 0.9; Broder 1997).
docs/search.md ("Similar papers") has the figures behind every constant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np
import numpy.typing as npt

from papertide.models import Hit, Paper
from papertide.normalize import title_key
from papertide.search.tokenize import STOPWORDS, stems, terms_of, words

DENSE_WEIGHT = 0.2
# Title weight in the tf-idf of similar lists, apart from search's title_repeat: lists
# judged on SciFact had recall@10 0.748 with the title twice, 0.742 with title_repeat 4.
TITLE_REPEAT = 2
# The paper's heaviest terms that query the lexical index for candidates (with their weights).
LEXICAL_TERMS = 25
# Candidates read from each side (lexical, embedding) beyond the k a list keeps.
SPARE = 10
DUPLICATE_JACCARD = 0.9
# Pseudo-relevance feedback from a list's best candidates (``ranked``): SciFact
# co-relevance recall@10 0.766 -> 0.783 (docs/search.md, "Similar lists").
FEEDBACK_NEIGHBOURS = 5
FEEDBACK_WEIGHT = 0.5
# A list shown ends at the first paper scoring below CUT_FLOOR or below CUT_SHARE of the
# first one's score (docs/search.md, "Similar papers": where related and unrelated part).
CUT_FLOOR = 5.0
CUT_SHARE = 0.4
# Words that say nothing about a paper's subject, left out of the "shared:" reasons.
GENERIC_WORDS = frozenset(
    """
    use using used uses based show shows shown propose proposed present presents new
    approach approaches method methods result results paper work study studies first
    however well one two three large small high low different various several many
    """.split()
)

Idf = Callable[[list[str]], npt.NDArray[np.float64]]


def paper_terms(paper: Paper, *, title_repeat: int = TITLE_REPEAT) -> list[str]:
    """A paper's stemmed terms, the title ``title_repeat`` times, then the abstract."""
    return Wording.of(paper).terms(title_repeat)


@dataclass(slots=True)
class Wording:
    """A paper's lowercase words (``words``), title and abstract, read once for its terms,
    its duplicate test and the spelling of the words it shares, not once for each
    (docs/search.md, "Similar lists": the levers behind a list's CPU time)."""

    title: list[str]
    abstract: list[str]

    @classmethod
    def of(cls, paper: Paper) -> Wording:
        return cls(words(paper.title), words(paper.abstract))

    def terms(self, title_repeat: int = TITLE_REPEAT) -> list[str]:
        """The stemmed terms, the title ``title_repeat`` times, then the abstract."""
        return terms_of(self.title) * title_repeat + terms_of(self.abstract)

    def distinct(self) -> set[str]:
        """The distinct non-stopword words of title and abstract."""
        return set(self.title).union(self.abstract).difference(STOPWORDS)


@dataclass(slots=True)
class Terms:
    """Unit-length (1 + log tf) * idf term vectors of several papers, one row each (a small
    CSR matrix over a vocabulary of their own): numpy does the per-term work."""

    vocabulary: dict[str, int]
    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int64]
    weights: npt.NDArray[np.float32]
    _names: list[str] | None = None  # the vocabulary in column order, once asked for

    @classmethod
    def of(cls, term_lists: list[list[str]], idf: Idf) -> Terms:
        """The rows of ``term_lists`` (each a paper's terms, repeats counted); a row's
        terms in the order of the vocabulary (first seen first)."""
        flat = list(chain.from_iterable(term_lists))
        names = list(dict.fromkeys(flat))
        vocabulary = dict(zip(names, range(len(names)), strict=True))
        lengths = np.fromiter(map(len, term_lists), dtype=np.int64, count=len(term_lists))
        # Each occurrence as row x |vocabulary| + column: its unique values are the matrix's
        # entries in row order and their counts the term frequencies, in numpy, not a
        # Counter per paper.
        size = max(len(vocabulary), 1)
        keys = np.repeat(np.arange(len(term_lists), dtype=np.int64), lengths) * size
        keys += np.fromiter(map(vocabulary.__getitem__, flat), dtype=np.int64, count=len(flat))
        cells, tf = np.unique(keys, return_counts=True)
        rows, indices = np.divmod(cells, size)
        indptr = np.searchsorted(rows, np.arange(len(term_lists) + 1)).astype(np.int64)
        weights = (1.0 + np.log(tf)) * idf(names)[indices]
        norms = np.sqrt(np.bincount(rows, weights=weights * weights, minlength=len(term_lists)))
        weights = weights / np.maximum(norms, 1e-12)[rows]
        return cls(vocabulary, indptr, indices, weights.astype(np.float32), names)

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def _rows(self) -> npt.NDArray[np.int64]:
        return np.repeat(np.arange(len(self)), np.diff(self.indptr))

    def row(self, i: int) -> dict[str, float]:
        """Row ``i`` as term -> weight."""
        names = self.names()
        span = slice(int(self.indptr[i]), int(self.indptr[i + 1]))
        return {
            names[j]: float(w) for j, w in zip(self.indices[span], self.weights[span], strict=True)
        }

    def names(self) -> list[str]:
        """The vocabulary in column order."""
        if self._names is None:
            self._names = list(self.vocabulary)
        return self._names

    def dense(self, columns: dict[str, int]) -> npt.NDArray[np.float32]:
        """The rows over another vocabulary (``columns``: term -> column; others dropped)."""
        where = column_of(self.vocabulary, columns)[self.indices]
        out = np.zeros((len(self), len(columns)), dtype=np.float32)
        known = where >= 0
        out[self._rows()[known], where[known]] = self.weights[known]
        return out

    def shared(self, i: int, j: int) -> list[str]:
        """The terms rows ``i`` and ``j`` both hold, the largest product of their weights
        first (ties by term): as ``shared_terms`` ranks them from ``row``, without a dict of
        each row."""
        mine = np.zeros(len(self.vocabulary), dtype=np.float64)
        span = slice(int(self.indptr[i]), int(self.indptr[i + 1]))
        mine[self.indices[span]] = self.weights[span]
        span = slice(int(self.indptr[j]), int(self.indptr[j + 1]))
        columns = self.indices[span]
        products = self.weights[span].astype(np.float64) * mine[columns]
        held = products > 0
        names = self.names()
        found = zip((-products[held]).tolist(), [names[c] for c in columns[held]], strict=True)
        return [term for _, term in sorted(found)]

    def dots(self, i: int) -> npt.NDArray[np.float32]:
        """The cosine of row ``i`` with every row."""
        mine = np.zeros(len(self.vocabulary), dtype=np.float32)
        span = slice(int(self.indptr[i]), int(self.indptr[i + 1]))
        mine[self.indices[span]] = self.weights[span]
        products = self.weights * mine[self.indices]
        return np.bincount(self._rows(), weights=products, minlength=len(self)).astype(np.float32)


def column_of(terms: dict[str, int], columns: dict[str, int]) -> npt.NDArray[np.int64]:
    """For each term of ``terms`` (in its order), its column in ``columns``; -1: absent."""
    found = map(columns.get, terms, repeat(-1, len(terms)))
    return np.fromiter(found, dtype=np.int64, count=len(terms))


def word_set(paper: Paper) -> set[str]:
    """The distinct non-stopword words of a paper's title and abstract."""
    return Wording.of(paper).distinct()


def is_duplicate(
    paper: Paper,
    other: Paper,
    *,
    mine: set[str] | None = None,
    theirs: set[str] | None = None,
) -> bool:
    """Whether ``other`` is the same work as ``paper`` under another record (``mine`` and
    ``theirs``: their word sets, when known)."""
    if title_key(paper.title) == title_key(other.title):
        return True
    a = mine if mine is not None else word_set(paper)
    b = theirs if theirs is not None else word_set(other)
    union = len(a | b)
    return union > 0 and len(a & b) / union >= DUPLICATE_JACCARD


def telling_word(word: str) -> bool:
    """Whether a word may stand as a shared term: not a stopword, digit or single letter,
    nor a word any paper might use (GENERIC_WORDS)."""
    return (
        len(word) > 1
        and word not in STOPWORDS
        and word not in GENERIC_WORDS
        and (word.isalpha() or not any(c.isdigit() for c in word))
    )


def shared_terms(
    mine: dict[str, float], other: dict[str, float], other_paper: Paper, limit: int = 4
) -> list[str]:
    """The words that weigh most in both papers (their terms' share of the tf-idf cosine),
    spelt as ``other_paper`` spells them first, telling words only."""
    ranked = sorted((t for t in mine if t in other), key=lambda t: (-mine[t] * other[t], t))
    return spelt_terms(ranked, Wording.of(other_paper), limit)


def spelt_terms(ranked: list[str], read: Wording, limit: int = 4) -> list[str]:
    """The first ``limit`` of ``ranked`` (terms) that the paper whose words are ``read``
    spells with a telling word, each as it spells it first."""
    wanted = set(ranked[: limit * 3])
    spelt: dict[str, str] = {}
    distinct = list(dict.fromkeys(read.title + read.abstract))
    for word, term in zip(distinct, stems(distinct), strict=True):
        if term in wanted and term not in spelt and telling_word(word):
            spelt[term] = word
    return [spelt[t] for t in ranked if t in spelt][:limit]


@dataclass(slots=True)
class Candidates:
    """Papers that may be similar, as rows 1.. of ``terms`` (row 0 is the paper's own), with
    their embedding cosines and their relatedness's mean and deviation over the sample."""

    papers: list[Paper]
    terms: Terms
    cosine: npt.NDArray[np.float32]
    mean: npt.NDArray[np.float32]
    sd: npt.NDArray[np.float32]
    vectors: npt.NDArray[np.float32] | None = None  # the candidates' embeddings (feedback)
    wording: list[Wording] | None = None  # the candidates' words, when read already


def cut(scores: list[float]) -> int:
    """How many of ``scores`` (best first) to show: up to the first below CUT_FLOOR or below
    CUT_SHARE of the first score. The first is shown whenever it is above 0 (closer than the
    candidate's typical paper): a small collection's scores stay below the floor (they
    cannot exceed the square root of the sample's size less one)."""
    if not scores or scores[0] <= 0:
        return 0
    least = max(CUT_FLOOR, CUT_SHARE * scores[0])
    return next((i for i, s in enumerate(scores) if i and s < least), len(scores))


def standardised(found: Candidates) -> npt.NDArray[np.float64]:
    """Each candidate's relatedness to the paper, standardised on the candidate's side."""
    related = found.terms.dots(0)[1:] + DENSE_WEIGHT * found.cosine
    return np.asarray((related - found.mean) / np.maximum(found.sd, 1e-6), dtype=np.float64)


def ranked(found: Candidates) -> list[tuple[int, float]]:
    """Every candidate (its index), best first, with the score a list shows.

    The FEEDBACK_NEIGHBOURS best by the standardised score keep their places; the others
    are ordered by their standardised score averaged, at FEEDBACK_WEIGHT, with their mean
    standardised score against those best ones (pseudo-relevance feedback, Rocchio 1971,
    within the list's own candidates): papers close to what the paper is closest to move
    up. The weighted mean keeps the standardised score's scale, which ``cut`` reads, and a
    score shown never exceeds the one before it."""
    z = np.round(standardised(found), 4)
    pk = [p.pk or 0 for p in found.papers]
    order = sorted(range(len(z)), key=lambda i: (-z[i], pk[i]))
    best, rest = order[:FEEDBACK_NEIGHBOURS], order[FEEDBACK_NEIGHBOURS:]
    out = [(i, float(z[i])) for i in best]
    if not rest or FEEDBACK_WEIGHT <= 0 or found.vectors is None:
        return out + [(i, float(z[i])) for i in rest]
    # The best ones' rows against every row, sparse (Terms.dots): a dense candidates x
    # vocabulary product is big enough for BLAS to spread over threads.
    lexical = np.stack([found.terms.dots(i + 1)[1:] for i in best])
    related = lexical + DENSE_WEIGHT * (found.vectors[best] @ found.vectors.T)
    fed = ((related - found.mean) / np.maximum(found.sd, 1e-6)).mean(axis=0)
    score = np.round((z + FEEDBACK_WEIGHT * fed) / (1 + FEEDBACK_WEIGHT), 4)
    ceiling = out[-1][1]
    rest.sort(key=lambda i: (-score[i], pk[i]))
    return out + [(i, min(float(score[i]), ceiling)) for i in rest]


def rank_similar(paper: Paper, found: Candidates, *, k: int) -> list[Hit]:
    """The ``k`` best candidates (``ranked``), skipping the paper and its duplicates (not
    cut: ``cut`` is for showing them); each hit says its score and the words the papers
    share."""
    words_of_paper = word_set(paper)
    wording = found.wording or [Wording.of(other) for other in found.papers]
    kept: list[tuple[float, int]] = []
    for i, score in ranked(found):
        other = found.papers[i]
        if other.id == paper.id or other.pk == paper.pk:
            continue
        if not is_duplicate(paper, other, mine=words_of_paper, theirs=wording[i].distinct()):
            kept.append((score, i))
            if len(kept) == k:
                break
    hits = []
    for score, i in kept:
        other = found.papers[i]
        why = [f"score {score:.1f}"]
        shared = spelt_terms(found.terms.shared(0, i + 1), wording[i])
        if shared:
            why.append("shared: " + ", ".join(shared))
        hits.append(Hit(other.id or "", score, why, other))
    return hits
