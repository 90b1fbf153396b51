"""`papertide search`, `similar`, `reindex`, `eval beir` and `eval similar`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from papertide.cli.common import (
    console,
    err_console,
    fail,
    open_service,
    open_store,
    plural,
    progress_bar,
    settings_of,
)

if TYPE_CHECKING:  # the search stack is imported by the commands that run it
    from papertide.models import Hit
    from papertide.search.eval import BeirSet
    from papertide.search.service import SearchResult

# The help names search.service's MODES and SORTS without importing it (numpy, tantivy);
# tests/cli/test_help.py checks that the two agree.
_MODES_HELP = "One of: bm25, dense, hybrid."
_SORTS_HELP = "One of: relevance, date, trending."

eval_app = typer.Typer(help="Measure search quality on a labelled data set.")


def search(
    ctx: typer.Context,
    query: str = typer.Argument(..., help='Words, "phrases", -excluded, author:, cat:, ...'),
    k: int = typer.Option(10, "-k", "--top", min=1, help="Hits to show."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many hits (paging)."),
    mode: str = typer.Option("hybrid", "--mode", "-m", help=_MODES_HELP),
    sort: str = typer.Option("relevance", "--sort", "-s", help=_SORTS_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Search stored papers by meaning and by keyword.

    Query language: free words; "exact phrases"; -word or -"phrase" to exclude;
    author:NAME or author:"First Last"; cat:cs.LG (cat:cs for the archive);
    after:2024-01-01 and before:2025 (YYYY, YYYY-MM or YYYY-MM-DD).

    Examples:

      papertide search "sparse attention long context"

      papertide search '"diffusion model" -survey cat:cs.CV after:2024-06' --sort date

      papertide search "retrieval augmented generation" --json -k 5
    """
    import orjson

    from papertide.search.service import MODES, SORTS

    settings = settings_of(ctx)
    if mode not in MODES or sort not in SORTS:
        raise fail(f"--mode is one of {', '.join(MODES)}; --sort one of {', '.join(SORTS)}", 2)
    nothing = _asks_nothing(query)
    if nothing is not None:
        raise fail(
            f"nothing to search for in {query!r}{nothing.removeprefix('Nothing to search for')}"
            ' A "phrase" or a filter such as author:NAME, cat:cs.CL or after:2024-01-01 '
            "searches too.",
            2,
        )
    store = open_store(settings)
    try:
        svc = open_service(settings, store, quiet=as_json)
        result = svc.search(query, k=k, offset=offset, mode=mode, sort=sort)
        svc.close()
    finally:
        store.close()
    if as_json:
        typer.echo(orjson.dumps(_result_json(query, result), option=orjson.OPT_INDENT_2).decode())
        return
    if result.notice:
        err_console.print(f"[yellow]notice:[/] {result.notice}", highlight=False)
    if result.suggestion:
        err_console.print(f"[yellow]did you mean:[/] {result.suggestion}", highlight=False)
    _print_hits(result.hits)
    console.print(f"[dim]{len(result.hits)} of {result.total:,} shown[/]")


