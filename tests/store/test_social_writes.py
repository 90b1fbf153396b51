"""Comments, lists and "not interested" in the real store, on SQLite and PostgreSQL,
including writers racing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import text

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.models import Paper, User
from papertide.store import CommentError, ListError, Store
from papertide.store.comments import CommentForbidden, CommentNotFound
from papertide.store.lists import slugify
from tests.support.crowd import all_at_once

T0 = datetime(2026, 3, 12, 9, 0)


def _papers(store: Store, n: int) -> list[Paper]:
    made = [
        Paper(id=f"s{i}", title=f"Paper {i}", first_seen=T0, listed_on=T0.date()) for i in range(n)
    ]
    with store.write() as ws:
        ws.insert_papers(made)
    return sorted(store.list_papers(limit=n), key=lambda p: p.id or "")


def _user(store: Store, name: str) -> User:
    return store.create_user(username=name, email=None, password_hash="x", now=T0)


def test_threads_replies_edit_and_delete(any_store: Store) -> None:
    store = any_store
    (paper,) = _papers(store, 1)
    ada, bob = _user(store, "ada"), _user(store, "bob")
    pk = paper.pk or 0
    first = store.add_comment(paper_pk=pk, user=ada, body="  Nice *result*  ", now=T0)
    assert first.body == "Nice *result*"
    reply = store.add_comment(paper_pk=pk, user=bob, body="Agreed", now=T0, parent_pk=first.pk)
    # A reply to a reply joins the thread: one level of replies.
    nested = store.add_comment(paper_pk=pk, user=ada, body="+1", now=T0, parent_pk=reply.pk)
    assert nested.parent_pk == first.pk
    threads = store.paper_comments(pk)
    assert [t.pk for t in threads] == [first.pk]
    assert [r.pk for r in threads[0].replies] == [reply.pk, nested.pk]
    assert store.comment_counts([pk]) == {pk: 3}

    edited = store.edit_comment(pk=reply.pk, user=bob, body="Agreed, mostly", now=T0)
    assert edited.body == "Agreed, mostly" and edited.edited == T0
    with pytest.raises(CommentForbidden):
        store.edit_comment(pk=reply.pk, user=ada, body="hijacked", now=T0)
    with pytest.raises(CommentForbidden):
        store.delete_comment(pk=reply.pk, user=ada, now=T0)

    # Deleting a comment with replies leaves a placeholder without its text...
    store.delete_comment(pk=first.pk, user=ada, now=T0)
    (thread,) = store.paper_comments(pk)
    assert thread.deleted == T0 and thread.body == "" and len(thread.replies) == 2
    assert store.comment_counts([pk]) == {pk: 2}
    with pytest.raises(CommentError, match="removed"):
        store.add_comment(paper_pk=pk, user=bob, body="late", now=T0, parent_pk=first.pk)
    # ...and the placeholder goes with its last reply.
    store.delete_comment(pk=reply.pk, user=bob, now=T0)
    assert store.paper_comments(pk)[0].pk == first.pk
    store.delete_comment(pk=nested.pk, user=ada, now=T0)
    assert store.paper_comments(pk) == []
    assert store.get_comment(first.pk) is None
    with pytest.raises(CommentNotFound):
        store.delete_comment(pk=first.pk, user=ada, now=T0)


def test_bad_comments_are_refused_with_the_reason(any_store: Store) -> None:
    store = any_store
    one, two = _papers(store, 2)
    ada = _user(store, "ada")
    with pytest.raises(CommentError, match="empty"):
        store.add_comment(paper_pk=one.pk or 0, user=ada, body=" \n ", now=T0)
    with pytest.raises(CommentError, match="at most 10,000"):
        store.add_comment(paper_pk=one.pk or 0, user=ada, body="x" * 10_001, now=T0)
    other = store.add_comment(paper_pk=two.pk or 0, user=ada, body="on two", now=T0)
    with pytest.raises(CommentError, match="not on this paper"):
        store.add_comment(paper_pk=one.pk or 0, user=ada, body="hi", now=T0, parent_pk=other.pk)


def test_moderators_hide_and_only_they_and_the_author_see_it(any_store: Store) -> None:
    store = any_store
    (paper,) = _papers(store, 1)
    pk = paper.pk or 0
    ada, bob, mod = _user(store, "ada"), _user(store, "bob"), _user(store, "mod")
    assert store.set_moderator("MOD", moderator=True)
    assert not store.set_moderator("nobody", moderator=True)
    mod = store.user_by_name("mod") or mod
    assert mod.moderator
    spam = store.add_comment(paper_pk=pk, user=bob, body="buy pills", now=T0)
    fine = store.add_comment(paper_pk=pk, user=ada, body="good paper", now=T0)
    with pytest.raises(CommentForbidden):
        store.hide_comment(pk=spam.pk, moderator=ada, hidden=True, now=T0)
    store.hide_comment(pk=spam.pk, moderator=mod, hidden=True, now=T0)
    assert [c.pk for c in store.paper_comments(pk, viewer=ada)] == [fine.pk]
    assert [c.pk for c in store.paper_comments(pk)] == [fine.pk]
    assert [c.pk for c in store.paper_comments(pk, viewer=bob)] == [spam.pk, fine.pk]
    seen = store.paper_comments(pk, viewer=mod)
    assert seen[0].body == "buy pills" and seen[0].hidden == T0
    assert store.comment_counts([pk]) == {pk: 1}
    store.hide_comment(pk=spam.pk, moderator=mod, hidden=False, now=T0)
    assert store.comment_counts([pk]) == {pk: 2}


def test_a_delete_racing_replies_never_loses_one(any_store: Store) -> None:
    """Replies posted while their parent is deleted: each either lands (and the parent stays
    as a placeholder) or is refused; none is cascaded away after it was accepted."""
    store = any_store
    (paper,) = _papers(store, 1)
    pk = paper.pk or 0
    ada = _user(store, "ada")
    repliers = [_user(store, f"r{i}") for i in range(8)]
    for _round in range(3):
        parent = store.add_comment(paper_pk=pk, user=ada, body="parent", now=T0)
        accepted: list[int] = []
        jobs: list[Callable[[], object]] = [
            partial(_reply, store, pk, user, parent.pk, accepted) for user in repliers
        ]
        jobs.insert(4, partial(store.delete_comment, pk=parent.pk, user=ada, now=T0))
        assert all_at_once(jobs) == []
        for made in accepted:
            assert store.get_comment(made) is not None
        left = store.get_comment(parent.pk)
        assert (left is not None) == bool(accepted)
        if left is not None:
            assert left.deleted is not None and left.body == ""


def _reply(store: Store, paper_pk: int, user: User, parent_pk: int, accepted: list[int]) -> None:
    """Reply, noting the reply's key if the store took it."""
    try:
        made = store.add_comment(
            paper_pk=paper_pk, user=user, body="reply", now=T0, parent_pk=parent_pk
        )
    except CommentError:
        return
    accepted.append(made.pk)


