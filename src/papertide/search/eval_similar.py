"""Similar lists judged on a BEIR set: co-relevance recall@10 and the hub share.

Abstracts judged relevant to the same query (a SciFact claim) are related papers: for every
abstract that shares a query with others, co-relevance recall@10 is the share of those
group-mates found in its top-10 similar list, averaged over such abstracts; the same for the
list as a page shows it (cut where its scores fall away). The hub share is the most frequent
paper's share of the top-5 lists (uncut) of all papers (a uniform spread is 5 / papers).
Lists are computed through SearchService.similar, the path the paper page takes.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from papertide.config import Settings
from papertide.search.eval import BeirSet, indexed
from papertide.search.service import SearchService
from papertide.search.similar import cut

# The peer, measured once outside papertide on the SciFact shared split (scifact-dev, qrels
# dev.tsv): docs/search.md ("Similar papers") says how.
PEERS = (
    ("arxiv-sanity-lite (tf-idf + a linear SVM per paper)", 0.724),
    ("tf-idf cosine (the same tf-idf, no SVM)", 0.714),
)


@dataclass(slots=True)
class SimilarScores:
    """Co-relevance recall@10 over the abstracts with group-mates, and the hub figures."""

    recall10: float  # of the top-10 lists
    recall10_shown: float  # of the same lists as shown: cut where their scores fall away
    judged: int  # abstracts with group-mates
    hub_share: float  # the most frequent paper's share of the top-5 lists
    hub_title: str
    lists: int  # top-5 lists counted
    mean_length: float  # papers shown of a top-10 list, on average (after the cut)
    ms_first_view: float  # median time of a list's first view


def co_relevant(beir: BeirSet) -> dict[str, set[str]]:
    """Corpus id -> the other corpus ids judged relevant to one of its queries."""
    mates: dict[str, set[str]] = {}
    for judged in beir.qrels.values():
        relevant = {doc for doc, score in judged.items() if score > 0}
        for doc in relevant:
            mates.setdefault(doc, set()).update(relevant - {doc})
    return {doc: others for doc, others in mates.items() if others}


def evaluate_similar(
    beir: BeirSet,
    settings: Settings,
    *,
    hub_lists: int | None = None,
    on_stage: Callable[[str], None] | None = None,
    on_indexed: Callable[[int], None] | None = None,
) -> SimilarScores:
    """Index ``beir``'s corpus in a temporary store and judge the similar lists; the hub
    share counts the top-5 lists of the first ``hub_lists`` papers (None: every paper)."""
    say = on_stage or (lambda _: None)
    mates = co_relevant(beir)
    with indexed(beir, settings, on_stage=say, on_indexed=on_indexed) as (svc, ids):
        paper_of = {corpus: paper for paper, corpus in ids.items()}
        say(f"similar lists of {len(mates):,} abstracts with group-mates")
        recalls: list[float] = []
        recalls_shown: list[float] = []
        lengths: list[int] = []
        times: list[float] = []
        for doc, others in mates.items():
            started = time.perf_counter()
            hits = svc.similar(paper_of.get(doc, ""), k=10, cut=False)
            times.append(1000 * (time.perf_counter() - started))
            shown = hits[: cut([hit.score for hit in hits])]
            for found, into in ((hits, recalls), (shown, recalls_shown)):
                ids_found = {ids.get(hit.paper_id, "") for hit in found}
                into.append(len(ids_found & others) / len(others))
            lengths.append(len(shown))
        papers = sorted(paper_of.values())[:hub_lists]
        say(f"top-5 lists of {len(papers):,} papers")
        seen = {paper_of.get(doc, "") for doc in mates}
        hubs = hub_share(svc, papers, times=times, seen=seen)
    return SimilarScores(
        statistics.fmean(recalls) if recalls else 0.0,
        statistics.fmean(recalls_shown) if recalls_shown else 0.0,
        len(recalls),
        hubs.share,
        hubs.title,
        hubs.lists,
        statistics.fmean(lengths) if lengths else 0.0,
        statistics.median(times) if times else 0.0,
    )


@dataclass(slots=True)
class Hubs:
    """The paper found in the most top-k similar lists: its share of the lists, its title."""

    share: float
    title: str
    lists: int


def hub_share(
    svc: SearchService,
    paper_ids: list[str],
    *,
    k: int = 5,
    times: list[float] | None = None,
    seen: set[str] = frozenset(),  # type: ignore[assignment]
) -> Hubs:
    """How many of the top-``k`` similar lists (uncut) of ``paper_ids`` hold the most
    frequent paper, as a share; a list's first-view time goes to ``times`` unless its paper
    is in ``seen``."""
    counts: Counter[str] = Counter()
    titles: dict[str, str] = {}
    for paper_id in paper_ids:
        started = time.perf_counter()
        hits = svc.similar(paper_id, k=k, cut=False)
        if times is not None and paper_id not in seen:
            times.append(1000 * (time.perf_counter() - started))
        for hit in hits:
            counts[hit.paper_id] += 1
            titles[hit.paper_id] = hit.paper.title if hit.paper else hit.paper_id
    top, count = counts.most_common(1)[0] if counts else ("", 0)
    return Hubs(count / max(len(paper_ids), 1), titles.get(top, ""), len(paper_ids))
