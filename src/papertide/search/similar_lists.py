"""Similar papers as the search service serves them: computed from the indexes once, kept in
the store (store.similar_lists), read back on later views (mixed into SearchService)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
from tantivy import Query

from papertide.clock import utcnow
from papertide.models import Hit, Paper
from papertide.search import filters as fq
from papertide.search.embedders import Vectors
from papertide.search.lexical import LexicalIndex
from papertide.search.neighbourhood import Idf, Neighbourhood, neighbourhood, sample_pks
from papertide.search.pgvector_index import PgVectorIndex
from papertide.search.rwlock import ReadWriteLock
from papertide.search.settings import SearchSettings
from papertide.search.similar import (
    LEXICAL_TERMS,
    SPARE,
    TITLE_REPEAT,
    Candidates,
    Terms,
    Wording,
    paper_terms,
    rank_similar,
)
from papertide.search.similar import cut as cut_at
from papertide.search.vectors import VectorIndex
from papertide.store import FeedPosition, Store
from papertide.store.similar import SimilarItem, SimilarList


class SimilarMixin:
    """similar() and precompute_similar(); SearchService provides the indexes."""

    store: Store
    config: SearchSettings
    _similar: OrderedDict[tuple[str, int], list[SimilarItem]]

    guard: ReadWriteLock
    request_wait: float | None
    # The idf and the hub sample of the live lexical index's searcher (rebuilt when it
    # changes: a list is scored with the index it reads).
    _similar_idf: tuple[object, Idf] | None = None
    _similar_sample: tuple[tuple[object, int, int], Neighbourhood] | None = None

    if TYPE_CHECKING:

        @property
        def ready(self) -> bool: ...
        @property
        def lexical(self) -> LexicalIndex: ...
        @property
        def position(self) -> FeedPosition | None: ...
        def sync(self) -> bool: ...
        def _vector_index(self) -> VectorIndex | PgVectorIndex: ...
        def _request_vectors(self) -> VectorIndex | PgVectorIndex: ...
        def _embed_one(self, paper: Paper) -> Vectors: ...
        def _add_cosines(
            self, cosine: dict[int, float], pks: list[int], vector: Vectors
        ) -> None: ...

    def similar(
        self, paper_id: str, *, k: int = 10, paper: Paper | None = None, cut: bool = True
    ) -> list[Hit]:
        """The ``k`` papers most like ``paper_id`` (not itself nor its duplicates), each
        hit with the store's current row of its paper (votes as they are now); with
        ``cut``, only those up to where the scores fall away (similar.cut).

        Served from the list stored with the paper (store.similar_lists) while it is fresh
        (``similar_max_age_hours``, same embedder), else computed and stored: a paper page
        pays for the neighbour search once, not on every view (precompute_similar fills the
        lists ahead of time, e.g. for the papers a sync brought). A caller that has read
        the paper already passes it as ``paper``."""
        self.sync()
        if paper is None or paper.pk is None:
            paper = self.store.get_paper(paper_id)
        if paper is None or paper.pk is None or not self.ready:
            return []
        key = (paper.id or paper_id, k)
        items = self._similar.get(key)
        if items is not None:
            self._similar.move_to_end(key)
        else:
            items, kept = self._stored_similar(paper.pk, k), True
            if items is None:
                self._request_vectors()  # outside the guard: loading may wait for the folder
                with self.guard.reading(self.request_wait):
                    items = _items(self._compute_similar(paper, max(k, self.config.similar_keep)))
                if k <= self.config.similar_keep:
                    # A request does not wait for the store's write lock (a big import):
                    # not stored, the list is computed again, and stored, on a later view.
                    kept = self._save_similar(paper.pk, items, wait=self.request_wait is None)
            if kept:
                self._similar[key] = items
            while len(self._similar) > self.config.similar_cache:
                self._similar.popitem(last=False)
        # A few spare, for papers deleted since the list was made.
        spare = items[: k + 5]
        found = {p.pk: p for p in self.store.papers_by_pk([pk for pk, _, _ in spare])}
        hits = [
            Hit(found[pk].id or "", score, list(why), found[pk])
            for pk, score, why in spare
            if pk in found
        ]
        hits = hits[:k]
        return hits[: cut_at([h.score for h in hits])] if cut else hits

    def precompute_similar(
        self, pks: list[int], progress: Callable[[int], None] | None = None
    ) -> int:
        """Compute and store the similar papers of ``pks`` that have no fresh list yet."""
        done = 0
        for pk in pks:
            if self._fresh_list(pk) is None and self.ready:
                for paper in self.store.papers_by_pk([pk]):
                    self._vector_index()
                    with self.guard.reading():
                        items = _items(self._compute_similar(paper, self.config.similar_keep))
                    self._save_similar(pk, items)
                    done += 1
            if progress:
                progress(1)
        return done

    def _fresh_list(self, pk: int) -> SimilarList | None:
        """The stored list of ``pk`` unless missing, stale or made by another embedder."""
        stored = self.store.similar_list(pk)
        if stored is None or stored.model != self.config.embedder:
            return None
        max_age = timedelta(hours=self.config.similar_max_age_hours)
        return None if stored.computed < utcnow() - max_age else stored

    def _stored_similar(self, pk: int, k: int) -> list[SimilarItem] | None:
        """The stored list of ``pk``, or None when missing, stale or too short for ``k``."""
        stored = self._fresh_list(pk) if k <= self.config.similar_keep else None
        return None if stored is None else list(stored.items)

    def _save_similar(self, pk: int, items: list[SimilarItem], *, wait: bool = True) -> bool:
        """Store a computed list; without ``wait`` (a request) not when another writer holds
        the store (a big import: the list is computed again on a later view). False when
        it was not stored for that reason."""
        position = self.position
        return self.store.save_similar(
            pk,
            model=self.config.embedder,
            items=items,
            now=utcnow(),
            position=position.horizon if position is not None else None,
            wait=wait,
        )

    def _compute_similar(self, paper: Paper, k: int) -> list[Hit]:
        """Candidates from the lexical index (the paper's telling terms, weighted) and from
        its embedding's neighbours, scored by search/similar.py."""
        assert paper.pk is not None
        vectors = self._vector_index()
        idf = self._idf()
        repeat = TITLE_REPEAT
        own = paper_terms(paper, title_repeat=repeat)
        mine = Terms.of([own], idf)
        pool = k + SPARE
        lexical = self._lexical_candidates(mine.row(0), pool)
        found = vectors.near_paper(paper.pk, pool, [])
        if found is None:  # no stored vector yet
            vector = self._embed_one(paper)
            near = vectors.search(vector, pool, paper=True)
        else:
            near, vector = found[0], vectors.get([paper.pk])[0]
        pks = list(dict.fromkeys([*(p for p, _ in near), *lexical]))
        records = self.lexical.papers([pk for pk in pks if pk != paper.pk])
        pks = [pk for pk in pks if pk in records]
        embedded = vectors.get(pks)
        wording = [Wording.of(records[pk]) for pk in pks]
        terms = Terms.of([own] + [w.terms(repeat) for w in wording], idf)
        mean, sd = self._sample().spread(pks, terms, 1, embedded)
        cosine = (embedded @ vector).astype(np.float32)
        papers = [records[pk] for pk in pks]
        found_ = Candidates(papers, terms, cosine, mean, sd, embedded, wording)
        return rank_similar(paper, found_, k=k)

    def _lexical_candidates(self, mine: dict[str, float], limit: int) -> list[int]:
        """The best ``limit`` papers for a query of the paper's telling terms, each boosted
        by its weight in the paper (a "more like this" query)."""
        schema = self.lexical.schema
        query = [
            (fq.Occur.Should, Query.boost_query(Query.term_query(schema, "body", t), w))
            for t, w in self._telling_terms(mine)
        ]
        if not query:
            return []
        return [pk for pk, _ in self.lexical.search(fq.combine(query, []), limit, count=False)[0]]

    def _telling_terms(self, mine: dict[str, float]) -> list[tuple[str, float]]:
        """The paper's LEXICAL_TERMS heaviest terms with their weights, but those in more
        than ``similar_max_doc_freq`` of the papers (as Lucene's MoreLikeThis maxDocFreqPct):
        a term in a fifth of 1M papers weighs little and dominates the query's cost."""
        ranked = sorted(mine.items(), key=lambda item: (-item[1], item[0]))[:LEXICAL_TERMS]
        limit = self.config.similar_max_doc_freq
        if limit >= 1.0:
            return ranked
        most = limit * self.lexical.num_docs()
        return [(t, w) for t, w in ranked if self.lexical.doc_freq(t) <= most] or ranked[:3]

    def _idf(self) -> Idf:
        """The idf of the live lexical index (remembered while its searcher is the same)."""
        searcher = self.lexical.searcher
        cached = self._similar_idf
        if cached is None or cached[0] is not searcher:
            cached = (searcher, Idf(self.lexical.doc_freq, self.lexical.num_docs()))
            self._similar_idf = cached
        return cached[1]

    def _sample(self) -> Neighbourhood:
        """The papers each candidate is standardised against (search/neighbourhood.py),
        drawn again when the lexical index changes."""
        max_pk = self.store.max_paper_pk()
        pks = sample_pks(max_pk)
        key = (self.lexical.searcher, pks[0] if pks else 0, len(pks))
        cached = self._similar_sample
        if cached is not None and cached[0][0] is key[0] and cached[0][1:] == key[1:]:
            return cached[1]
        records = self.lexical.papers(pks)
        present = sorted(records)
        repeat = TITLE_REPEAT
        terms = Terms.of(
            [paper_terms(records[pk], title_repeat=repeat) for pk in present], self._idf()
        )
        vectors = self._vector_index().get(present)
        sample = neighbourhood(present, terms, vectors, whole=len(pks) == max_pk)
        self._similar_sample = (key, sample)
        return sample


def _items(hits: list[Hit]) -> list[SimilarItem]:
    """Hits as a similar list keeps them: paper pk, score, reasons."""
    return [(h.paper.pk or 0, h.score, h.why) for h in hits if h.paper is not None]