def test_collections_slugs_privacy_fields_and_counts(any_store: Store) -> None:
    store = any_store
    papers = _papers(store, 3)
    ada = _user(store, "ada")
    first = store.create_list(user_pk=ada.pk, name="Reading  group", public=False, now=T0)
    again = store.create_list(user_pk=ada.pk, name="Reading group!", public=True, now=T0)
    assert (first.slug, again.slug) == ("reading-group", "reading-group-2")
    assert slugify("Écoles ∂ 2026") == "ecoles-2026" and slugify("∂∂") == "list"
    with pytest.raises(ListError, match="name"):
        store.create_list(user_pk=ada.pk, name="   ", public=False, now=T0)
    later = T0 + timedelta(minutes=1)
    for i, paper in enumerate(papers):
        saved = store.set_saved(
            list_pk=first.pk, paper_pk=paper.pk or 0, saved=True, now=later + timedelta(i)
        )
        assert saved
    assert not store.set_saved(list_pk=first.pk, paper_pk=papers[0].pk or 0, saved=True, now=later)
    assert store.list_paper_pks(first.pk) == [p.pk for p in reversed(papers)]
    listed = store.user_lists(ada.pk)
    assert [(c.slug, c.size) for c in listed] == [("reading-group", 3), ("reading-group-2", 0)]
    assert store.saved_in(ada.pk, papers[1].pk or 0) == {first.pk}
    assert set(store.user_saved(ada.pk)) == {p.pk for p in papers}
    assert store.set_saved(list_pk=first.pk, paper_pk=papers[1].pk or 0, saved=False, now=later)
    assert store.saved_in(ada.pk, papers[1].pk or 0) == set()
    store.update_list(pk=first.pk, name="Group", public=True, description="d", now=later)
    changed = store.get_list(ada.pk, "reading-group")
    assert changed is not None and (changed.name, changed.public, changed.description) == (
        "Group",
        True,
        "d",
    )
    store.delete_list(first.pk)
    assert store.get_list(ada.pk, "reading-group") is None
    assert store.user_saved(ada.pk) == []


