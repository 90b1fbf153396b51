"""Similar papers as the search service serves them: computed from the indexes once, kept in
the store (store.similar_lists), read back on later views (mixed into SearchService)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from papertide.clock import utcnow
from papertide.models import Hit, Paper
from papertide.search import filters as fq
from papertide.search.embedders import Vectors
from papertide.search.lexical import LexicalIndex
from papertide.search.pgvector_index import PgVectorIndex
from papertide.search.rwlock import ReadWriteLock
from papertide.search.settings import SearchSettings
from papertide.search.similar import rank_similar
from papertide.search.tokenize import analyze
from papertide.search.vectors import VectorIndex
from papertide.store import FeedPosition, Store
from papertide.store.similar import SimilarItem, SimilarList


class SimilarMixin:
    """similar() and precompute_similar(); SearchService provides the indexes."""

    store: Store
    config: SearchSettings
    _similar: OrderedDict[tuple[str, int], list[SimilarItem]]

    guard: ReadWriteLock

    if TYPE_CHECKING:

        @property
        def ready(self) -> bool: ...
        @property
        def lexical(self) -> LexicalIndex: ...
        @property
        def position(self) -> FeedPosition | None: ...
        def sync(self) -> bool: ...
        def _vector_index(self) -> VectorIndex | PgVectorIndex: ...
        def _embed_one(self, paper: Paper) -> Vectors: ...
        def _add_cosines(
            self, cosine: dict[int, float], pks: list[int], vector: Vectors
        ) -> None: ...

    def similar(self, paper_id: str, *, k: int = 10, paper: Paper | None = None) -> list[Hit]:
        """The ``k`` papers most like ``paper_id`` (not itself nor its duplicates), each
        hit with the store's current row of its paper (votes as they are now).

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
            items = self._stored_similar(paper.pk, k)
            if items is None:
                self._vector_index()  # loaded outside the guard: loading may wait for the folder
                with self.guard.reading():
                    items = _items(self._compute_similar(paper, max(k, self.config.similar_keep)))
                if k <= self.config.similar_keep:
                    self._save_similar(paper.pk, items)
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
        return hits[:k]

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

    def _save_similar(self, pk: int, items: list[SimilarItem]) -> None:
        position = self.position
        self.store.save_similar(
            pk,
            model=self.config.embedder,
            items=items,
            now=utcnow(),
            position=position.horizon if position is not None else None,
        )

    def _compute_similar(self, paper: Paper, k: int) -> list[Hit]:
        """Neighbours by cosine (HNSW or exact) blended with a BM25 query of the title."""
        assert paper.pk is not None
        vectors = self._vector_index()
        pool = k + 20
        title = [
            (fq.Occur.Should, fq.Query.term_query(self.lexical.schema, "body", t))
            for t in self._telling_title_terms(paper)
        ]
        lexical = self.lexical.search(fq.combine(title, []), pool, count=False)[0] if title else []
        # The paper's stored vector, its neighbours and the title matches' cosines (one
        # statement on pgvector).
        found = vectors.near_paper(paper.pk, pool, [pk for pk, _ in lexical])
        if found is None:  # no stored vector yet
            vector = self._embed_one(paper)
            dense = dict(vectors.search(vector, pool, paper=True))
            self._add_cosines(dense, [pk for pk, _ in lexical], vector)
        else:
            near, cosines = found
            dense = dict(near) | cosines
        return rank_similar(paper, dense, lexical, self.lexical.papers, k=k)

    def _telling_title_terms(self, paper: Paper) -> list[str]:
        """The title's terms but those in more than ``similar_max_doc_freq`` of the papers
        (the three rarest when every one is that common): a term in a fifth of 1M papers
        scores little (idf about 1.6, against 5-10 for the rare ones) and dominates the
        query's cost (the title query at 1M: 9.6 ms with every term, 1.1 ms without them)."""
        terms = list(dict.fromkeys(analyze(paper.title)))
        limit = self.config.similar_max_doc_freq
        if limit >= 1.0 or not terms:
            return terms
        most = limit * self.lexical.num_docs()
        freq = {t: self.lexical.doc_freq(t) for t in terms}
        return [t for t in terms if freq[t] <= most] or sorted(terms, key=freq.__getitem__)[:3]


def _items(hits: list[Hit]) -> list[SimilarItem]:
    """Hits as a similar list keeps them: paper pk, score, reasons."""
    return [(h.paper.pk or 0, h.score, h.why) for h in hits if h.paper is not None]
