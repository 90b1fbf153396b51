"""The match rule asked of tantivy: whatever form the query takes (a conjunction, a
disjunction, the smallest sets of words that are enough, or one minimum-match query), it
finds exactly the papers whose held words weigh enough, scores each by BM25 over every word
it holds, and counts the same restricted to a few papers as on its own. Over a real
tantivy index of papers holding every combination of six words."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papertide.models import Paper
from papertide.search import filters as fq
from papertide.search.lexical import LexicalIndex, pk_query
from papertide.search.query import parse_query
from papertide.search.tokenize import stem

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
FILLER = "report on the measured results of the study"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> tuple[LexicalIndex, dict[int, set[str]]]:
    """Each non-empty combination of WORDS held by two papers of different lengths, and
    papers holding none: 128 papers."""
    lexical = LexicalIndex(Path(tmp_path_factory.mktemp("rule")), title_repeat=2)
    held: dict[int, set[str]] = {}
    papers = []
    pk = 0
    for size in range(len(WORDS) + 1):
        for chosen in combinations(WORDS, size):
            for padding in (1, 3):
                pk += 1
                held[pk] = {stem(w) for w in chosen}
                abstract = " ".join([*chosen, *[FILLER] * padding, *chosen[: pk % 3]])
                papers.append(Paper(title=f"Paper {pk}", abstract=abstract, pk=pk))
    lexical.upsert(papers)
    lexical.commit()
    return lexical, held


def _minimum_match(lexical: LexicalIndex, weights: dict[str, int], need: int) -> object:
    """The rule as one minimum-match query (each word counted its weight's times)."""
    clauses = []
    for term, weight in weights.items():
        clause = fq.Query.term_query(lexical.schema, "body", term)
        clauses.append((fq.Occur.Should, clause))
        silent = fq.Query.const_score_query(clause, 0.0)
        clauses += [(fq.Occur.Should, silent)] * (weight - 1)
    return fq.Query.boolean_query(clauses, minimum_number_should_match=need)


@settings(max_examples=150, deadline=None)
@given(
    chosen=st.lists(st.sampled_from(WORDS), min_size=1, max_size=len(WORDS), unique=True),
    data=st.data(),
)
def test_the_rule_finds_and_scores_what_a_minimum_match_query_does(
    index: tuple[LexicalIndex, dict[int, set[str]]], chosen: list[str], data: st.DataObject
) -> None:
    lexical, held = index
    parsed = parse_query(" ".join(chosen))
    terms = [stem(w) for w in chosen]
    weights = {t: data.draw(st.integers(1, 3), label=f"weight of {t}") for t in terms}
    need = data.draw(st.integers(1, sum(weights.values())), label="need")
    query = fq.text_query(lexical.schema, parsed, 0.0, (weights, need))
    assert query is not None

    found, total = lexical.search(query, 200)
    expected = {
        pk for pk, words in held.items() if sum(weights[t] for t in words & set(terms)) >= need
    }
    assert {pk for pk, _ in found} == expected
    assert total == len(expected)

    reference, _ = lexical.search(_minimum_match(lexical, weights, need), 200)  # type: ignore[arg-type]
    assert dict(found) == pytest.approx(dict(reference), rel=1e-5)

    # Restricted to a few papers (as a search counts its dense candidates), the same rule.
    few = sorted(data.draw(st.sets(st.sampled_from(sorted(held)), min_size=1, max_size=20)))
    only = fq.Query.const_score_query(pk_query(lexical.schema, few), 0.0)
    assert lexical.count(fq.restrict(query, [(fq.Occur.Must, only)])) == len(expected & set(few))


def test_a_long_query_keeps_one_minimum_match_query() -> None:
    # Nine words with need 2: the smallest sets are too many to ask one by one.
    terms = [f"w{i}" for i in range(9)]
    assert fq._smallest_sets(terms, dict.fromkeys(terms, 1), 2) is None
    assert fq._smallest_sets(terms[:3], dict.fromkeys(terms[:3], 1), 2) == [
        ("w0", "w1"),
        ("w0", "w2"),
        ("w1", "w2"),
    ]
    # A heavy word is enough alone; the light ones only together.
    assert fq._smallest_sets(["a", "b", "c"], {"a": 3, "b": 1, "c": 1}, 2) == [("a",), ("b", "c")]
