"""Choosing a digest's papers: pure selection on hand-made hits, then the real pipeline
(site search, per-user classifier on real votes, ledger) on a tiny corpus."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import numpy as np
import pytest

from papertide.mail import compose
from papertide.mail.digest import (
    compose_due,
    links_for,
    site_search,
    user_dismissals,
    user_votes,
)
from papertide.mail.recommend import TfidfSpace, _terms, fit_logistic, recommend, similarities
from papertide.mail.records import Preferences
from papertide.models import Hit, Paper
from papertide.store import outbox
from papertide.store import subscriptions as subs
from tests.conftest import FIXED_NOW
from tests.support.smtp_server import add_papers, add_subscriber


def _paper(pk: int, title: str, abstract: str = "") -> Paper:
    return Paper(title=title, abstract=abstract, id=f"p{pk}", pk=pk)


def _hits(*papers: Paper, why: str) -> list[Hit]:
    return [Hit(p.id or "", 1.0 / (i + 1), [why], p) for i, p in enumerate(papers)]


def test_sections_share_the_mail_and_skip_sent_and_excluded_papers() -> None:
    ps = [_paper(i, f"Paper {i}", "about transformers") for i in range(1, 13)]
    ps[4].abstract = "a survey of everything"
    prefs = Preferences(papers_per_mail=6, exclude=["survey"])
    items = compose.compose_items(
        prefs=prefs,
        trending=_hits(ps[0], ps[1], ps[2], ps[3], why="trending: 9 upvotes"),
        interests=_hits(ps[0], ps[4], ps[5], ps[6], ps[7], why="matches: transformers"),
        recommended=_hits(ps[8], ps[9], ps[10], why="like: Paper 3"),
        already_sent={6},
    )
    assert [(i.section, i.paper_pk) for i in items] == [
        ("trending", 2),
        ("trending", 3),
        ("interests", 1),
        ("interests", 7),
        ("recommended", 9),
        ("recommended", 10),
    ]  # 1 counts as an interest (the personal reason wins); 5 excluded; 6 sent before
    assert items[2].why == ["matches: transformers"]
    none = compose.compose_items(
        prefs=Preferences(include_trending=False),
        trending=_hits(ps[0], why="t"),
        interests=[],
        recommended=[],
        already_sent=set(),
    )
    assert none == []


def test_due_period_follows_the_subscribers_clock() -> None:
    tokyo = Preferences(send_hour=7, timezone="Asia/Tokyo")
    assert compose.due_period(tokyo, datetime(2026, 11, 21, 21, 59), weekly_day=0) is None
    assert compose.due_period(tokyo, datetime(2026, 11, 21, 22, 0), weekly_day=0) == "d2026-11-22"
    weekly = Preferences(frequency="weekly", send_hour=7)
    assert compose.due_period(weekly, datetime(2026, 11, 22, 8), weekly_day=0) == "w2026-W47"
    assert compose.due_period(weekly, datetime(2026, 11, 22, 8), weekly_day=6) == "w2026-W47"
    assert compose.due_period(weekly, datetime(2026, 11, 21, 8), weekly_day=6) is None
    assert compose.period_window("d2026-11-22")[1].isoformat() == "2026-11-23"


def test_classifier_recommends_like_the_upvoted_papers() -> None:
    corpus = [
        _paper(1, "Protein structure prediction with diffusion", "protein folding residues"),
        _paper(2, "Protein design by language models", "protein sequences residues design"),
        _paper(3, "Galaxy rotation curves", "dark matter halo galaxy"),
        _paper(4, "Speech recognition at scale", "audio speech transcription"),
        _paper(5, "Cosmic microwave background maps", "galaxy survey cosmology"),
    ]
    liked = [_paper(90, "Protein folding from residues", "protein residues folding structure")]
    hits = recommend(TfidfSpace(corpus), corpus, liked, k=3, negatives=10)
    assert [h.paper_id for h in hits][:2] in (["p1", "p2"], ["p2", "p1"])
    assert all(h.why == ["like: Protein folding from residues"] for h in hits)
    assert "p3" not in [h.paper_id for h in hits]


def test_pipeline_uses_search_votes_and_never_resends(any_settings, any_store) -> None:
    """The real pipeline (site search, votes, tf-idf, ledger) on each backend."""
    settings, store, now = any_settings, any_store, FIXED_NOW
    papers = add_papers(
        store,
        [
            {"title": "Sparse attention for long documents", "abstract": "sparse attention heads"},
            {"title": "Protein folding with diffusion", "abstract": "protein residues folding"},
            {"title": "Protein design with language models", "abstract": "protein residues design"},
            {"title": "Galaxy clusters", "abstract": "dark matter galaxy", "upvotes_external": 40},
        ],
        now=now,
    )
    old = add_papers(
        store,
        [
            {
                "title": "Folding proteins by residues",
                "abstract": "protein residues folding structure",
            }
        ],
        now=now - timedelta(days=30),
    )
    user = store.create_user(username="ada", email="ada@example.org", password_hash="x", now=now)
    store.set_vote(user_pk=user.pk, paper_pk=old[0].pk, up=True, now=now)
    sub = add_subscriber(
        store,
        "ada@example.org",
        now=now,
        queries=["sparse attention"],
        include_trending=True,
        papers_per_mail=3,
    )
    assert sub.user_pk is None  # the same address alone ties nothing
    subs.link_account(store, pk=sub.pk, user_pk=user.pk, now=now)  # as a followed account link
    args = {
        "links": links_for(settings, store),
        "weekly_day": 0,
        "votes": user_votes(store),
        "search": site_search(settings, store),
    }
    assert compose_due(store, now=now, **args).created == 1
    [digest] = outbox.list_digests(store, subscriber_pk=sub.pk)
    why = {i.paper_pk: (i.section, i.why[0]) for i in digest.items}
    assert why[papers[0].pk] == ("interests", "matches: sparse attention")
    assert why[papers[3].pk] == ("trending", "trending: 40 upvotes")
    assert why[papers[1].pk] == ("recommended", "like: Folding proteins by residues")
    tomorrow = compose_due(store, now=now + timedelta(days=1), **args)
    assert tomorrow.created == 1  # the one paper left over, and only that
    second = outbox.list_digests(store, subscriber_pk=sub.pk)[0]
    assert [i.paper_pk for i in second.items] == [papers[2].pk]
    after = compose_due(store, now=now + timedelta(days=2), **args)
    assert (after.created, after.empty) == (0, 1)  # same papers in the window, all sent
    assert outbox.outbox_counts(store) == {"pending": 2, "empty": 1}


def test_saved_papers_recommend_and_not_interested_is_never_mailed(settings, store) -> None:
    """The digest's model takes the For you page's signals: saved papers are positives, and
    a paper marked "not interested" is never mailed (nor recommended)."""
    now = FIXED_NOW
    papers = add_papers(
        store,
        [
            {"title": "Protein folding with diffusion", "abstract": "protein residues folding"},
            {"title": "Protein design with language models", "abstract": "protein residues"},
            {"title": "Galaxy clusters", "abstract": "dark matter galaxy", "upvotes_external": 40},
        ],
        now=now,
    )
    (old,) = add_papers(
        store,
        [{"title": "Folding proteins by residues", "abstract": "protein residues folding"}],
        now=now - timedelta(days=30),
    )
    user = store.create_user(username="ada", email="ada@example.org", password_hash="x", now=now)
    shelf = store.create_list(user_pk=user.pk, name="Proteins", public=False, now=now)
    store.set_saved(list_pk=shelf.pk, paper_pk=old.pk or 0, saved=True, now=now)
    store.dismiss(user_pk=user.pk, paper_pk=papers[0].pk or 0, now=now)
    store.dismiss(user_pk=user.pk, paper_pk=papers[2].pk or 0, now=now)
    sub = add_subscriber(store, "ada@example.org", now=now, include_trending=True)
    subs.link_account(store, pk=sub.pk, user_pk=user.pk, now=now)
    args = {
        "links": links_for(settings, store),
        "weekly_day": 0,
        "votes": user_votes(store),
        "search": site_search(settings, store),
    }
    unheeded = compose_due(store, now=now, dry_run=True, **args).digests[0]
    assert {papers[0].pk, papers[2].pk} <= {i.paper_pk for i in unheeded.items}
    assert compose_due(store, now=now, dismissed=user_dismissals(store), **args).created == 1
    [digest] = outbox.list_digests(store, subscriber_pk=sub.pk)
    why = {i.paper_pk: (i.section, i.why[0]) for i in digest.items}
    assert why == {papers[1].pk: ("recommended", "like: Folding proteins by residues")}


def test_similarities_equal_the_dot_products_of_the_rows() -> None:
    """The vectorised candidate x positive similarities behind each "like:" reason."""
    papers = [
        _paper(1, "Sparse attention", "attention heads sparse"),
        _paper(2, "Protein folding", "protein residues folding"),
        _paper(3, "Attention for proteins", "attention protein residues"),
        _paper(4, "Galaxies", ""),
    ]
    space = TfidfSpace(papers)
    rows = space.rows

    def dense(i: int) -> dict[int, float]:
        lo, hi = rows.indptr[i], rows.indptr[i + 1]
        return dict(zip(rows.indices[lo:hi].tolist(), rows.data[lo:hi].tolist(), strict=True))

    got = similarities(rows, rows.take([0, 1]), space.dim)
    for i in range(4):
        for j in range(2):
            want = sum(v * dense(j).get(t, 0.0) for t, v in dense(i).items())
            assert abs(got[i, j] - want) < 1e-12
    assert abs(got[0, 0] - 1.0) < 1e-12 and got[3].tolist() == [0.0, 0.0]
    assert got[2, 0] > 0 and got[2, 1] > 0 and got[0, 1] == 0.0


def _corpus() -> list[Paper]:
    topics = [
        "sparse attention heads transformers language",
        "protein folding residues structure biology",
        "galaxy clusters dark matter telescope",
        "graph neural networks message passing",
    ]
    return [
        _paper(i, f"Study {i} of {topics[i % 4].split()[0]}", f"{topics[i % 4]} variant{i}")
        for i in range(1, 41)
    ]


def test_a_row_with_no_known_term_scores_zero_not_its_neighbours_value() -> None:
    """Rows are summed slice by slice (add.reduceat): an empty row, in the middle or last,
    must come out 0 in scores and similarities, and leave its neighbours right."""
    papers = _corpus()
    space = TfidfSpace(papers)
    unknown = [_paper(900, "zzqx"), _paper(901, "qqzx wvvy")]
    rows = space.vectorise([unknown[0], papers[0], unknown[1]])
    assert np.diff(rows.indptr).tolist()[0] == 0 and np.diff(rows.indptr).tolist()[2] == 0
    w = np.ones(space.dim)
    scores = rows.dot(w)
    assert scores[0] == 0.0 and scores[2] == 0.0
    assert scores[1] == pytest.approx(space.rows.take([0]).data.sum())
    sims = similarities(rows, space.rows.take([0, 1]), space.dim)
    assert sims[0].tolist() == [0.0, 0.0] and sims[2].tolist() == [0.0, 0.0]
    assert sims[1, 0] == pytest.approx(1.0)


def test_vectorise_gives_a_space_paper_its_own_row_and_keeps_the_others() -> None:
    """Papers of the space take their rows; others are vectorised once and kept: the
    same rows, in the order asked, whichever way they came."""
    papers = _corpus()
    space = TfidfSpace(papers[:30])
    mixed = [papers[35], papers[3], papers[31], papers[0]]
    first, again = space.vectorise(mixed), space.vectorise(list(reversed(mixed)))
    fresh = TfidfSpace(papers[:30])._rows([Counter(_terms(p)) for p in mixed])
    assert first.indptr.tolist() == fresh.indptr.tolist()
    assert first.indices.tolist() == fresh.indices.tolist()
    assert first.data.tolist() == pytest.approx(fresh.data.tolist())
    back = again.take([3, 2, 1, 0])
    assert back.indices.tolist() == first.indices.tolist()
    assert back.data.tolist() == first.data.tolist()
    own = space.rows.take([3])
    assert first.take([1]).data.tolist() == own.data.tolist()


def test_the_fitted_reader_model_lands_near_the_optimum() -> None:
    """The default fit (accelerated gradient) is within 10% of a fit run ten times as
    long, and ranks the reader's topic first (plain gradient descent at the same cost
    was 28-60% away)."""
    papers = _corpus()
    space = TfidfSpace(papers)
    liked = [p for p in papers if "protein" in p.abstract][:5]
    x = space.vectorise(liked).stack(space.rows.take(list(range(20, 40))))
    y = np.concatenate([np.ones(5), np.zeros(20)])
    w, b = fit_logistic(x, y, space.dim)
    best, best_b = fit_logistic(x, y, space.dim, steps=5000)
    assert np.linalg.norm(w - best) / np.linalg.norm(best) < 0.10
    assert abs(b - best_b) < 0.1 * max(abs(best_b), 1.0)
    top = np.argsort(-(space.rows.dot(w) + b))[:8]
    assert all("protein" in papers[int(i)].abstract for i in top)