def test_saving_and_naming_race(any_store: Store) -> None:
    """Ten tabs save one paper at once (counted once); ten lists of one name get ten slugs."""
    store = any_store
    (paper,) = _papers(store, 1)
    ada = _user(store, "ada")
    shelf = store.create_list(user_pk=ada.pk, name="Shelf", public=False, now=T0)
    results: list[bool] = []
    saves: list[Callable[[], object]] = [
        lambda: results.append(
            store.set_saved(list_pk=shelf.pk, paper_pk=paper.pk or 0, saved=True, now=T0)
        )
        for _ in range(10)
    ]
    assert all_at_once(saves) == []
    assert sorted(results) == [False] * 9 + [True]
    assert store.list_paper_pks(shelf.pk) == [paper.pk]
    names: list[Callable[[], object]] = [
        lambda: store.create_list(user_pk=ada.pk, name="Same", public=False, now=T0)
        for _ in range(10)
    ]
    assert all_at_once(names) == []
    slugs = {c.slug for c in store.user_lists(ada.pk)} - {"shelf"}
    assert slugs == {"same"} | {f"same-{n}" for n in range(2, 11)}


def test_dismissals_are_per_user_and_idempotent(any_store: Store) -> None:
    store = any_store
    one, two = _papers(store, 2)
    ada, bob = _user(store, "ada"), _user(store, "bob")
    now = utcnow()
    assert store.dismiss(user_pk=ada.pk, paper_pk=one.pk or 0, now=now)
    assert not store.dismiss(user_pk=ada.pk, paper_pk=one.pk or 0, now=now)
    assert store.dismiss(user_pk=ada.pk, paper_pk=two.pk or 0, now=now + timedelta(seconds=1))
    assert store.user_dismissed(ada.pk) == [two.pk, one.pk]
    assert store.user_dismissed(bob.pk) == []
    assert store.undismiss(user_pk=ada.pk, paper_pk=one.pk or 0)
    assert not store.undismiss(user_pk=ada.pk, paper_pk=one.pk or 0)
    assert store.user_dismissed(ada.pk) == [two.pk]


def test_social_writes_change_the_page_cache_token(any_store: Store) -> None:
    store = any_store
    (paper,) = _papers(store, 1)
    ada = _user(store, "ada")
    before = store.change_token()
    store.add_comment(paper_pk=paper.pk or 0, user=ada, body="hello", now=T0)
    after_comment = store.change_token()
    shelf = store.create_list(user_pk=ada.pk, name="Shelf", public=True, now=T0)
    after_list = store.change_token()
    store.set_saved(list_pk=shelf.pk, paper_pk=paper.pk or 0, saved=True, now=T0)
    assert len({before, after_comment, after_list, store.change_token()}) == 4


def test_the_social_migration_keeps_existing_accounts_votes_and_sessions(
    any_settings: Settings,
) -> None:
    """Upgrading a database at the previous head: users get moderator = false and nothing
    that refers to them (sessions, votes) is lost on the way."""
    from alembic import command
    from alembic.config import Config

    url = any_settings.resolved_database_url
    old = Store.open(url, migrate=False)
    cfg = Config()
    cfg.set_main_option("script_location", "papertide.store:migrations")
    with old.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "counters")
    with old.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, email, password_hash, created) "
                "VALUES ('ada', NULL, 'x', :t)"
            ),
            {"t": T0},
        )
        pk = conn.execute(text("SELECT pk FROM users")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO sessions (token_hash, user_pk, created, expires) "
                "VALUES ('h', :u, :t, :t)"
            ),
            {"u": pk, "t": T0},
        )
    old.close()
    store = Store.open(url)
    try:
        ada = store.user_by_name("ada")
        assert ada is not None and ada.moderator is False
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM sessions")).scalar_one() == 1
        assert store.set_moderator("ada", moderator=True)
        assert (store.user_by_name("ada") or ada).moderator
    finally:
        store.close()
