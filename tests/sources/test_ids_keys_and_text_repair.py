"""Pure text helpers: arXiv ids, dedupe keys, doubled-text repair."""

from __future__ import annotations

import pytest

from papertide import normalize
from papertide.normalize import (
    author_key,
    clean_text,
    parse_arxiv_id,
    repair_doubled,
    stable_id,
    title_key,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2407.02490", ("2407.02490", None)),
        ("2407.02490v3", ("2407.02490", 3)),
        ("arXiv:2407.02490v2", ("2407.02490", 2)),
        ("https://arxiv.org/abs/2407.02490v2", ("2407.02490", 2)),
        ("https://arxiv.org/pdf/2407.02490v1.pdf", ("2407.02490", 1)),
        ("0704.0001", ("0704.0001", None)),
        ("hep-th/9901001v1", ("hep-th/9901001", 1)),
        ("math.GT/0309136", ("math.GT/0309136", None)),
        ("not an id", None),
        ("", None),
    ],
)
def test_parse_arxiv_id(text: str, expected: tuple[str, int | None] | None) -> None:
    assert parse_arxiv_id(text) == expected


def test_title_key_ignores_case_accents_punctuation_and_spacing() -> None:
    assert title_key("  Über-Fast  Attention: A Study!") == title_key("uber fast attention a study")
    assert title_key("$\\mathbb{USCD}$: Attention") == "mathbb uscd attention"


def test_author_key_is_folded_last_name_of_first_author() -> None:
    assert author_key(["C. Balázs", "E. L. Berger"]) == "balazs"
    assert author_key([]) == ""


def test_clean_text_collapses_wrapped_lines() -> None:
    wrapped = "  A fully\n  differential\tcalculation \n"
    assert clean_text(wrapped) == "A fully differential calculation"


def test_stable_id_is_deterministic_and_short() -> None:
    assert stable_id("title:x|y") == stable_id("title:x|y")
    assert stable_id("title:x|y") != stable_id("title:x|z")
    assert len(stable_id("a")) == 12


def test_repair_doubled_drops_a_repeated_run_of_sentences() -> None:
    text = (
        "Intro sentence one. Intro sentence two. Block A is a long sentence. "
        "Block B is another long one. Block A is a long sentence. Block B is another long one."
    )
    assert repair_doubled(text) == (
        "Intro sentence one. Intro sentence two. Block A is a long sentence. "
        "Block B is another long one."
    )


def test_repair_doubled_keeps_short_deliberate_repeats() -> None:
    assert repair_doubled("Yes. Yes. It works.") == "Yes. Yes. It works."


def test_repair_doubled_handles_whole_paragraph_doubling() -> None:
    once = "We study the problem of dense retrieval. We propose a new method for it."
    assert repair_doubled(f"{once} {once}") == once


def test_repair_doubled_is_linear_on_long_text_without_repeats(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a sentence that recurs is compared with what follows it: text without repeats
    makes no comparison at all (the old code compared every sentence with every later one,
    20,000 sentences took 4 s), and each repeat costs one."""
    calls: list[int] = []
    real = normalize._drop_repeat_at

    def counted(sentences: list[str], start: int, candidates: list[int], min_chars: int) -> bool:
        calls.append(len(candidates))
        return real(sentences, start, candidates, min_chars)

    monkeypatch.setattr(normalize, "_drop_repeat_at", counted)
    text = " ".join(f"Sentence number {i} says something different." for i in range(20000))
    assert repair_doubled(text) == text
    assert calls == []
    block = " ".join(f"Block sentence {i} is long enough to count." for i in range(5))
    calls.clear()
    assert repair_doubled(f"Intro here. {block} {block} The end.") == (
        f"Intro here. {block} The end."
    )
    assert calls == [1]  # the block's first sentence recurs once: one comparison, one cut
