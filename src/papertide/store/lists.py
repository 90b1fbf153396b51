"""Store methods for lists (a user's named lists of saved papers) and for "not
interested" (papers a reader dismissed from For you, kept as negatives for their model).

Saving twice or removing what is not there changes nothing (INSERT ... ON CONFLICT DO
NOTHING), so two tabs saving one paper together count it once on either database.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from papertide.models import PaperList
from papertide.normalize import clean_name, strip_controls
from papertide.store.dialects import insert_of
from papertide.store.schema import dismissals, list_items, lists, users
from papertide.store.writer import touch_pages, writing

MAX_NAME = 100
MAX_DESCRIPTION = 2_000


class ListError(Exception):
    """A paper_list write that cannot be done; the message says why."""


def slugify(name: str) -> str:
    """The URL form of a list's name: ASCII letters and digits joined by '-'."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:60].strip("-")
    return slug or "list"


def _paper_list(row: Any) -> PaperList:
    return PaperList(
        pk=row.pk,
        user_pk=row.user_pk,
        owner=row.username,
        slug=row.slug,
        name=row.name,
        public=bool(row.public),
        created=row.created,
        updated=row.updated,
        description=row.description,
        size=int(row.size or 0),
    )


def _select() -> Any:
    size = (
        select(func.count())
        .where(list_items.c.list_pk == lists.c.pk)
        .correlate(lists)
        .scalar_subquery()
    )
    return select(lists, users.c.username, size.label("size")).join(
        users, users.c.pk == lists.c.user_pk
    )


def _insert_ignore(conn: Connection, table: Any, row: dict[str, Any]) -> bool:
    """Insert unless the key exists; True when it was new (RETURNING tells: the driver's
    rowcount for ON CONFLICT DO NOTHING is not to be trusted on every backend)."""
    first = next(iter(table.primary_key.columns))
    query = insert_of(conn)(table).values(row).on_conflict_do_nothing().returning(first)
    return conn.execute(query).first() is not None


