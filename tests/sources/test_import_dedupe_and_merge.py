"""Importing into a real store (SQLite file and PostgreSQL): dedupe, merge, idempotence."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path

import orjson
import pytest

from papertide.bench.synth import write_snapshot
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.store import Store
from tests.conftest import SCIFACT, page_subject


def _snapshot_line(arxiv_id: str, title: str, *, versions: int = 1, **extra: object) -> bytes:
    obj = {
        "id": arxiv_id,
        "title": title,
        "abstract": extra.pop("abstract", "An abstract."),
        "authors": "Ada Lovelace, Alan Turing",
        "authors_parsed": [["Lovelace", "Ada", ""], ["Turing", "Alan", ""]],
        "categories": extra.pop("categories", "cs.LG stat.ML"),
        "versions": [
            {"version": f"v{v}", "created": f"Mon, {v} Apr 2024 10:00:00 GMT"}
            for v in range(1, versions + 1)
        ],
        "update_date": "2024-04-10",
        **extra,
    }
    return orjson.dumps(obj) + b"\n"


def test_seed_captures_give_each_paper_once_and_reimport_changes_nothing(
    any_store: Store, any_settings: Settings, seeds: list[Path]
) -> None:
    first = ingest_paths(any_store, seeds, settings=any_settings)
    assert (first.added, first.changed, first.records, first.errors) == (216, 0, 247, [])
    # 31 records are papers another page listed too: repeats, not "unchanged" papers.
    assert (first.unchanged, first.repeated) == (0, 31)
    assert first.listings_added == 3
    assert any_store.count_papers() == 216
    again = ingest_paths(any_store, seeds, settings=any_settings)
    assert (again.added, again.changed, again.unchanged, again.repeated) == (0, 0, 216, 31)
    assert (again.listings_added, again.listings_changed) == (0, 0)
    assert any_store.count_papers() == 216


def test_page_listing_keeps_subject_and_order(
    any_store: Store, any_settings: Settings, seeds: list[Path]
) -> None:
    options = IngestOptions(page_year=2025)
    ingest_paths(any_store, seeds[:1], settings=any_settings, options=options)
    subject = page_subject(any_store, date(2025, 3, 12))
    assert subject.title.startswith("MInference 1.0")
    ((day, listing_subject, others),) = any_store.listed_with(subject)
    assert str(day) == "2025-03-12"
    assert listing_subject.id == subject.id
    assert len(others) == 84
    assert others[0].title.startswith("Improving FIM Code Completions")
    assert others[1].title == "Deep Networks Always Grok and Here is Why"
    # A listed paper knows the page it was listed on.
    ((_, listed_subject, _),) = any_store.listed_with(others[1])
    assert listed_subject.id == subject.id


def test_snapshot_import_and_reimport(any_store: Store, any_settings: Settings, tmp_path: Path):
    source = write_snapshot(tmp_path / "snap.jsonl", 3000)
    options = IngestOptions(fmt="arxiv-snapshot")
    first = ingest_paths(any_store, [source], settings=any_settings, options=options)
    assert (first.added, first.changed, first.records) == (3000, 0, 3000)
    again = ingest_paths(any_store, [source], settings=any_settings, options=options)
    assert (again.added, again.changed, again.unchanged) == (0, 0, 3000)
    stats = any_store.stats()
    assert stats["papers"] == 3000
    assert stats["by_source"] == {"arxiv-snapshot": 3000}
    primaries = Counter(
        orjson.loads(line)["categories"].split()[0] for line in source.read_bytes().splitlines()
    )
    assert stats["by_category"] == {c: primaries[c] for c in stats["by_category"]}
    assert len(stats["by_category"]) == min(20, len(primaries))  # the top 20 of them
    assert sorted(stats["by_category"].values(), reverse=True) == [
        n for _, n in primaries.most_common(20)
    ]


def test_newer_version_wins_older_does_not(any_store: Store, any_settings: Settings, tmp_path):
    v1 = tmp_path / "v1.jsonl"
    v2 = tmp_path / "v2.jsonl"
    v1.write_bytes(_snapshot_line("2404.00001", "Old title", abstract="Old abstract."))
    v2.write_bytes(_snapshot_line("2404.00001", "New title", versions=2, abstract="", doi="10.1/x"))
    ingest_paths(any_store, [v1], settings=any_settings)
    report = ingest_paths(any_store, [v2], settings=any_settings)
    assert (report.added, report.changed) == (0, 1)
    paper = any_store.get_paper("2404.00001v2")
    assert paper is not None
    assert paper.title == "New title"
    assert paper.abstract == "Old abstract."  # an empty value never overwrites a good one
    assert paper.doi == "10.1/x"
    assert paper.arxiv_version == 2
    back = ingest_paths(any_store, [v1], settings=any_settings)  # the older version again
    assert (back.added, back.changed) == (0, 0)
    paper = any_store.get_paper("2404.00001")
    assert paper is not None
    assert paper.title == "New title"


def test_page_capture_and_snapshot_record_merge_into_one(
    any_store: Store, any_settings: Settings, tmp_path: Path
) -> None:
    page = tmp_path / "page.txt"
    page.write_text("Subscribe\n\nMar 12\n\nSparse Attention, Revisited\n\nShort abstract.\n")
    snap = tmp_path / "snap.jsonl"
    snap.write_bytes(_snapshot_line("2403.01234", "Sparse attention revisited", abstract="Long."))
    ingest_paths(any_store, [page], settings=any_settings)
    page_paper = any_store.list_papers()[0]
    report = ingest_paths(any_store, [snap], settings=any_settings)
    assert (report.added, report.changed) == (0, 1)
    assert any_store.count_papers() == 1
    paper = any_store.get_paper("arXiv:2403.01234")
    assert paper is not None
    assert paper.id == page_paper.id  # the public id is stable once given
    assert paper.sources == ["page", "arxiv-snapshot"]
    assert paper.authors == ["Ada Lovelace", "Alan Turing"]
    assert paper.categories == ["cs.LG", "stat.ML"]
    assert paper.title == "Sparse attention revisited"  # dated arXiv data is newer
    assert paper.listed_on is not None  # the page's day stays


def test_same_title_different_first_author_are_two_papers(
    any_store: Store, any_settings: Settings, tmp_path: Path
) -> None:
    data = tmp_path / "lab.jsonl"
    data.write_text(
        '{"title": "A Survey", "abstract": "One.", "authors": ["Ann Smith"]}\n'
        '{"title": "A survey", "abstract": "Two.", "authors": ["Bo Jones"]}\n'
        '{"title": "A SURVEY", "abstract": "", "authors": ["A. Smith"]}\n'
    )
    report = ingest_paths(any_store, [data], settings=any_settings)
    assert (report.added, report.unchanged, report.repeated) == (2, 0, 1)


def test_beir_corpus_keeps_distinct_documents_with_equal_titles(
    any_store: Store, any_settings: Settings, tmp_path: Path
) -> None:
    lines = (SCIFACT / "corpus.jsonl").read_text().splitlines()
    same_title = [ln for ln in lines if orjson.loads(ln)["title"].lower() == "summary"]
    assert len(same_title) == 3
    corpus = tmp_path / "scifact-dev" / "corpus.jsonl"
    corpus.parent.mkdir()
    others = [ln for ln in lines if ln not in same_title][:200]
    corpus.write_text("\n".join(same_title + others) + "\n")
    report = ingest_paths(any_store, [corpus], settings=any_settings)
    assert report.added == 203
    again = ingest_paths(any_store, [corpus], settings=any_settings)
    assert (again.added, again.changed) == (0, 0)
    doc_id = orjson.loads(same_title[1])["_id"]
    found = [p for p in any_store.list_papers(limit=300) if p.title.lower() == "summary"]
    assert len(found) == 3
    assert {p.external_ids["scifact-dev"] for p in found} >= {doc_id}


def test_generic_jsonl_with_field_mapping(store: Store, settings: Settings, tmp_path: Path):
    data = tmp_path / "hf.jsonl"
    data.write_text(
        orjson.dumps(
            {
                "paper": {
                    "id": "2407.02490",
                    "title": "MInference 1.0",
                    "summary": "Sparse pre-filling.",
                    "authors": [{"name": "Huiqiang Jiang"}, {"name": "Yucheng Li"}],
                    "publishedAt": "2024-07-02T17:59:56.000Z",
                },
                "githubRepo": "https://github.com/microsoft/MInference",
            }
        ).decode()
        + "\n"
    )
    fields = {
        "title": ("paper.title",),
        "abstract": ("paper.summary",),
        "authors": ("paper.authors",),
        "arxiv_id": ("paper.id",),
        "published": ("paper.publishedAt",),
        "url_code": ("githubRepo",),
        "id": ("paper.id",),
    }
    options = IngestOptions(mapping={**IngestOptions().mapping, **fields}, namespace="hf")
    report = ingest_paths(store, [data], settings=settings, options=options)
    assert report.added == 1
    paper = store.get_paper("2407.02490")
    assert paper is not None
    assert paper.authors == ["Huiqiang Jiang", "Yucheng Li"]
    assert paper.published == datetime(2024, 7, 2, 17, 59, 56)
    assert paper.url_code == "https://github.com/microsoft/MInference"
    assert paper.external_ids == {"hf": "2407.02490"}


@pytest.mark.parametrize("batch", [1, 7, 2000])
def test_duplicates_across_batch_boundaries_merge(tmp_path: Path, batch: int) -> None:
    settings = Settings(data_dir=tmp_path / "d", import_batch_size=batch)
    store = Store.open(settings.resolved_database_url)
    data = tmp_path / "dups.jsonl"
    rows = [f'{{"_id": "{i % 5}", "title": "Paper {i % 5}", "text": "t{i}"}}' for i in range(20)]
    data.write_text("\n".join(rows) + "\n")
    report = ingest_paths(store, [data], settings=settings)
    assert (report.added, report.records) == (5, 20)
    assert store.count_papers() == 5
    store.close()
