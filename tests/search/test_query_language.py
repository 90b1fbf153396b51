"""The query language parser: pure; any string is a parsed query or a QueryError (the page
shows it), never a crash."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papertide.search.query import QueryError, parse_query
from papertide.search.tokenize import analyze, terms_in
from tests.support.fuzzing import FUZZ, QUERIES


def test_every_part_of_the_language() -> None:
    q = parse_query(
        'Sparse attention "long context" -survey -"state space" author:lecun '
        'author:"Ada Lovelace" cat:cs.LG after:2024-01 before:2025-02-03'
    )
    assert q.words == ["sparse", "attention"]
    assert q.phrases == ["long context"]
    assert q.excluded == ["survey", "state space"]
    assert q.authors == ["lecun", "ada lovelace"]
    assert q.categories == ["cs.lg"]
    assert (q.after, q.before) == (date(2024, 1, 1), date(2025, 2, 3))
    assert q.text == "Sparse attention long context" and q.notice is None


def test_unknown_prefixes_and_inner_hyphens_are_text() -> None:
    q = parse_query("ratio:1 non-coding RNA")
    assert q.words == ["ratio", "1", "non", "coding", "rna"] and not q.has_filters


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ('sparse "attention', "unbalanced quote"),
        ("attention after:2024-13-01", "not a date"),
        ("attention after:yesterday", "not a date"),
        ("attention author:", "needs a value"),
        ("x after:2025 before:2024", "not earlier"),
        ("x -cat:cs.LG", "not supported"),
    ],
)
def test_malformed_queries_fall_back_to_text(query: str, reason: str) -> None:
    q = parse_query(query)
    assert q.notice and reason in q.notice and "plain text" in q.notice
    assert not q.has_filters and q.words


def test_empty_and_filter_only_queries() -> None:
    assert parse_query("").text == "" and parse_query("   ").notice is None
    q = parse_query("cat:hep-th")
    assert q.text == "" and q.categories == ["hep-th"] and q.has_filters


# Words chosen to hit Snowball's corner cases: exceptional forms (dying, skies, news),
# suffixes that rewrite the ending (generalization, happily), stems shorter than two
# letters (ued), non-ASCII letters and digits.
_CORNER_WORDS = [
    "dying",
    "die",
    "lying",
    "lies",
    "tying",
    "tied",
    "skies",
    "sky",
    "news",
    "idly",
    "early",
    "only",
    "generalization",
    "generalize",
    "happily",
    "happy",
    "ued",
    "aed",
    "relational",
    "naïve",
    "Über",
    "x2",
    "gpt4",
    "attention",
    "attentive",
    "sparse",
    "sparsity",
    "a",
    "the",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(_CORNER_WORDS), st.text(alphabet="aeiouybdlnrsty_-'é2", max_size=9)
        ),
        max_size=25,
    ),
    st.lists(st.sampled_from(_CORNER_WORDS), min_size=1, max_size=4),
    st.sampled_from([" ", "-", "_", ", ", "$"]),
)
def test_terms_in_agrees_with_full_analysis(
    text_words: list[str], query: list[str], sep: str
) -> None:
    """why_matched's shortcut (stem only words that start as a term does) finds exactly the
    query terms that tokenizing the whole text finds."""
    text = sep.join(text_words)
    wanted = {t for w in query for t in analyze(w)}
    assert terms_in(text, wanted) == set(analyze(text)) & wanted


def test_terms_in_finds_respelled_exceptions() -> None:
    assert terms_in("Dying stars", analyze("die")) == {"die"}
    assert terms_in("Skies of Mars", analyze("sky")) == {"sky"}
    assert terms_in("a died-out line", analyze("dying")) == {"die"}
    assert terms_in("nothing here", analyze("dying")) == set()


@settings(FUZZ, max_examples=200)
@given(query=QUERIES)
def test_query_parser_parses_or_raises_query_error(query: str) -> None:
    """Any string is a parsed query or a QueryError (the page shows it), never a crash."""
    with contextlib.suppress(QueryError):
        parse_query(query)
