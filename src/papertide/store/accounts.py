"""Store methods for accounts: users, their password hashes and their sessions."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from papertide.clock import utcnow
from papertide.models import User
from papertide.normalize import username_key
from papertide.store.schema import (
    sessions,
    users,
)
from papertide.store.writer import writing


class NameTaken(Exception):
    """The username or email address belongs to another account."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(row: object) -> User:
    return User(
        pk=row.pk,  # type: ignore[attr-defined]
        username=row.username,  # type: ignore[attr-defined]
        email=row.email,  # type: ignore[attr-defined]
        created=row.created,  # type: ignore[attr-defined]
        moderator=bool(row.moderator),  # type: ignore[attr-defined]
    )


class AccountsMixin:
    """Accounts and their sessions; mixed into Store, which provides ``engine``."""

    engine: Engine

    def create_user(
        self, *, username: str, email: str | None, password_hash: str, now: datetime
    ) -> User:
        """A new account, or NameTaken when the username (compared as ``username_key``:
        case and Unicode form ignored) or the email is in use."""
        row = {
            "username": username,
            "username_key": username_key(username),
            "email": email,
            "password_hash": password_hash,
            "created": now,
        }
        try:
            with writing(self.engine) as conn:
                pk = conn.execute(insert(users).returning(users.c.pk), row).scalar_one()
        except IntegrityError as exc:
            raise NameTaken(username) from exc
        return User(pk=pk, username=username, email=email, created=now)

    def user_with_hash(self, username: str) -> tuple[User, str] | None:
        """An account and its password hash, by username (any case or Unicode form)."""
        query = select(users).where(users.c.username_key == username_key(username))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (_user(row), row.password_hash) if row else None

    def user_by_name(self, username: str) -> User | None:
        """An account by username (any case or Unicode form: ``ADA_UX`` finds ``ada_ux``)."""
        found = self.user_with_hash(username)
        return found[0] if found else None

    def set_password_hash(self, user_pk: int, password_hash: str) -> None:
        """Store a re-hashed password (argon2 parameters change over time)."""
        with writing(self.engine) as conn:
            conn.execute(
                update(users).where(users.c.pk == user_pk).values(password_hash=password_hash)
            )

    def create_session(self, *, user_pk: int, token: str, now: datetime, ttl: timedelta) -> None:
        """Remember a signed-in browser by the hash of its cookie token."""
        row = {"token_hash": _token_hash(token), "user_pk": user_pk, "created": now}
        with writing(self.engine) as conn:
            conn.execute(delete(sessions).where(sessions.c.expires < now))
            conn.execute(insert(sessions), {**row, "expires": now + ttl})

    def user_for_session(self, token: str, *, now: datetime | None = None) -> User | None:
        """The account a session cookie belongs to, if the session is live."""
        now = now or utcnow()
        query = (
            select(users)
            .join(sessions, sessions.c.user_pk == users.c.pk)
            .where(sessions.c.token_hash == _token_hash(token), sessions.c.expires > now)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _user(row) if row else None

    def delete_session(self, token: str) -> None:
        """Sign a browser out."""
        with writing(self.engine) as conn:
            conn.execute(delete(sessions).where(sessions.c.token_hash == _token_hash(token)))
