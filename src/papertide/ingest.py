"""Source -> normalise -> dedupe/merge -> store, with a report.

An import runs in one transaction: if it stops for any reason (a --strict record error, a
file that turns out not to be of its format, Ctrl-C, a database error) nothing of it stays.
Records are merged in batches (``Settings.import_batch_size``): one look-up of every key in
the batch, then one executemany for the inserts and one for the updates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.merge import merge_papers, same_content, strong_keys, title_match
from papertide.models import ImportReport, Listing, Paper, Record, RecordError
from papertide.normalize import author_key, clean_name, stable_id, strip_controls, title_key
from papertide.sources import jsonl, pages, snapshot
from papertide.sources.files import FormatError, Item, detect_format, is_empty, numbered_lines
from papertide.store import Store, WriteSession

ProgressFn = Callable[[int], None]


class ImportAborted(Exception):
    """An import stopped on purpose (--strict); the store is as it was before it."""


@dataclass(slots=True)
class IngestOptions:
    """How to read the files of one import."""

    fmt: str = "auto"
    strict: bool = False
    namespace: str | None = None
    mapping: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(jsonl.DEFAULT_MAPPING))
    page_year: int | None = None


def plan_files(paths: list[Path], fmt: str) -> tuple[list[tuple[Path, str]], list[RecordError]]:
    """Check every file before anything is written: its format, or a FormatError.

    Empty files are left out with a warning rather than failing the import.
    """
    plan: list[tuple[Path, str]] = []
    warnings: list[RecordError] = []
    for path in paths:
        if not path.is_file():
            raise FormatError(f"{path}: no such file")
        if is_empty(path):
            warnings.append(RecordError(str(path), 0, "empty file; nothing to import"))
            continue
        plan.append((path, detect_format(path, fmt)))
    return plan, warnings


def default_namespace(path: Path) -> str:
    """The id namespace of a JSON-lines file: a BEIR corpus.jsonl takes its folder's name."""
    stem = path.name.split(".")[0]
    return path.parent.name if stem == "corpus" and path.parent.name else stem


def read_items(
    path: Path, fmt: str, options: IngestOptions, settings: Settings, on_bytes: ProgressFn | None
) -> Iterator[Item]:
    """Parse one file of a known format into records, errors and listings."""
    lines = numbered_lines(path, on_bytes=on_bytes)
    origin = str(path)
    limits = {"max_title": settings.max_title_chars, "max_abstract": settings.max_abstract_chars}
    if fmt == "page":
        for item in pages.parse_page(lines, origin, year=options.page_year):
            if isinstance(item, Record):
                try:
                    jsonl.check_sizes(item.paper, **limits)
                except jsonl.RecordProblem as exc:
                    yield RecordError(origin, item.line, str(exc))
                    continue
            yield item
    elif fmt == "jsonl":
        namespace = options.namespace or default_namespace(path)
        yield from jsonl.parse_jsonl(
            lines, origin, namespace=namespace, mapping=options.mapping, **limits
        )
    else:
        yield from snapshot.parse_snapshot(lines, origin, **limits)


def ingest_paths(
    store: Store,
    paths: list[Path],
    *,
    settings: Settings,
    options: IngestOptions | None = None,
    on_bytes: ProgressFn | None = None,
) -> ImportReport:
    """Import files into the store in one transaction and report what changed."""
    options = options or IngestOptions()
    started_clock, started = time.perf_counter(), utcnow()
    plan, warnings = plan_files(paths, options.fmt)
    report = ImportReport(warnings=warnings)
    with store.write() as session:
        importer = Importer(session, report, batch_size=settings.import_batch_size)
        for path, fmt in plan:
            importer.feed(read_items(path, fmt, options, settings, on_bytes), strict=options.strict)
        importer.flush()
        report.seconds = time.perf_counter() - started_clock
        session.record_run(
            report,
            started=started,
            formats=sorted({fmt for _, fmt in plan}),
            paths=[str(p) for p, _ in plan],
        )
    return report


def import_items(
    session: WriteSession,
    items: Iterable[Item],
    *,
    settings: Settings,
    strict: bool = False,
    report: ImportReport | None = None,
) -> ImportReport:
    """Merge records (and listings) into the store inside the caller's transaction.

    Every source goes through here: files, and the live sources, which commit a page of
    papers together with their checkpoint. Unreadable records are collected in the report,
    or raise ImportAborted when ``strict``.
    """
    report = report if report is not None else ImportReport()
    importer = Importer(session, report, batch_size=settings.import_batch_size)
    importer.feed(items, strict=strict)
    importer.flush()
    return report


