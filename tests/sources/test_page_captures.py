"""The trending-page capture parser, on the real seed captures and on hand-made pages."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from papertide.models import Listing, Record, RecordError
from papertide.sources.files import detect_format, numbered_lines
from papertide.sources.pages import parse_page, parse_page_date


def _parse(path: Path, **kwargs: object) -> list[Record | RecordError | Listing]:
    return list(parse_page(numbered_lines(path), str(path), **kwargs))  # type: ignore[arg-type]


def test_parse_page_date_infers_the_latest_past_year() -> None:
    today = date(2026, 11, 22)
    assert parse_page_date("Mar 12", today=today) == date(2026, 3, 12)
    assert parse_page_date("Dec 24", today=today) == date(2025, 12, 24)
    assert parse_page_date("Mar 12", year=2024) == date(2024, 3, 12)
    assert parse_page_date("Feb 29", year=2023) == date(2023, 2, 28)
    assert parse_page_date("Feb 29", year=2024) == date(2024, 2, 29)
    assert parse_page_date("March 12, 2024") == date(2024, 3, 12)
    assert parse_page_date("2024-03-12") == date(2024, 3, 12)
    assert parse_page_date("Subscribe") is None


def test_seed_capture_gives_papers_in_order_then_its_listing(seeds: list[Path]) -> None:
    items = _parse(seeds[0], year=2025)
    records = [i for i in items if isinstance(i, Record)]
    assert not [i for i in items if isinstance(i, RecordError)]
    assert len(records) == 85
    first = records[0].paper
    assert first.title.startswith("MInference 1.0: Accelerating Pre-filling")
    assert first.abstract.startswith("The computational challenges of Large Language Model")
    assert first.listed_on == date(2025, 3, 12)
    # Every paper on the page was listed there that day, not only the subject.
    assert all(r.paper.listed_on == date(2025, 3, 12) for r in records)
    assert records[1].paper.title.startswith("Improving FIM Code Completions")
    assert records[0].line == 11  # line 9 is "Mar 12"
    listing = items[-1]
    assert isinstance(listing, Listing)
    assert listing.listed_on == date(2025, 3, 12)
    assert listing.positions == list(range(85))


def test_seed_capture_doubled_abstract_is_repaired(seeds: list[Path]) -> None:
    records = [i for i in _parse(seeds[0]) if isinstance(i, Record)]
    (paper,) = [r.paper for r in records if r.paper.title.startswith("Comparing Dataset")]
    sentence = "This paper explores the effects that two dataset characteristics"
    assert paper.abstract.count(sentence) == 1
    assert paper.abstract.endswith("considerably better than the Apriori algorithm.")


def test_latex_in_titles_is_kept_as_text(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text(
        "new\n\nSubscribe\n\nApr 9\n\n$\\mathbb{USCD}$: Sparse Attention at Scale\n\n"
        "We study $O(n)$ attention.\n"
    )
    (record,) = [i for i in _parse(page) if isinstance(i, Record)]
    assert record.paper.title == "$\\mathbb{USCD}$: Sparse Attention at Scale"
    assert record.paper.abstract == "We study $O(n)$ attention."


def test_invalid_utf8_paragraph_skips_only_that_paper(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_bytes(
        b"Subscribe\n\nMar 12\n\nGood title\n\nGood abstract.\n\n"
        b"Bad \xff title\n\nIts abstract.\n\nLast title\n\nLast abstract.\n"
    )
    items = _parse(page)
    titles = [i.paper.title for i in items if isinstance(i, Record)]
    errors = [i for i in items if isinstance(i, RecordError)]
    assert titles == ["Good title", "Last title"]
    assert [(e.line, e.reason) for e in errors] == [(9, "title is not valid UTF-8; paper skipped")]


def test_page_without_date_line_is_one_error(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_text("Get trending papers in your email inbox!\n\nA title\n\nAn abstract.\n")
    items = _parse(page)
    assert len(items) == 1
    assert isinstance(items[0], RecordError)
    assert "no date line" in items[0].reason


def test_prose_in_title_position_realigns_the_pairs(tmp_path: Path) -> None:
    orphan = "An abstract that lost its title. " * 20
    page = tmp_path / "page.txt"
    page.write_text(f"Mar 12\n\n{orphan}\n\nReal title\n\nReal abstract.\n")
    items = _parse(page)
    assert isinstance(items[0], RecordError)
    assert items[0].reason == "abstract paragraph without a title"
    assert items[0].line == 3
    assert isinstance(items[1], Record)
    assert items[1].paper.title == "Real title"


def test_detect_format_recognises_seed_captures(seeds: list[Path]) -> None:
    assert {detect_format(p) for p in seeds} == {"page"}