def similar(
    ctx: typer.Context,
    paper_id: str = typer.Argument(..., help="Paper id, arXiv id or DOI."),
    k: int = typer.Option(10, "-k", "--top", min=1, help="Papers to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The papers most similar to a stored paper (by meaning and shared terms).

    Example:  papertide similar 2401.01234
    """
    import orjson

    settings = settings_of(ctx)
    store = open_store(settings)
    try:
        if store.get_paper(paper_id) is None:
            raise fail(f"no stored paper {paper_id!r}", 1)
        svc = open_service(settings, store, quiet=as_json)
        hits = svc.similar(paper_id, k=k)
        svc.close()
    finally:
        store.close()
    if as_json:
        typer.echo(orjson.dumps([_hit_json(h) for h in hits], option=orjson.OPT_INDENT_2).decode())
    else:
        _print_hits(hits)


def reindex(ctx: typer.Context) -> None:
    """Rebuild the search indexes from the store (after changing the embedder, say).

    The new index is written beside the live one, which goes on serving until the new one
    is complete; a rebuild that is stopped resumes where it stood the next time. Embeddings
    stored in the database for the same model are reused, not computed again. With
    search.vector_backend = 'pgvector' it also builds the HNSW index that every node shares
    with this node's pg_hnsw_m and pg_hnsw_ef_construction, replacing one built with others
    (nodes never replace it on their own: set the new knobs on every node too).

    Example:  PAPERTIDE_SEARCH__EMBEDDER=st:all-MiniLM-L6-v2 papertide reindex
    """
    from papertide.search.service import SearchService

    settings = settings_of(ctx)
    store = open_store(settings)
    try:
        svc = SearchService.open(settings, store, catch_up=False)
        with progress_bar("reindexing", total=store.count_papers()) as advance:
            count = svc.rebuild(advance)
        if settings.search.vector_backend == "pgvector":
            with console.status("building the shared HNSW index in PostgreSQL"):
                knobs = svc.replace_shared_graph()
            if knobs is not None:
                console.print(f"shared HNSW index: {knobs[1]} (was: {knobs[0]})")
        svc.close()
    finally:
        store.close()
    console.print(f"indexed {plural(count, 'paper')} with {settings.search.embedder}")


_PART_HELP = (
    "Score only this part of the split's queries: tune (where settings are chosen) or "
    "held-out (where they are checked), fixed by a hash of the query id; all: every query, "
    "with each part's figures too."
)


def _load_split(folder: Path, split: str | None, part: str = "all") -> tuple[BeirSet, str]:
    """A BEIR folder's split (the one asked, else the only one in qrels/, else test), only
    its ``part`` of the queries unless 'all', and its name ('dev', 'dev, held-out'); a
    missing file is one line that names the splits there."""
    from papertide.search.eval import PARTS, load_beir

    if part not in PARTS:
        raise fail(f"--part is one of {', '.join(PARTS)}", 2)
    splits = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
    chosen = split or (splits[0] if len(splits) == 1 else "test")
    try:
        return load_beir(folder, chosen, part), chosen if part == "all" else f"{chosen}, {part}"
    except FileNotFoundError as exc:
        there = f" (splits there: {', '.join(splits)})" if splits else ""
        raise fail(f"{exc}{there}", 2) from exc


@eval_app.command("beir")
def eval_beir(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/."),
    split: str | None = typer.Option(
        None,
        "--split",
        help="qrels/SPLIT.tsv to score against (default: the only split in qrels/, else test).",
    ),
    mode: str = typer.Option("all", "--mode", help="bm25, dense, hybrid or all."),
    embedder: str | None = typer.Option(None, "--embedder", help="Embedder for this run."),
    part: str = typer.Option("all", "--part", help=_PART_HELP),
) -> None:
    """Score search on a BEIR data set: nDCG@10, Recall@100 and MRR@10 per mode.

    The corpus goes into a temporary store and index; queries run through the same search
    code as the site. The queries fall into two fixed halves by a hash of their id: tune
    settings on 'tune', check them on 'held-out'; each gets its own row. The last line is
    the default mode's score over the queries run: ndcg@10=0.xxx

    Search settings apply as elsewhere: with PAPERTIDE_SEARCH__PASSAGES=off an 'st:' model
    is scored without its passage vectors.

    Examples:
      papertide eval beir ../shared/data/scifact-dev --mode all
      papertide eval beir ../shared/data/scifact-dev --mode hybrid --part tune
      papertide eval beir ~/beir/scifact --split test --embedder st:all-MiniLM-L6-v2
    """
    from papertide.search.eval import evaluate
    from papertide.search.passages import enabled
    from papertide.search.service import MODES

    settings = settings_of(ctx)
    modes = list(MODES) if mode == "all" else [mode]
    if any(m not in MODES for m in modes):
        raise fail(f"--mode is one of {', '.join(MODES)} or all", 2)
    if embedder:
        search = settings.search.model_copy(update={"embedder": embedder})
        settings = settings.model_copy(update={"search": search})
    beir, chosen = _load_split(folder, split, part)
    passages = enabled(settings.search.passages, settings.search.embedder)
    with _stages() as (on_stage, advance):
        scores = evaluate(beir, settings, modes, on_stage=on_stage, on_indexed=advance)
    queries = plural(len(beir.queries), "query", "queries")
    console.print(
        f"{queries} ({chosen}), embedder {settings.search.embedder}, "
        f"fusion {settings.search.fusion}, passages {'on' if passages else 'off'}"
    )
    console.print(
        f"{'mode':8} {'queries':>16} {'nDCG@10':>8} {'R@100':>8} {'MRR@10':>8} {'ms/query':>9}"
    )
    for s in scores:
        queries = f"{s.queries} {s.part if s.part != 'all' else ''}".strip()
        console.print(
            f"{s.mode:8} {queries:>16} {s.ndcg10:8.3f} {s.recall100:8.3f} {s.mrr10:8.3f} "
            f"{s.ms_per_query:9.1f}"
        )
    whole = [s for s in scores if s.part == "all"]
    default = next((s for s in whole if s.mode == "hybrid"), whole[-1])
    typer.echo(f"ndcg@10={default.ndcg10:.3f}")


@eval_app.command("similar")
def eval_similar(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/."),
    split: str | None = typer.Option(
        None,
        "--split",
        help="qrels/SPLIT.tsv that says which papers are related (default: the only split "
        "in qrels/, else test).",
    ),
    hub_lists: int | None = typer.Option(
        None, "--hub-lists", min=1, help="Count the top-5 lists of this many papers (all)."
    ),
    part: str = typer.Option(
        "all", "--part", help="Group-mates from this part of the queries: tune, held-out or all."
    ),
) -> None:
    """Judge similar-paper lists on a BEIR data set: co-relevance recall@10 and hub share.

    Papers judged relevant to the same query are related: recall@10 is the share of each
    such paper's group-mates found in its top-10 similar list (and in the list as a page
    shows it, cut where scores fall away). The hub share is the most frequent paper's share
    of all top-5 lists. The
    peer's figures (arxiv-sanity-lite's method) were measured once on the SciFact shared
    split and are printed beside. The last line is the recall: recall@10=0.xxx

    Example:
      papertide eval similar ../shared/data/scifact-dev
    """
    from papertide.search.eval_similar import PEERS, evaluate_similar

    settings = settings_of(ctx)
    beir, chosen = _load_split(folder, split, part)
    with _stages() as (on_stage, advance):
        scores = evaluate_similar(
            beir, settings, hub_lists=hub_lists, on_stage=on_stage, on_indexed=advance
        )
    console.print(
        f"{plural(scores.judged, 'paper')} with group-mates ({chosen}), embedder "
        f"{settings.search.embedder}; lists {scores.mean_length:.1f} papers long on average "
        f"(of 10 asked), first view p50 {scores.ms_first_view:.1f} ms"
    )
    console.print(
        f"co-relevance recall@10: papertide {scores.recall10:.3f} "
        f"(as shown, cut where scores fall away: {scores.recall10_shown:.3f})",
        highlight=False,
    )
    for name, figure in PEERS:
        console.print(f"  peer, {name}: {figure:.3f} (SciFact shared split)", highlight=False)
    console.print(
        f"hub share: {100 * scores.hub_share:.2f}% of {plural(scores.lists, 'top-5 list')} "
        f"hold {scores.hub_title[:60]!r} (uniform: {500 / max(scores.lists, 1):.2f}%)",
        highlight=False,
    )
    typer.echo(f"recall@10={scores.recall10:.3f}")


@eval_app.command("hubs")
def eval_hubs(
    ctx: typer.Context,
    lists: int | None = typer.Option(
        None, "--lists", min=1, help="Count the lists of this many papers, spread over all (all)."
    ),
) -> None:
    """How evenly the stored papers' similar lists spread: the paper found in the most top-5
    lists, and its share of them (a uniform spread is 5 / papers).

    Example:  PAPERTIDE_DATA_DIR=/tmp/demo papertide eval hubs
    """
    from papertide.search.eval_similar import hub_share

    settings = settings_of(ctx)
    store = open_store(settings)
    try:
        svc = open_service(settings, store)
        ids = [p.id or "" for batch in store.iter_modified(None) for _, p in batch]
        ids = sorted(ids)
        step = max(1, len(ids) // lists) if lists else 1
        picked = ids[::step][: lists or None]
        hubs = hub_share(svc, picked)
        svc.close()
    finally:
        store.close()
    console.print(
        f"{100 * hubs.share:.1f}% of {plural(hubs.lists, 'top-5 similar list')} hold "
        f"{hubs.title[:70]!r} (uniform: {500 / max(hubs.lists, 1):.1f}%)",
        highlight=False,
    )
    typer.echo(f"hub_share={hubs.share:.4f}")


@contextmanager
def _stages() -> Iterator[tuple[Callable[[str], None], Callable[[int], None]]]:
    """A line on stderr per stage of the eval, and a count of the papers indexed."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), console=err_console, transient=True
    )
    with progress:
        task = progress.add_task("", total=None)
        stage = [""]

        def on_stage(text: str) -> None:
            err_console.print(f"[dim]{text}…", highlight=False)
            stage[0] = text
            progress.update(task, description=text)

        def advance(n: int) -> None:
            done = int(progress.tasks[0].completed) + n
            progress.update(task, completed=done, description=f"{stage[0]}: {done:,} indexed")

        yield on_stage, advance


