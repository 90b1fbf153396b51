"""Snippets show why: the passage of an abstract holding the most query words, at most
about 300 characters, its words marked, math never cut or marked; reasons in words."""

from __future__ import annotations

from papertide.models import Paper
from papertide.search.snippets import LIMIT, best_passage, reasons
from papertide.search.tokenize import analyze

ABSTRACT = (
    "Large language models are slow to run. "
    "We study the cost of inference on long inputs across many settings and hardware, "
    "with a great many words that say little about the topic at hand in this sentence. "
    "Speculative decoding drafts tokens with a small model and verifies them at once. "
    "Our results hold for $\\mathcal{O}(n)$ memory."
)


def _marked(text: str, query: str) -> list[str]:
    found = best_passage(text, set(analyze(query)))
    assert found is not None
    return [found.text[a:b] for a, b in found.marks]


def test_the_passage_with_the_query_words_is_chosen() -> None:
    # Before: the first lines of the abstract, which hold neither word.
    found = best_passage(ABSTRACT, set(analyze("speculative decoding")))
    assert found is not None and found.text.startswith("Speculative decoding drafts")
    assert len(found.text) <= LIMIT
    assert [found.text[a:b] for a, b in found.marks] == ["Speculative", "decoding"]


def test_a_long_sentence_is_cut_around_its_first_match_on_word_boundaries() -> None:
    filler = " ".join(f"word{i}" for i in range(120))
    text = f"{filler} the kv cache is compressed here {filler}."
    found = best_passage(text, set(analyze("cache")))
    assert found is not None and len(found.text) <= LIMIT + 4  # with the two "…"
    assert found.text.startswith("… word") and found.text.endswith(" …")
    assert _marked(text, "cache") == ["cache"]


def test_math_is_kept_whole_and_never_marked() -> None:
    text = "We bound $\\mathcal{O}(n \\log n)$ memory for memory models. Nothing else here."
    found = best_passage(text, set(analyze("memory log")))
    assert found is not None and "$\\mathcal{O}(n \\log n)$" in found.text
    assert _marked(text, "memory log") == ["memory", "memory"]
    cut = best_passage("x " * 140 + "$" + "a+" * 40 + "b$ memory", set(analyze("memory")))
    assert cut is not None and cut.text.count("$") in (0, 2)


def test_without_a_matching_word_the_opening_is_shown_unmarked() -> None:
    found = best_passage(ABSTRACT, set(analyze("galaxies")))
    assert found is not None and found.text.startswith("Large language models")
    assert found.marks == [] and len(found.text) <= LIMIT
    assert best_passage("   ", {"x"}) is None


def test_reasons_speak_in_words_without_digits_or_single_letters() -> None:
    # Before: "matched: 1 s use speculative; semantic 0.36".
    paper = Paper(title="Speculative decoding at scale", abstract="We use 1 s to decode.")
    wanted = {"specul": "speculative", "decod": "decoding", "1": "1", "s": "s", "use": "use"}
    why = reasons(paper, wanted, close=True, authors=["lecun"])
    assert why == [
        "title and abstract match: speculative decoding use",
        "close in meaning",
        "author: lecun",
    ]
    only_abstract = reasons(paper, {"use": "use"}, close=False, authors=[])
    assert only_abstract == ["abstract matches: use"]
