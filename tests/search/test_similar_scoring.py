"""Similar lists: hubs standardised away, order by the score shown, shown up to where the
scores fall away, shared terms without noise, and the stored list equal to the first view."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from papertide.config import Settings
from papertide.models import Paper
from papertide.search import SearchService
from papertide.search.neighbourhood import WHOLE, Idf, Moments, Whole, sample_pks
from papertide.search.similar import (
    CUT_FLOOR,
    Candidates,
    Terms,
    cut,
    rank_similar,
    shared_terms,
)
from papertide.store import Store
from papertide.store.similar import SimilarItem
from tests.support.search_corpus import add_papers, paper, pk_of


def _paper(pk: int, title: str, abstract: str = "") -> Paper:
    return Paper(title=title, abstract=abstract, id=f"p{pk}", pk=pk)


def _flat_idf(terms: list[str]) -> np.ndarray:
    return np.ones(len(terms))


def test_a_candidate_close_to_every_paper_ranks_below_an_equally_close_specific_one() -> None:
    """Two candidates share as much with the paper; the one whose relatedness to the sample
    is high everywhere (a hub) scores lower, and the order follows the scores shown."""
    paper = _paper(1, "kernel sparse attention")
    hub, specific = _paper(2, "kernel survey attention"), _paper(3, "sparse attention proof")
    terms = Terms.of(
        [["kernel", "spars", "attent"], ["kernel", "attent"], ["spars", "attent"]], _flat_idf
    )
    found = Candidates(
        [hub, specific],
        terms,
        cosine=np.array([0.8, 0.8], dtype=np.float32),
        mean=np.array([0.5, 0.1], dtype=np.float32),
        sd=np.array([0.1, 0.1], dtype=np.float32),
    )
    hits = rank_similar(paper, found, k=5)
    assert [h.paper_id for h in hits] == ["p3", "p2"]
    assert hits[0].score > hits[1].score
    assert [h.why[0] for h in hits] == [f"score {h.score:.1f}" for h in hits]


def test_a_list_is_shown_up_to_where_its_scores_fall_away() -> None:
    assert cut([12.0, 11.0, 9.0, 4.0, 8.0]) == 3  # 4.0 is under the floor
    assert cut([20.0, 12.0, 7.0]) == 2  # 7.0 is under 0.4 of 20
    assert cut([3.0, 2.0]) == 1  # a small collection: the closest paper still shows
    assert cut([-1.0]) == 0 and cut([]) == 0
    assert CUT_FLOOR > 0


def test_shared_terms_leave_out_digits_single_letters_and_generic_words() -> None:
    other = _paper(2, "Using 1 s-curve for KV cache compression", "Using caches, s and 1 help.")
    mine = {"use": 0.5, "1": 0.5, "s": 0.5, "kv": 0.3, "cach": 0.4, "compress": 0.2}
    theirs = {"use": 0.5, "1": 0.5, "s": 0.5, "kv": 0.3, "cach": 0.4, "compress": 0.2}
    assert shared_terms(mine, theirs, other) == ["cache", "kv", "compression"]


def test_the_sample_is_the_same_for_every_process_until_the_pks_double() -> None:
    assert sample_pks(10) == list(range(1, 11))
    assert sample_pks(WHOLE) == list(range(1, WHOLE + 1))  # a small collection: every paper
    assert sample_pks(1_000) == list(range(1, 1_001, 8))
    assert sample_pks(1_000)[:100] == sample_pks(1_020)[:100]
    assert 64 <= len(sample_pks(100_000)) <= 128


def test_idf_is_asked_once_per_term() -> None:
    asked: list[str] = []

    def doc_freq(term: str) -> int:
        asked.append(term)
        return 9

    idf = Idf(doc_freq, 99)
    first = idf(["a", "b", "a"])
    assert list(idf(["b", "a"])) == [first[1], first[0]] and asked == ["a", "b"]
    assert first[0] == pytest.approx(np.log(100 / 10) + 1)


def _precomputed_elsewhere(svc: SearchService, store: Store, pk: int) -> list[SimilarItem]:
    """The list of ``pk`` as another process on the same index stores it (the worker's
    precompute)."""
    again = SearchService.open(svc.settings, store)
    try:
        assert again.precompute_similar([pk]) == 1
    finally:
        again.close()
    stored = store.similar_list(pk)
    assert stored is not None
    return list(stored.items)


def test_the_stored_list_equals_the_list_a_first_view_computes(
    svc: SearchService, store: Store
) -> None:
    """The worker's precomputed list and a page's first view rank the same papers with the
    same scores (one index, one sample)."""
    pk = pk_of(store, "2401.00001")
    first = svc.similar("2401.00001", k=5, cut=False)
    assert first and [h.score for h in first] == sorted((h.score for h in first), reverse=True)
    store.clear_similar()
    svc._similar.clear()
    stored = _precomputed_elsewhere(svc, store, pk)
    assert [(p, s) for p, s, _ in stored][: len(first)] == [
        (h.paper.pk, h.score) for h in first if h.paper
    ]


def _random_papers(rng: np.random.Generator, n: int) -> tuple[Terms, np.ndarray]:
    vocabulary = [f"t{i}" for i in range(30)]
    lists = [list(rng.choice(vocabulary, size=int(rng.integers(3, 12)))) for _ in range(n)]
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Terms.of(lists, _flat_idf), vectors


def test_the_sample_moments_give_a_candidates_exact_mean_relatedness_itself_left_out() -> None:
    """From the sample's per-term and embedding moments, a candidate's mean relatedness to
    the sample is the mean over its papers one by one, a sample paper's own left out; its
    deviation is of the same size (the terms' covariance aside)."""
    rng = np.random.default_rng(7)
    terms, vectors = _random_papers(rng, 40)
    sample_pks_, sample_rows = list(range(1, 41, 2)), list(range(0, 40, 2))
    sample = Terms.of([_row_terms(terms, i) for i in sample_rows], _flat_idf)
    # Candidates: rows 0-9 of ``terms`` (pks 1-10: every other one is in the sample).
    candidates = Terms.of([_row_terms(terms, i) for i in range(10)], _flat_idf)
    pks = list(range(1, 11))
    exact = Whole(sample_pks_, sample, vectors[sample_rows]).spread(
        pks, candidates, 0, vectors[:10]
    )
    moments = Moments(sample_pks_, sample, vectors[sample_rows]).spread(
        pks, candidates, 0, vectors[:10]
    )
    assert moments[0] == pytest.approx(exact[0], abs=1e-5)
    assert np.all(moments[1] > 0.3 * exact[1]) and np.all(moments[1] < 3 * exact[1])


def test_with_no_term_in_common_with_the_sample_a_candidates_deviation_is_exact() -> None:
    """The embedding part of the moments (the candidate's cosines with the sample's
    papers) is exact: a candidate sharing no term with the sample has the same mean and
    deviation of relatedness from the moments as from the sample's papers one by one."""
    rng = np.random.default_rng(11)
    terms, vectors = _random_papers(rng, 30)
    sample = Terms.of([_row_terms(terms, i) for i in range(20)], _flat_idf)
    candidates = Terms.of([["elsewhere", "apart"], ["unseen"]], _flat_idf)
    pks, sample_pks_ = [101, 102], list(range(1, 21))
    exact = Whole(sample_pks_, sample, vectors[:20]).spread(pks, candidates, 0, vectors[20:22])
    moments = Moments(sample_pks_, sample, vectors[:20]).spread(pks, candidates, 0, vectors[20:22])
    assert moments[0] == pytest.approx(exact[0], abs=1e-5)
    assert moments[1] == pytest.approx(exact[1], rel=1e-4)


def test_the_shared_terms_of_two_rows_rank_as_the_product_of_their_weights() -> None:
    """Terms.shared (what a hit's reasons read) ranks the terms both rows hold as
    shared_terms ranks them from the rows' dicts: heaviest product first, ties by term."""
    rng = np.random.default_rng(5)
    terms, _ = _random_papers(rng, 12)
    mine = terms.row(0)
    for j in range(1, 12):
        theirs = terms.row(j)
        both = sorted((t for t in mine if t in theirs), key=lambda t: (-mine[t] * theirs[t], t))
        assert terms.shared(0, j) == both


def _row_terms(terms: Terms, i: int) -> list[str]:
    """Row ``i`` of ``terms`` back as a term list (each term once: flat idf, tf 1)."""
    return list(terms.row(i))


def test_feedback_from_the_best_candidates_orders_the_rest_and_scores_never_rise() -> None:
    """Two candidates as close to the paper; the one that shares the subject of the paper's
    five best candidates comes first, the five keep their places, and no score shown
    exceeds the one before it."""
    paper = _paper(1, "quantum error correction codes")
    best = [_paper(10 + i, f"surface code decoder {i}") for i in range(5)]
    near, apart = _paper(21, "decoder for codes"), _paper(20, "codes in music")
    lists = [["quantum", "error", "correct", "code"]]
    lists += [["quantum", "error", "code", "decod", "surfac"]] * 5
    lists += [["code", "decod"], ["code", "music"]]
    terms = Terms.of(lists, _flat_idf)
    vectors = np.tile(np.eye(4, dtype=np.float32)[0], (7, 1))
    found = Candidates(
        [*best, near, apart],
        terms,
        cosine=np.ones(7, dtype=np.float32),
        mean=np.zeros(7, dtype=np.float32),
        sd=np.full(7, 0.1, dtype=np.float32),
        vectors=vectors,
    )
    plain = rank_similar(
        paper,
        dataclasses.replace(found, vectors=None),
        k=7,
    )
    # As close to the paper: without feedback, a tie, broken by pk.
    assert [h.paper_id for h in plain[5:]] == ["p20", "p21"]
    assert plain[5].score == plain[6].score
    hits = rank_similar(paper, found, k=7)
    assert [h.paper_id for h in hits[:5]] == [h.paper_id for h in plain[:5]]
    assert [h.paper_id for h in hits[5:]] == ["p21", "p20"]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_beyond_a_small_collection_the_stored_list_equals_the_first_view_by_moments(
    svc: SearchService, store: Store, settings: Settings
) -> None:
    """Past WHOLE papers the lists standardise against the sample's moments; the worker's
    list and a page's first view still rank the same papers with the same scores."""
    rng = random.Random(3)
    topics = [[f"w{t}x{i}" for i in range(12)] for t in range(20)]
    extra = []
    for n in range(100, 100 + WHOLE):
        words_ = rng.choices(topics[n % 20], k=30) + rng.choices(topics[rng.randrange(20)], k=10)
        extra.append(
            paper(n, " ".join(words_[:5]), " ".join(words_), "A. Author", "cs.LG", "2024-02-01")
        )
    add_papers(store, settings, extra)
    svc.refresh()
    assert isinstance(svc._sample(), Moments)
    first = svc.similar("2401.00105", k=8, cut=False)
    assert len(first) == 8
    assert [h.score for h in first] == sorted((h.score for h in first), reverse=True)
    pk = pk_of(store, "2401.00105")
    store.clear_similar()
    stored = _precomputed_elsewhere(svc, store, pk)
    assert [(p, s) for p, s, _ in stored][:8] == [(h.paper.pk, h.score) for h in first if h.paper]
