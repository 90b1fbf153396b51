"""Store methods for discussion: comments on papers (one level of replies) and moderation.

Every write runs in one write transaction (BEGIN IMMEDIATE on SQLite); on PostgreSQL the
parent comment's row is locked (SELECT ... FOR UPDATE) by a reply and by a delete, so a
delete never misses a reply committed beside it (and never cascades it away).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from papertide.models import Comment, User
from papertide.normalize import strip_controls
from papertide.store.schema import comments, users
from papertide.store.writer import touch_pages, writing

MAX_COMMENT = 10_000  # characters


class CommentError(Exception):
    """A comment write that cannot be done; the message says why (for the reader)."""


class CommentNotFound(CommentError):
    """No such comment (or it was deleted)."""


class CommentForbidden(CommentError):
    """The comment is someone else's, or the user is no moderator."""


def _comment(row: Any) -> Comment:
    return Comment(
        pk=row.pk,
        paper_pk=row.paper_pk,
        user_pk=row.user_pk,
        username=row.username,
        body=row.body,
        created=row.created,
        parent_pk=row.parent_pk,
        edited=row.edited,
        deleted=row.deleted,
        hidden=row.hidden,
    )


def _select() -> Any:
    return select(comments, users.c.username).join(users, users.c.pk == comments.c.user_pk)


def _locked(conn: Connection, pk: int) -> Any:
    """A comment's row, locked for this transaction on PostgreSQL (SQLite holds the lock)."""
    query = select(comments).where(comments.c.pk == pk).with_for_update()
    return conn.execute(query).first()


def _has_replies(conn: Connection, pk: int) -> bool:
    query = select(func.count()).select_from(comments).where(comments.c.parent_pk == pk)
    return bool(conn.scalar(query))


def _clean_body(body: str) -> str:
    text = strip_controls(body.replace("\r\n", "\n")).strip()
    if not text:
        raise CommentError("The comment is empty.")
    if len(text) > MAX_COMMENT:
        raise CommentError(f"Comments are at most {MAX_COMMENT:,} characters ({len(text):,}).")
    return text


