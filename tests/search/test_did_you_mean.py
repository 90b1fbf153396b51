"""Did you mean: a query with words no paper holds gets the collection's own spelling,
offered only when it finds more; phrases, exclusions and field: terms stay as typed."""

from __future__ import annotations

import pytest

from papertide.search import SearchService
from papertide.search.spelling import osa, suggest


def test_edit_distance_counts_a_swap_as_one() -> None:
    assert osa("speculaitve", "speculative") == 1
    assert osa("decodng", "decoding") == 1
    assert osa("", "abc") == 3 and osa("same", "same") == 0
    assert osa("ca", "abc") == 3  # optimal string alignment: no edit of a swapped pair


def test_a_misspelt_query_is_offered_the_collection_spelling(svc: SearchService) -> None:
    # Before: a misspelt query found little and said nothing about it.
    found = svc.search("sparce atention")
    assert found.suggestion == "sparse attention"
    assert svc.search("sparse attention").total > found.total
    assert suggest("galaxeis", svc.lexical) == "galaxies"


def test_known_words_get_no_suggestion(svc: SearchService) -> None:
    assert svc.search("sparse attention").suggestion is None
    assert svc.search("xyzzyplugh").suggestion is None  # nothing close to correct it to


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"sparce atention" galaxeis', '"sparce atention" galaxies'),
        ("author:lovlace sparce", "author:lovlace sparse"),
        ("-atention sparce", "-atention sparse"),
        ("cat:cs.CL sparce.", "cat:cs.CL sparse."),
    ],
)
def test_phrases_exclusions_and_fields_are_kept(
    svc: SearchService, query: str, expected: str
) -> None:
    assert suggest(query, svc.lexical) == expected


def test_no_suggestion_unless_the_correction_finds_more(svc: SearchService) -> None:
    # "sparce" alone is corrected, but with a word no paper holds the correction still
    # finds no paper by its words (two words: both needed), so nothing is offered.
    assert suggest("sparce xyzzyplugh", svc.lexical) == "sparse xyzzyplugh"
    assert svc.search("sparce xyzzyplugh", mode="bm25").suggestion is None
    assert svc.search("sparce", mode="bm25").suggestion == "sparse"
