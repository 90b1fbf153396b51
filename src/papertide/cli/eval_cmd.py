"""`papertide eval beir`, `eval similar` and `eval hubs`: search quality on a labelled set."""

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
    settings_of,
)

if TYPE_CHECKING:  # the search stack is imported by the commands that run it
    from papertide.search.eval import BeirSet

eval_app = typer.Typer(help="Measure search quality on a labelled data set.")

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


def register(app: typer.Typer) -> None:
    """Add `eval beir`, `eval similar` and `eval hubs` to the app."""
    app.add_typer(eval_app, name="eval")
