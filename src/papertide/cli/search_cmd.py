"""`papertide search`, `similar` and `reindex`."""

from __future__ import annotations

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
    from papertide.search.service import SearchResult

# The help names search.service's MODES and SORTS without importing it (numpy, tantivy);
# tests/cli/test_help.py checks that the two agree.
_MODES_HELP = "One of: bm25, dense, hybrid."
_SORTS_HELP = "One of: relevance, date, trending."


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
    """Add search, similar and reindex to the app."""
    app.command()(search)
    app.command()(similar)
    app.command()(reindex)
