"""The query language parser: pure; any string is a parsed query or a QueryError (the page
shows it), never a crash."""

from __future__ import annotations

import contextlib
import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papertide.search.query import (
    MatchRule,
    QueryError,
    content_terms,
    nothing_to_search,
    parse_query,
)
from papertide.search.tokenize import analyze, stem, term_spans, terms_in, words
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


def test_content_words_leave_out_stop_words_and_single_characters() -> None:
    assert content_terms(parse_query("the state of a 1 x model -survey")) == ["state", "model"]
    assert content_terms(parse_query('"long context" alert(1)')) == ["alert"]


def test_markup_is_not_words() -> None:
    q = parse_query("<script>alert(1)</script> <b>sparse</b>")
    assert q.words == ["alert", "1", "sparse"]
    assert nothing_to_search(parse_query("<br/><img src=x onerror=alert>")) is not None


@pytest.mark.parametrize("query", ["$", "- ?", "", "  ", "<b></b>", '""', "-"])
def test_a_query_without_words_asks_for_nothing(query: str) -> None:
    reason = nothing_to_search(parse_query(query))
    assert reason is not None and "no words" in reason


@pytest.mark.parametrize("query", ["the", "of the and", "a b c", '"the"', "1"])
def test_a_query_of_stop_words_asks_for_nothing(query: str) -> None:
    reason = nothing_to_search(parse_query(query))
    assert reason is not None and "stop words" in reason


@pytest.mark.parametrize(
    "query", ["attention", "cat:cs.LG", "author:lecun", "-survey", '"long context"', "the 2024"]
)
def test_a_word_phrase_or_filter_is_something_to_search(query: str) -> None:
    assert nothing_to_search(parse_query(query)) is None


def _need(terms: list[str], freq: dict[str, int], n_docs: int = 1000) -> tuple[dict[str, int], int]:
    return MatchRule().weigh(terms, lambda t: freq.get(t, 0), n_docs)


def test_one_or_two_words_are_all_needed() -> None:
    assert _need(["sparse"], {}) == ({"sparse": 1}, 1)
    assert _need(["sparse", "attent"], {"sparse": 10, "attent": 500}) == (
        {"sparse": 1, "attent": 1},
        2,
    )


def test_most_of_a_short_query_is_needed_and_common_words_weigh_less() -> None:
    rare = {"state": 20, "space": 20, "long": 20, "context": 20}
    weights, need = _need(["state", "space", "long"], rare)
    assert weights == {"state": 3, "space": 3, "long": 3} and need == 6  # 2 of 3
    weights, need = _need([*rare, "model"], {**rare, "model": 900})
    assert weights["model"] == 1 and need == 8  # 3 of the 4 telling words; "model" helps less
    assert 3 * 3 >= need > 2 * 3 + 1


def test_a_sentence_needs_a_few_telling_words() -> None:
    terms = ["brca1", "mutat", "increas", "risk", "breast", "cancer", "women"]
    freq = {"brca1": 3, "mutat": 40, "increas": 400, "risk": 200, "breast": 30, "cancer": 90}
    weights, need = _need(terms, {**freq, "women": 150})
    assert weights["brca1"] == 3 and weights["increas"] == 1
    assert sum(weights.values()) == 13 and need == 2  # 15%: "brca1" alone, or two others


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

# A text's words (corner cases and made-up words) and a query's, for the shortcuts that
# stem only the words starting as a query term does.
_TEXT_WORDS = st.lists(
    st.one_of(st.sampled_from(_CORNER_WORDS), st.text(alphabet="aeiouybdlnrsty_-'é2", max_size=9)),
    max_size=25,
)
_QUERY_WORDS = st.lists(st.sampled_from(_CORNER_WORDS), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    _TEXT_WORDS,
    _QUERY_WORDS,
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


@settings(max_examples=300, deadline=None)
@given(
    _TEXT_WORDS,
    _QUERY_WORDS,
    st.sampled_from([" ", "-", "_", ", ", "$", ". "]),
)
def test_term_spans_are_the_words_whose_terms_are_wanted(
    text_words: list[str], query: list[str], sep: str
) -> None:
    """Snippets mark what term_spans finds: every word of the text whose index term is one
    of the query's, at its place, and nothing else."""
    text = sep.join(text_words)
    wanted = {t for w in query for t in analyze(w)}
    expected = [
        (m.start(), m.end(), t)
        for m in re.finditer(r"[^\W_]+", text)
        if (t := stem(m.group().lower())) in wanted
    ]
    assert term_spans(text, wanted) == expected


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x17F)) | st.text(max_size=40))
def test_words_are_the_runs_of_letters_and_digits_in_ascii_text_and_any_other(
    text: str,
) -> None:
    """ASCII text is split by a translation table, other text by the pattern: the words
    are the same either way (letters and digits, lowercase; underscores and all else
    separate)."""
    assert words(text) == re.findall(r"[^\W_]+", text.lower())


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