class CommentMixin:
    """Comments; mixed into Store, which provides ``engine``."""

    engine: Engine

    def add_comment(
        self, *, paper_pk: int, user: User, body: str, now: datetime, parent_pk: int | None = None
    ) -> Comment:
        """A new comment, or a reply to ``parent_pk`` (a reply to a reply joins its thread)."""
        text = _clean_body(body)
        with writing(self.engine) as conn:
            if parent_pk is not None:
                parent = _locked(conn, parent_pk)
                if parent is None or parent.paper_pk != paper_pk:
                    raise CommentError("The comment you replied to is not on this paper.")
                if parent.parent_pk is not None:  # one level: a reply joins the thread
                    parent = _locked(conn, parent.parent_pk)
                if parent.deleted is not None or parent.hidden is not None:
                    raise CommentError("The comment you replied to was removed.")
                parent_pk = parent.pk
            row = {
                "paper_pk": paper_pk,
                "user_pk": user.pk,
                "parent_pk": parent_pk,
                "body": text,
                "created": now,
            }
            pk = conn.execute(insert(comments).returning(comments.c.pk), row).scalar_one()
            touch_pages(conn)
        return Comment(pk, paper_pk, user.pk, user.username, text, now, parent_pk)

    def get_comment(self, pk: int) -> Comment | None:
        """One comment by key, whatever its state."""
        with self.engine.connect() as conn:
            row = conn.execute(_select().where(comments.c.pk == pk)).first()
        return _comment(row) if row else None

    def paper_comments(self, paper_pk: int, *, viewer: User | None = None) -> list[Comment]:
        """A paper's threads, oldest first, each with its replies (oldest first).

        Hidden comments are shown to their author and to moderators; to everyone else a
        hidden comment with replies is a placeholder (body emptied) and one without is left
        out. A deleted comment is a placeholder while it has replies."""
        query = _select().where(comments.c.paper_pk == paper_pk).order_by(comments.c.pk)
        with self.engine.connect() as conn:
            found = [_comment(row) for row in conn.execute(query)]
        sees_all = viewer is not None and viewer.moderator
        threads: dict[int, Comment] = {}
        for item in found:
            if item.hidden and not sees_all and (viewer is None or viewer.pk != item.user_pk):
                item.body = ""
            if item.parent_pk is None:
                threads[item.pk] = item
            elif item.parent_pk in threads and (item.body or not item.hidden):
                threads[item.parent_pk].replies.append(item)  # a hidden reply is left out
        return [t for t in threads.values() if t.body or t.replies]

    def edit_comment(self, *, pk: int, user: User, body: str, now: datetime) -> Comment:
        """Change your own comment's text (marked edited)."""
        text = _clean_body(body)
        with writing(self.engine) as conn:
            row = _locked(conn, pk)
            if row is None or row.deleted is not None:
                raise CommentNotFound("There is no such comment.")
            if row.user_pk != user.pk:
                raise CommentForbidden("You can only edit your own comments.")
            conn.execute(update(comments).where(comments.c.pk == pk).values(body=text, edited=now))
            touch_pages(conn)
        found = self.get_comment(pk)
        assert found is not None
        return found

    def delete_comment(self, *, pk: int, user: User, now: datetime) -> None:
        """Delete your own comment: a "[deleted]" placeholder stays while it has replies."""
        with writing(self.engine) as conn:
            row = _locked(conn, pk)
            if row is None or row.deleted is not None:
                raise CommentNotFound("There is no such comment.")
            if row.user_pk != user.pk:
                raise CommentForbidden("You can only delete your own comments.")
            if _has_replies(conn, pk):
                values = {"body": "", "deleted": now}
                conn.execute(update(comments).where(comments.c.pk == pk).values(values))
            else:
                conn.execute(delete(comments).where(comments.c.pk == pk))
                if row.parent_pk is not None:
                    _drop_empty_placeholder(conn, row.parent_pk)
            touch_pages(conn)

    def hide_comment(self, *, pk: int, moderator: User, hidden: bool, now: datetime) -> None:
        """A moderator hides (or shows again) any comment."""
        if not moderator.moderator:
            raise CommentForbidden("Only moderators can hide comments.")
        with writing(self.engine) as conn:
            if _locked(conn, pk) is None:
                raise CommentNotFound("There is no such comment.")
            values = {"hidden": now, "hidden_by": moderator.pk} if hidden else {"hidden": None}
            conn.execute(update(comments).where(comments.c.pk == pk).values(values))
            touch_pages(conn)

    def comment_counts(self, paper_pks: Sequence[int]) -> dict[int, int]:
        """How many live comments (neither deleted nor hidden) each paper has."""
        if not paper_pks:
            return {}
        with self.engine.connect() as conn:
            return count_comments(conn, paper_pks)

    def set_moderator(self, username: str, *, moderator: bool) -> bool:
        """Grant or take back the moderator role; False when there is no such user."""
        query = (
            update(users)
            .where(func.lower(users.c.username) == username.lower())
            .values(moderator=moderator)
        )
        with writing(self.engine) as conn:
            return bool(conn.execute(query).rowcount)


def count_comments(conn: Connection, paper_pks: Sequence[int]) -> dict[int, int]:
    """How many live comments each of ``paper_pks`` has (those with any), on ``conn``."""
    return {pk: int(n) for pk, n in conn.execute(_COUNTS, {"pks": list(paper_pks)})}


# Built once: every card of every page asks it (see store/feeds.py's _BY_PKS).
_COUNTS = (
    select(comments.c.paper_pk, func.count())
    .where(
        comments.c.paper_pk.in_(bindparam("pks", expanding=True)),
        comments.c.deleted.is_(None),
        comments.c.hidden.is_(None),
    )
    .group_by(comments.c.paper_pk)
)


def _drop_empty_placeholder(conn: Connection, parent_pk: int) -> None:
    """A "[deleted]" placeholder whose last reply went is deleted too."""
    parent = _locked(conn, parent_pk)
    if parent is not None and parent.deleted is not None and not _has_replies(conn, parent_pk):
        conn.execute(delete(comments).where(comments.c.pk == parent_pk))
