"""Author claims: an account says an author page is theirs, a moderator confirms it.

A name (its folded key, as author pages match names) has at most one confirmed claim, held
by a partial unique index on both databases, so two moderators confirming two accounts at
once leave one; an account may claim several spellings of itself. Claiming twice changes
nothing (INSERT ... ON CONFLICT DO NOTHING); a rejected claim is deleted, so it may be made
again with better evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
    delete,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from papertide.normalize import clean_name
from papertide.store.dialects import insert_of, partial_index
from papertide.store.schema import metadata, users
from papertide.store.writer import touch_pages, writing

MAX_NAME = 300

author_claims = Table(
    "author_claims",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("user_pk", Integer, ForeignKey("users.pk", ondelete="CASCADE"), nullable=False),
    Column("name_key", String(MAX_NAME), nullable=False),  # the author page's folded name
    Column("name", String(MAX_NAME), nullable=False),  # as the claimant wrote it
    Column("status", String(12), nullable=False),  # pending | confirmed
    Column("created", DateTime, nullable=False),
    Column("decided", DateTime),
    Column("decided_by", Integer, ForeignKey("users.pk", ondelete="SET NULL")),
    UniqueConstraint("user_pk", "name_key"),
    partial_index(
        "ix_author_claims_confirmed_name", "name_key", unique=True, where="status = 'confirmed'"
    ),
)


class ClaimError(Exception):
    """A claim that cannot be made or decided; the message says why."""


@dataclass(frozen=True, slots=True)
class AuthorClaim:
    """One account's claim on one author page."""

    pk: int
    user_pk: int
    username: str
    name_key: str
    name: str
    status: str
    created: datetime

    @property
    def confirmed(self) -> bool:
        """Whether a moderator confirmed it."""
        return self.status == "confirmed"


def _claims() -> Any:
    return select(author_claims, users.c.username).join(
        users, users.c.pk == author_claims.c.user_pk
    )


def _claim(row: Any) -> AuthorClaim:
    return AuthorClaim(
        pk=row.pk,
        user_pk=row.user_pk,
        username=row.username,
        name_key=row.name_key,
        name=row.name,
        status=row.status,
        created=row.created,
    )


class ClaimsMixin:
    """Author claims; mixed into Store, which provides ``engine``."""

    engine: Engine

    def claim_author(self, *, user_pk: int, name: str, name_key: str, now: datetime) -> None:
        """Record ``user_pk``'s claim on the page of ``name_key`` (pending; once)."""
        name = clean_name(name)[:MAX_NAME]
        if not name_key or len(name_key) > MAX_NAME:
            raise ClaimError("That is not an author's name.")
        row = {
            "user_pk": user_pk,
            "name_key": name_key,
            "name": name,
            "status": "pending",
            "created": now,
        }
        with writing(self.engine) as conn:
            conn.execute(insert_of(conn)(author_claims).values(row).on_conflict_do_nothing())
            touch_pages(conn)

    def author_claims(self, name_key: str) -> list[AuthorClaim]:
        """The claims on one author page, confirmed first, then oldest first."""
        query = (
            _claims()
            .where(author_claims.c.name_key == name_key)
            .order_by(author_claims.c.status, author_claims.c.created, author_claims.c.pk)
        )
        with self.engine.connect() as conn:
            return [_claim(row) for row in conn.execute(query)]

    def claimed_by(self, user_pk: int) -> list[AuthorClaim]:
        """An account's confirmed author pages."""
        query = _claims().where(
            author_claims.c.user_pk == user_pk, author_claims.c.status == "confirmed"
        )
        with self.engine.connect() as conn:
            return [_claim(row) for row in conn.execute(query.order_by(author_claims.c.name))]

    def decide_claim(self, *, pk: int, moderator_pk: int, confirm: bool, now: datetime) -> None:
        """Confirm a claim, or reject it (the row goes). A page already confirmed for
        another account is refused: the moderator rejects that claim first."""
        try:
            with writing(self.engine) as conn:
                if confirm:
                    changes = update(author_claims).values(
                        status="confirmed", decided=now, decided_by=moderator_pk
                    )
                    done = conn.execute(changes.where(author_claims.c.pk == pk))
                else:
                    done = conn.execute(delete(author_claims).where(author_claims.c.pk == pk))
                if done.rowcount == 0:
                    raise ClaimError("No such claim (it may have been decided already).")
                touch_pages(conn)
        except IntegrityError:
            raise ClaimError(
                "This page is already confirmed as another account's; reject that claim first."
            ) from None

    def withdraw_claim(self, *, user_pk: int, name_key: str) -> None:
        """An account takes back its claim on a page, confirmed or not."""
        with writing(self.engine) as conn:
            conn.execute(
                delete(author_claims).where(
                    author_claims.c.user_pk == user_pk, author_claims.c.name_key == name_key
                )
            )
            touch_pages(conn)


__all__ = ["AuthorClaim", "ClaimError", "ClaimsMixin", "author_claims"]
