"""Importing bad files: clear errors naming file, line and reason; nothing lost; no half imports."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from papertide.bench.synth import write_snapshot
from papertide.cli import app
from papertide.config import Settings
from papertide.ingest import ImportAborted, IngestOptions, ingest_paths
from papertide.sources.files import FormatError
from papertide.store import Store

runner = CliRunner()


def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--data-dir", str(settings.data_dir), *args])
    return result.exit_code, result.output


def _beir(path: Path, count: int, *, start: int = 0) -> list[str]:
    return [
        orjson.dumps({"_id": str(i), "title": f"Paper {i}", "text": f"Abstract {i}."}).decode()
        for i in range(start, start + count)
    ]


def test_empty_file_is_a_warning_not_a_failure(settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n  \n")
    code, out = _cli(settings, "ingest", str(empty))
    assert code == 0
    assert f"warning: {empty}:0: empty file; nothing to import" in out
    assert "0 added" in out


def test_utf16_file_exits_2_naming_the_file(settings: Settings, tmp_path: Path) -> None:
    utf16 = tmp_path / "papers.jsonl"
    utf16.write_text('{"_id": "1", "title": "T", "text": "A"}\n', encoding="utf-16")
    code, out = _cli(settings, "ingest", str(utf16))
    assert code == 2
    assert f"{utf16}: looks like UTF-16 or binary data, not UTF-8 text" in out
    assert "Nothing was imported." in out


def test_latin1_line_is_skipped_with_its_line_number(settings: Settings, tmp_path: Path) -> None:
    data = tmp_path / "mixed.jsonl"
    lines = [ln.encode() for ln in _beir(data, 3)]
    lines.insert(1, '{"_id": "x", "title": "Caf\xe9", "text": "a"}'.encode("latin-1"))
    data.write_bytes(b"\n".join(lines) + b"\n")
    code, out = _cli(settings, "ingest", str(data))
    assert code == 0
    assert f"skipped: {data}:2: not valid UTF-8; record skipped" in out
    assert "3 added" in out


def test_truncated_last_line_is_reported_and_the_rest_imported(
    settings: Settings, tmp_path: Path
) -> None:
    data = tmp_path / "cut.jsonl"
    data.write_text("\n".join(_beir(data, 4)) + '\n{"_id": "9", "title": "Cut off", "te')
    code, out = _cli(settings, "ingest", str(data))
    assert code == 0
    assert f"skipped: {data}:5: invalid or truncated JSON" in out
    assert "4 added" in out


def test_missing_title_and_huge_abstract_are_skipped_with_reasons(
    settings: Settings, tmp_path: Path
) -> None:
    data = tmp_path / "bad.jsonl"
    huge = "word " * 210_000  # ~1 MB
    data.write_text(
        "\n".join(
            [
                '{"_id": "1", "title": "", "text": "No title here."}',
                orjson.dumps({"_id": "2", "title": "Huge", "text": huge}).decode(),
                '{"_id": "3", "title": "Fine", "text": "Fine."}',
            ]
        )
        + "\n"
    )
    code, out = _cli(settings, "ingest", str(data))
    assert code == 0
    assert f"{data}:1: missing title" in out
    assert f"{data}:2: abstract is 1,049,999 characters; the limit is 100,000" in out
    assert "1 added" in out


def test_gzip_files_are_read_through(settings: Settings, tmp_path: Path) -> None:
    data = tmp_path / "papers.jsonl.gz"
    with gzip.open(data, "wt") as fh:
        fh.write("\n".join(_beir(data, 5)) + "\n")
    code, out = _cli(settings, "ingest", str(data))
    assert (code, "5 added" in out) == (0, True)


def test_strict_stops_at_first_bad_record_and_imports_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    data = tmp_path / "strict.jsonl"
    data.write_text("\n".join([*_beir(data, 3), "{broken", *_beir(data, 3, start=3)]) + "\n")
    code, out = _cli(settings, "ingest", "--strict", str(data))
    assert code == 1
    assert f"{data}:4: invalid or truncated JSON" in out
    assert "nothing was imported" in out
    store = Store.open(settings.resolved_database_url)
    assert store.count_papers() == 0
    store.close()


def test_a_file_not_of_the_format_fails_before_anything_is_written(
    settings: Settings, tmp_path: Path, seeds: list[Path]
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("just some notes\nnothing like papers\n")
    code, out = _cli(settings, "ingest", str(seeds[0]), str(junk))
    assert code == 2
    assert f"{junk}: not a format papertide reads" in out
    code, out = _cli(settings, "ingest", "--format", "arxiv-snapshot", str(seeds[0]))
    assert code == 2
    assert "is not arxiv-snapshot data (it looks like page)" in out
    store = Store.open(settings.resolved_database_url)
    assert store.count_papers() == 0
    store.close()


def test_failure_midway_leaves_the_store_exactly_as_before(
    store: Store, tmp_path: Path, seeds: list[Path]
) -> None:
    """Several batches are written, then the import stops: none of it stays."""
    settings = Settings(data_dir=tmp_path / "unused", import_batch_size=100)
    ingest_paths(store, seeds, settings=settings)
    before = store.stats()
    before_papers = [(p.id, p.title, p.abstract) for p in store.list_papers(limit=500)]
    snap = write_snapshot(tmp_path / "snap.jsonl", 2000)
    seen = 0

    def interrupt(read: int) -> None:  # Ctrl-C after ~1,000 records (ten batches)
        nonlocal seen
        seen += read
        if seen > 2_000_000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_paths(store, [snap], settings=settings, on_bytes=interrupt)
    assert seen > 2_000_000
    assert store.stats() == before
    assert [(p.id, p.title, p.abstract) for p in store.list_papers(limit=500)] == before_papers


def test_strict_error_after_flushed_batches_rolls_everything_back(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "unused", import_batch_size=10)
    data = tmp_path / "late.jsonl"
    data.write_text("\n".join([*_beir(data, 95), "not json"]) + "\n")
    with pytest.raises(ImportAborted):
        ingest_paths(store, [data], settings=settings, options=IngestOptions(strict=True))
    assert store.count_papers() == 0
    assert store.stats()["ingest_runs"] == 0


def test_missing_file_is_a_format_error(store: Store, settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="no such file"):
        ingest_paths(store, [tmp_path / "nope.jsonl"], settings=settings)


def test_bad_field_mapping_exits_2(settings: Settings, tmp_path: Path) -> None:
    code, out = _cli(settings, "ingest", "--field", "colour=blue", str(tmp_path / "x.jsonl"))
    assert code == 2
    assert "bad --field 'colour=blue'" in out
