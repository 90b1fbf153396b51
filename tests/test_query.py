"""The query language parser: pure, never raises."""

from __future__ import annotations

from datetime import date

import pytest

from papertide.search.query import parse_query


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