def _free_slug(conn: Connection, user_pk: int, base: str) -> str:
    """The first of base, base-2, base-3... that the user has no list under. The user's row
    is locked first (PostgreSQL; SQLite's write lock is already held), so one user's list
    creations take turns instead of picking the same slug."""
    conn.execute(select(users.c.pk).where(users.c.pk == user_pk).with_for_update())
    taken = set(
        conn.scalars(
            select(lists.c.slug).where(lists.c.user_pk == user_pk, lists.c.slug.like(f"{base}%"))
        )
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _clean(name: str, description: str) -> tuple[str, str]:
    name = clean_name(name)
    if not name:
        raise ListError("Give the list a name.")
    if len(name) > MAX_NAME:
        raise ListError(f"List names are at most {MAX_NAME} characters.")
    if len(description) > MAX_DESCRIPTION:
        raise ListError(f"Descriptions are at most {MAX_DESCRIPTION:,} characters.")
    return name, strip_controls(description).strip()


class ListMixin:
    """Lists and dismissals; mixed into Store, which provides ``engine``."""

    engine: Engine

    def create_list(
        self, *, user_pk: int, name: str, public: bool, now: datetime, description: str = ""
    ) -> PaperList:
        """A new list with a slug of its own among the user's lists."""
        name, description = _clean(name, description)
        for _ in range(5):  # another request may take the same slug between look and insert
            try:
                with writing(self.engine) as conn:
                    slug = _free_slug(conn, user_pk, slugify(name))
                    row = {
                        "user_pk": user_pk,
                        "slug": slug,
                        "name": name,
                        "description": description,
                        "public": public,
                        "created": now,
                        "updated": now,
                    }
                    conn.execute(lists.insert(), row)
                    touch_pages(conn)
            except IntegrityError:
                continue
            found = self.get_list(user_pk, slug)
            assert found is not None
            return found
        raise ListError("Could not name the list; try again.")

    def get_list(self, user_pk: int, slug: str) -> PaperList | None:
        """One of a user's lists by slug."""
        query = _select().where(lists.c.user_pk == user_pk, lists.c.slug == slug)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _paper_list(row) if row else None

    def user_lists(self, user_pk: int) -> list[PaperList]:
        """A user's lists, most recently changed first."""
        query = (
            _select()
            .where(lists.c.user_pk == user_pk)
            .order_by(lists.c.updated.desc(), lists.c.pk.desc())
        )
        with self.engine.connect() as conn:
            return [_paper_list(row) for row in conn.execute(query)]

    def update_list(
        self, *, pk: int, name: str, public: bool, description: str, now: datetime
    ) -> None:
        """Rename a list, change its description or who may see it (the slug stays)."""
        name, description = _clean(name, description)
        values = {"name": name, "public": public, "description": description, "updated": now}
        with writing(self.engine) as conn:
            conn.execute(update(lists).where(lists.c.pk == pk).values(values))
            touch_pages(conn)

    def delete_list(self, pk: int) -> None:
        """Delete a list (its papers stay on the site)."""
        with writing(self.engine) as conn:
            conn.execute(delete(lists).where(lists.c.pk == pk))
            touch_pages(conn)

    def set_saved(self, *, list_pk: int, paper_pk: int, saved: bool, now: datetime) -> bool:
        """Put a paper in a list or take it out; True when that changed anything."""
        with writing(self.engine) as conn:
            if saved:
                last = select(func.coalesce(func.max(list_items.c.position), 0)).where(
                    list_items.c.list_pk == list_pk
                )
                row = {
                    "list_pk": list_pk,
                    "paper_pk": paper_pk,
                    "added": now,
                    "position": int(conn.scalar(last) or 0) + 1,
                }
                changed = _insert_ignore(conn, list_items, row)
            else:
                changed = bool(
                    conn.execute(
                        delete(list_items).where(
                            list_items.c.list_pk == list_pk,
                            list_items.c.paper_pk == paper_pk,
                        )
                    ).rowcount
                )
            if changed:
                conn.execute(update(lists).where(lists.c.pk == list_pk).values(updated=now))
                touch_pages(conn)
        return changed

    def list_paper_pks(self, list_pk: int) -> list[int]:
        """The papers of a list, most recently saved first (row keys)."""
        query = (
            select(list_items.c.paper_pk)
            .where(list_items.c.list_pk == list_pk)
            .order_by(list_items.c.position.desc())
        )
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def saved_in(self, user_pk: int, paper_pk: int) -> set[int]:
        """Which of the user's lists hold the paper."""
        query = (
            select(list_items.c.list_pk)
            .join(lists, lists.c.pk == list_items.c.list_pk)
            .where(lists.c.user_pk == user_pk, list_items.c.paper_pk == paper_pk)
        )
        with self.engine.connect() as conn:
            return set(conn.scalars(query))

    def user_saved(self, user_pk: int) -> list[int]:
        """Every paper in any of the user's lists, most recently saved first (row keys)."""
        query = (
            select(list_items.c.paper_pk, func.max(list_items.c.added))
            .join(lists, lists.c.pk == list_items.c.list_pk)
            .where(lists.c.user_pk == user_pk)
            .group_by(list_items.c.paper_pk)
            .order_by(func.max(list_items.c.added).desc(), list_items.c.paper_pk)
        )
        with self.engine.connect() as conn:
            return [pk for pk, _ in conn.execute(query)]

    def dismiss(self, *, user_pk: int, paper_pk: int, now: datetime) -> bool:
        """Mark a paper "not interested" for a user; True when it was new."""
        row = {"user_pk": user_pk, "paper_pk": paper_pk, "created": now}
        with writing(self.engine) as conn:
            return _insert_ignore(conn, dismissals, row)

    def undismiss(self, *, user_pk: int, paper_pk: int) -> bool:
        """Take back a "not interested"; True when there was one."""
        query = delete(dismissals).where(
            dismissals.c.user_pk == user_pk, dismissals.c.paper_pk == paper_pk
        )
        with writing(self.engine) as conn:
            return bool(conn.execute(query).rowcount)

    def user_dismissed(self, user_pk: int) -> list[int]:
        """The papers a user said they are not interested in, newest first (row keys)."""
        query = (
            select(dismissals.c.paper_pk)
            .where(dismissals.c.user_pk == user_pk)
            .order_by(dismissals.c.created.desc(), dismissals.c.paper_pk)
        )
        with self.engine.connect() as conn:
            return list(conn.scalars(query))