class Importer:
    """Batches records, matches them to stored papers and to each other, writes the result.

    One importer spans a whole run, so a paper added from one file and enriched by the next
    counts as added, not changed.
    """

    def __init__(self, session: WriteSession, report: ImportReport, *, batch_size: int) -> None:
        self.session = session
        self.report = report
        self.batch_size = batch_size
        self.pending: list[Record] = []
        self.origin_ids: dict[str, list[str]] = {}  # paper ids per file, in record order
        self.pk_by_id: dict[str, int] = {}
        self.inserted_ids: set[str] = set()
        self.changed_ids: set[str] = set()
        self.seen_ids: set[str] = set()  # every paper this run has read a record of

    def feed(self, items: Iterable[Item], *, strict: bool = False) -> None:
        """Take records, errors and listings from one source, in order."""
        for item in items:
            if isinstance(item, Record):
                self.add(item)
            elif isinstance(item, RecordError):
                if strict:
                    raise ImportAborted(f"{item} (--strict: nothing was imported)")
                self.report.errors.append(item)
            else:
                self.save_listing(item)

    def add(self, record: Record) -> None:
        """Queue a record; writes happen a batch at a time."""
        paper = record.paper  # what every source gives passes one rule (normalize.py)
        paper.title = clean_name(paper.title)
        paper.authors = [name for name in map(clean_name, paper.authors) if name]
        paper.abstract = strip_controls(paper.abstract)
        self.pending.append(record)
        self.report.records += 1
        if len(self.pending) >= self.batch_size:
            self.flush()

    def save_listing(self, listing: Listing) -> None:
        """Store a page's listing once its papers have rows."""
        self.flush()
        ids = self.origin_ids.get(listing.origin, [])
        pks = [self.pk_by_id[ids[i]] for i in listing.positions if i < len(ids)]
        if not pks:
            return
        outcome = self.session.save_listing(
            kind=listing.kind,
            origin=Path(listing.origin).name,
            listed_on=listing.listed_on,
            paper_pks=pks,
        )
        if outcome == "added":
            self.report.listings_added += 1
        elif outcome == "changed":
            self.report.listings_changed += 1

    def flush(self) -> None:
        """Match, merge and write the queued records."""
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        index = _Index(self._candidates(batch))
        originals = {p.id: p for p in index.papers.values()}
        fresh: set[str] = set()  # papers this run meets for the first time in this batch
        for record in batch:
            paper = self._resolve(index, record.paper)
            self.origin_ids.setdefault(record.origin, []).append(paper.id or "")
            if paper.id not in self.seen_ids:
                fresh.add(paper.id or "")
                self.seen_ids.add(paper.id or "")
        new = [p for p in index.papers.values() if p.pk is None]
        changed = [
            (p, originals[p.id].external_ids)
            for p in index.papers.values()
            if p.pk is not None and not same_content(p, originals[p.id])
        ]
        self.session.insert_papers(new)
        self.session.update_papers(changed)
        for paper in index.papers.values():
            self.pk_by_id[paper.id or ""] = paper.pk or 0
        added = len(new)
        changed_now = {p.id or "" for p, _ in changed if p.id not in self.inserted_ids}
        self.report.added += added
        self.report.changed += len(changed_now - self.changed_ids)
        self.changed_ids |= changed_now
        self.inserted_ids.update(p.id or "" for p in new)
        self.report.repeated += len(batch) - len(fresh)
        self.report.unchanged += len(fresh) - added - len(changed_now & fresh)

    def _candidates(self, batch: list[Record]) -> list[Paper]:
        arxiv: set[str] = set()
        dois: set[str] = set()
        titles: set[str] = set()
        external: set[tuple[str, str]] = set()
        for record in batch:
            paper = record.paper
            if paper.arxiv_id:
                arxiv.add(paper.arxiv_id)
            if paper.doi:
                dois.add(paper.doi)
            external.update(paper.external_ids.items())
            titles.add(title_key(paper.title))
        return self.session.find_candidates(
            arxiv_ids=arxiv, dois=dois, external=external, title_keys=titles
        )

    def _resolve(self, index: _Index, incoming: Paper) -> Paper:
        match = index.match(incoming)
        if match is None:
            fresh = incoming  # records are the merger's own: no copy needed
            fresh.id = incoming.arxiv_id or stable_id(_seed(incoming))
            fresh.first_seen = utcnow()
            index.put(fresh)
            return fresh
        merged = merge_papers(match, incoming)
        index.put(merged)
        return merged


def _seed(paper: Paper) -> str:
    keys = strong_keys(paper)
    return keys[0] if keys else f"title:{title_key(paper.title)}|{author_key(paper.authors)}"


class _Index:
    """The papers a batch can match, by strong key and by title key; latest state wins."""

    def __init__(self, candidates: list[Paper]) -> None:
        self.papers: dict[str, Paper] = {}
        self.by_key: dict[str, str] = {}
        self.by_title: dict[str, list[str]] = {}
        for paper in candidates:
            self.put(paper)

    def put(self, paper: Paper) -> None:
        """Add or replace a paper (by public id) under all its keys."""
        pid = paper.id or ""
        self.papers[pid] = paper
        for key in strong_keys(paper):
            self.by_key.setdefault(key, pid)
        ids = self.by_title.setdefault(title_key(paper.title), [])
        if pid not in ids:
            ids.append(pid)

    def match(self, incoming: Paper) -> Paper | None:
        """The stored or batch paper ``incoming`` is, if any."""
        for key in strong_keys(incoming):
            pid = self.by_key.get(key)
            if pid is not None:
                return self.papers[pid]
        for pid in self.by_title.get(title_key(incoming.title), []):
            if title_match(self.papers[pid], incoming):
                return self.papers[pid]
        return None
