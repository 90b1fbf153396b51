"""Stored pictures, on both backends: one per paper (a new one replaces it), a fetch claimed
by one worker at a time until its lease runs out, wishes recorded once, and the papers a
round takes: wished-for first, then the recent feeds, then saved ones, skipping papers with a
picture and those whose failure is not yet due for a retry."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from papertide.config import Settings
from papertide.store import Store
from papertide.store.picture_tables import paper_pictures
from papertide.store.pictures import picture_version
from tests.support.pictures import recent_paper
from tests.support.search_corpus import add_papers, pk_of

NOW = datetime(2026, 11, 21, 12, 0)
LEASE = timedelta(minutes=15)


def _save(store: Store, pk: int, data: bytes) -> str:
    return store.save_picture(
        pk, data=data, mime="image/webp", size=(400, 300), origin="pdf", now=NOW
    )


def test_a_paper_has_one_picture_and_a_new_one_replaces_it(
    any_settings: Settings, any_store: Store
) -> None:
    add_papers(any_store, any_settings, [recent_paper(1)])
    pk = pk_of(any_store, "2611.00001")
    first = _save(any_store, pk, b"first picture")
    second = _save(any_store, pk, b"second picture")
    assert first == picture_version(b"first picture") and first != second
    with any_store.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(paper_pictures)) == 1
    stored = any_store.get_picture("2611.00001")
    assert stored is not None and (stored.version, stored.data) == (second, b"second picture")
    assert any_store.card_marks([pk], user_pk=None).pictures == {pk: (second, None)}


def test_a_fetch_is_claimed_once_until_its_lease_runs_out(
    any_settings: Settings, any_store: Store
) -> None:
    add_papers(any_store, any_settings, [recent_paper(2)])
    pk = pk_of(any_store, "2611.00002")
    assert any_store.claim_picture(pk, now=NOW, lease=LEASE) == 1
    assert any_store.claim_picture(pk, now=NOW + timedelta(minutes=5), lease=LEASE) is None
    # The worker that held it died: once the lease is over the next one takes it, try 2.
    assert any_store.claim_picture(pk, now=NOW + LEASE, lease=LEASE) == 2
    _save(any_store, pk, b"drawn")
    assert any_store.claim_picture(pk, now=NOW + 4 * LEASE, lease=LEASE) is None


def test_a_wish_is_recorded_once_and_not_for_a_paper_with_a_picture(
    any_settings: Settings, any_store: Store
) -> None:
    add_papers(any_store, any_settings, [recent_paper(3), recent_paper(4)])
    wished, drawn = pk_of(any_store, "2611.00003"), pk_of(any_store, "2611.00004")
    assert any_store.wish_picture(wished, now=NOW) is True
    assert any_store.wish_picture(wished, now=NOW) is False
    _save(any_store, drawn, b"drawn")
    assert any_store.wish_picture(drawn, now=NOW) is False
    assert any_store.picture_counts() == {"pictures": 1, "failed": 0, "wished": 1}


def test_a_round_takes_wished_papers_first_then_recent_ones_then_saved_ones(
    any_settings: Settings, any_store: Store
) -> None:
    old_saved = recent_paper(10, day="2020-01-02")
    old_wished = recent_paper(11, day="2019-05-05")
    recent = [recent_paper(n, day=f"2026-11-{10 + n}") for n in range(1, 5)]
    add_papers(any_store, any_settings, [old_saved, old_wished, *recent])
    pk = {n: pk_of(any_store, f"2611.{n:05d}") for n in (1, 2, 3, 4, 10, 11)}
    user = any_store.create_user(
        username="ada", email="ada@example.org", password_hash="x", now=NOW
    )
    saved = any_store.create_list(user_pk=user.pk, name="Reading", public=False, now=NOW)
    any_store.set_saved(list_pk=saved.pk, paper_pk=pk[10], saved=True, now=NOW)
    any_store.wish_picture(pk[11], now=NOW)

    def chosen(limit: int = 10) -> list[str]:
        found = any_store.picture_candidates(now=NOW, recent_days=31, limit=limit)
        return [p.arxiv_id or "" for p in found]

    assert chosen() == [
        "2611.00011",
        "2611.00004",
        "2611.00003",
        "2611.00002",
        "2611.00001",
        "2611.00010",
    ]
    assert chosen(limit=2) == ["2611.00011", "2611.00004"]
    _save(any_store, pk[4], b"drawn")  # has a picture
    assert any_store.claim_picture(pk[3], now=NOW, lease=LEASE) == 1
    any_store.fail_picture(pk[3], error="HTTP 404", next_try=NOW + timedelta(hours=6))
    assert chosen() == ["2611.00011", "2611.00002", "2611.00001", "2611.00010"]
    later = any_store.picture_candidates(now=NOW + timedelta(hours=7), recent_days=31, limit=9)
    assert "2611.00003" in [p.arxiv_id for p in later]  # its retry is due
    assert any_store.picture_counts()["failed"] == 1


def test_a_card_is_cut_once_for_its_own_picture_and_never_over_a_newer_one(
    any_settings: Settings, any_store: Store
) -> None:
    add_papers(any_store, any_settings, [recent_paper(9)])
    pk = pk_of(any_store, "2611.00009")
    old = _save(any_store, pk, b"picture stored before cards")
    assert any_store.pictures_without_cards(limit=10) == [(pk, old, b"picture stored before cards")]
    # A newer picture (with its own card) lands while the worker cuts the old one's card.
    new = any_store.save_picture(
        pk, data=b"newer", card=b"newer card", mime="image/webp", size=(400, 300),
        origin="pdf", now=NOW,
    )  # fmt: skip
    assert any_store.save_card(pk, version=old, card=b"card of the old picture") is False
    card = any_store.get_picture("2611.00009", card=True)
    assert card is not None and card.data == b"newer card"
    assert card.version == picture_version(b"newer card") != new
    assert any_store.card_marks([pk], user_pk=None).pictures == {pk: (new, card.version)}
    assert any_store.pictures_without_cards(limit=10) == []
    assert any_store.save_card(pk, version=new, card=b"cut again") is True
