"""`papertide stats`, `show` and `list`: look at what is stored."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import typer

from papertide.cli.common import console, fail, open_store, plural, settings_of

if TYPE_CHECKING:
    from papertide.models import Paper


def paper_json(paper: Paper) -> dict[str, Any]:
    """A paper as plain JSON-ready data (the internal row key left out)."""
    data = asdict(paper)
    data.pop("pk")
    data["primary_category"] = paper.primary_category
    return data


def _dumps(value: Any) -> str:
    import orjson

    def _default(obj: Any) -> Any:
        if isinstance(obj, date | datetime):
            return obj.isoformat()
        raise TypeError

    return orjson.dumps(value, default=_default, option=orjson.OPT_INDENT_2).decode()


def stats(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    top: int = typer.Option(15, "--top", help="Rows per table."),
) -> None:
    """Count stored papers by source, primary category and day.

    Example:  papertide stats --top 30
    """
    from rich.table import Table

    store = open_store(settings_of(ctx))
    try:
        data = store.stats(top=top)
    finally:
        store.close()
    if as_json:
        typer.echo(_dumps(data))
        return
    console.print(
        f"[bold]{plural(data['papers'], 'paper')}[/], "
        f"{plural(data['listings'], 'page listing')}, {plural(data['ingest_runs'], 'import')}"
    )
    for title in ("by_source", "by_category", "by_day"):
        table = Table(title=title.replace("_", " "), title_justify="left")
        table.add_column(title.split("_")[1])
        table.add_column("papers", justify="right")
        for key, count in data[title].items():
            table.add_row(str(key), f"{count:,}")
        console.print(table)


def show(
    ctx: typer.Context,
    ref: str = typer.Argument(
        ..., metavar="ID", help="Paper id, arXiv id or URL (any version), or DOI."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the whole record as JSON."),
) -> None:
    """Show one paper.

    Examples:
      papertide show 2407.02490
      papertide show https://arxiv.org/abs/2407.02490v2
    """
    store = open_store(settings_of(ctx))
    try:
        paper = store.get_paper(ref)
        if paper is None:
            raise fail(f"no paper {ref!r} in the store (try `papertide list`)", code=1)
        listed = store.listed_with(paper)
    finally:
        store.close()
    if as_json:
        data = paper_json(paper)
        data["listed_with"] = [
            {"date": d.isoformat(), "subject": s.id, "papers": [p.id for p in others]}
            for d, s, others in listed
        ]
        typer.echo(_dumps(data))
        return
    _print_paper(paper, listed)


def _print_paper(paper: Paper, listed: list[tuple[date, Paper, list[Paper]]]) -> None:
    console.print(f"[bold]{paper.title}[/]", highlight=False)
    if paper.authors:
        console.print(", ".join(paper.authors), highlight=False)
    facts = {
        "id": paper.id,
        "arXiv": f"{paper.arxiv_id}v{paper.arxiv_version}"
        if paper.arxiv_version
        else paper.arxiv_id,
        "DOI": paper.doi,
        "categories": " ".join(paper.categories) or None,
        "published": paper.published,
        "updated": paper.updated,
        "listed on": paper.listed_on,
        "links": "  ".join(u for u in (paper.url_abs, paper.url_pdf, paper.url_code) if u) or None,
        "upvotes": paper.upvotes_external,
        "sources": ", ".join(paper.sources),
        "first seen": paper.first_seen,
    }
    for key, value in facts.items():
        if value not in (None, ""):
            console.print(f"[dim]{key:>10}[/] {value}", highlight=False)
    console.print()
    console.print(paper.abstract or "[dim](no abstract)[/]", highlight=False)
    for day, subject, others in listed:  # others: the page's papers after its subject
        if subject.pk == paper.pk:
            line = f"this paper's own page, {plural(len(others), 'other paper')} listed with it"
        else:
            line = f"{subject.title!r}'s page, listed with {plural(len(others), 'other paper')}"
        console.print(f"\n[bold]Page of {day}[/]: {line}", highlight=False)


def list_papers(
    ctx: typer.Context,
    day: datetime | None = typer.Option(
        None, "--date", formats=["%Y-%m-%d"], help="Only papers filed under this day."
    ),
    limit: int = typer.Option(50, "--limit", "-n", min=1, help="How many papers."),
    offset: int = typer.Option(0, "--offset", min=0, help="Skip this many first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines, one paper each."),
) -> None:
    """List stored papers, newest day first.

    Examples:
      papertide list -n 10
      papertide list --date 2026-03-12 --json
    """
    import orjson
    from rich.table import Table

    store = open_store(settings_of(ctx))
    try:
        found = store.list_papers(day=day.date() if day else None, limit=limit, offset=offset)
    finally:
        store.close()
    if as_json:
        for paper in found:
            typer.echo(orjson.dumps(paper_json(paper)).decode())
        return
    if not found:
        console.print("No papers" + (f" on {day.date()}" if day else "") + ".")
        return
    table = Table("day", "id", "title", "authors")
    for paper in found:
        authors = ", ".join(paper.authors[:2]) + (" et al." if len(paper.authors) > 2 else "")
        table.add_row(str(paper.day or ""), paper.id or "", paper.title, authors)
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the commands to the app."""
    app.command()(stats)
    app.command()(show)
    app.command("list")(list_papers)
