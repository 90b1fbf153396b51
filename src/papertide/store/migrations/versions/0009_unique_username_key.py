"""One account per username whatever its case or Unicode form, so no one can pass for
another user by registering ``ADA`` or a full-width spelling beside ``ada``.

Adds users.username_key (NFKC, case folded, NFKC: see normalize.username_key) under a
unique index. Accounts that already collide on it (``ada_ux`` and ``ADA_UX`` registered
before) keep their rows, votes and sessions: the oldest keeps its name, each later one is
renamed ``NAME-PK`` (free by construction), its first-submitter credit follows the new name,
and the migration logs every rename so the operator can tell those users.

Revision ID: usernames
Revises: counters
Create Date: 2026-12-02
"""

from __future__ import annotations

import logging
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "usernames"
down_revision = "counters"
branch_labels = None
depends_on = None

log = logging.getLogger("papertide.store.migrations")
_MAX_NAME = 40


def _key(name: str) -> str:
    """normalize.username_key as of this migration (frozen here: migrations never change)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def _free_name(name: str, pk: int, keys: set[str]) -> str:
    """``NAME-PK`` cut to fit, with more digits of the pk's suffix until it is free."""
    n = 0
    while True:
        suffix = f"-{pk}" + (f"-{n}" if n else "")
        candidate = name[: _MAX_NAME - len(suffix)] + suffix
        if _key(candidate) not in keys:
            return candidate
        n += 1


def upgrade() -> None:
    """Add username_key, fill it (renaming later duplicates), then make it unique."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("username_key", sa.String(160), nullable=True))
    conn = op.get_bind()
    users = sa.table("users", sa.column("pk"), sa.column("username"), sa.column("username_key"))
    papers = sa.table("papers", sa.column("pk"), sa.column("submitted_by"))
    submissions = sa.table("submissions", sa.column("paper_pk"), sa.column("user_pk"))
    rows = conn.execute(sa.select(users.c.pk, users.c.username).order_by(users.c.pk)).all()
    keys = {_key(name) for _, name in rows}
    seen: set[str] = set()
    for pk, name in rows:
        key = _key(name)
        if key in seen:
            renamed = _free_name(name, pk, keys)
            log.warning("username %r collides with an older account: renamed %r", name, renamed)
            conn.execute(sa.update(users).where(users.c.pk == pk).values(username=renamed))
            credited = sa.select(submissions.c.paper_pk).where(submissions.c.user_pk == pk)
            conn.execute(
                sa.update(papers)
                .where(papers.c.pk.in_(credited), papers.c.submitted_by == name)
                .values(submitted_by=renamed)
            )
            key = _key(renamed)
            keys.add(key)
        seen.add(key)
        conn.execute(sa.update(users).where(users.c.pk == pk).values(username_key=key))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("username_key", existing_type=sa.String(160), nullable=False)
        batch.create_index("ix_users_username_key", ["username_key"], unique=True)


def downgrade() -> None:
    """Drop the key (renamed accounts keep their new names)."""
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_username_key")
        batch.drop_column("username_key")