def _result_json(query: str, result: SearchResult) -> dict[str, object]:
    return {
        "query": query,
        "total": result.total,
        "notice": result.notice,
        "suggestion": result.suggestion,
        "terms": result.terms,
        "hits": [_hit_json(hit) for hit in result.hits],
    }


def _hit_json(hit: Hit) -> dict[str, object]:
    paper = hit.paper
    return {
        "id": hit.paper_id,
        "score": hit.score,
        "why": hit.why,
        "snippet": {"text": hit.snippet.text, "marks": hit.snippet.marks} if hit.snippet else None,
        "title": paper.title if paper else None,
        "authors": paper.authors if paper else [],
        "categories": paper.categories if paper else [],
        "published": paper.published.isoformat() if paper and paper.published else None,
    }


def _asks_nothing(query: str) -> str | None:
    """Why a query names nothing a paper could match (punctuation, markup or stop words
    only), else None: the search would find nothing (search/query.py)."""
    from papertide.search.query import nothing_to_search, parse_query

    return nothing_to_search(parse_query(query))


def _print_hits(hits: list[Hit]) -> None:
    """One line a hit: rank, title, the paper's date (what --sort date orders by), id, score;
    then why it matched."""
    for rank, hit in enumerate(hits, start=1):
        title = hit.paper.title if hit.paper else hit.paper_id
        day = f"{hit.paper.day}  " if hit.paper and hit.paper.day else ""
        console.print(
            f"[bold]{rank:>3}. {title}[/]  [dim]{day}{hit.paper_id}  {hit.score:.3f}[/]",
            highlight=False,
        )
        if hit.why:
            console.print(f"     [green]{'; '.join(hit.why)}[/]", highlight=False)
        if hit.snippet:
            console.print(f"     {_marked(hit.snippet.text, hit.snippet.marks)}", highlight=False)


def _marked(text: str, marks: list[tuple[int, int]]) -> str:
    """Rich markup for a snippet: its text escaped, the query's words in bold."""
    from rich.markup import escape

    out, last = [], 0
    for start, end in marks:
        out += [escape(text[last:start]), f"[bold]{escape(text[start:end])}[/]"]
        last = end
    return "[dim]" + "".join(out) + escape(text[last:]) + "[/]"


def register(app: typer.Typer) -> None:
    """Add search, similar, reindex and `eval beir` to the app."""
    app.command()(search)
    app.command()(similar)
    app.command()(reindex)
    app.add_typer(eval_app, name="eval")
