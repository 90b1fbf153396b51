"""Reading lists are called lists from the table to the template: the tables collections
and collection_items become lists and list_items (their column collection_pk, list_pk).

The new tables are made with their own constraint names, the rows copied with their keys,
the old tables dropped: the same on SQLite (which cannot rename a constraint) and
PostgreSQL, in one transaction.

Revision ID: lists
Revises: social
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lists"
down_revision = "social"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [target], name=f"fk_{table}_{column}_{target.split('.')[0]}", ondelete="CASCADE"
    )


def _create(lists: str, items: str, list_pk: str) -> None:
    """The two tables under the names given (the only difference between the versions)."""
    op.create_table(
        lists,
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=f"pk_{lists}"),
        _fk(lists, "user_pk", "users.pk"),
        sa.UniqueConstraint("user_pk", "slug", name=f"uq_{lists}_user_pk_slug"),
    )
    op.create_table(
        items,
        sa.Column(list_pk, sa.Integer(), nullable=False),
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.Column("added", sa.DateTime(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(list_pk, "paper_pk", name=f"pk_{items}"),
        _fk(items, list_pk, f"{lists}.pk"),
        _fk(items, "paper_pk", "papers.pk"),
    )
    op.create_index(f"ix_{items}_paper_pk", items, ["paper_pk"])


def _move(old: tuple[str, str, str], new: tuple[str, str, str]) -> None:
    """Create ``new`` (lists, items, key column), copy ``old``'s rows in, drop ``old``."""
    _create(*new)
    columns = "pk, user_pk, slug, name, description, public, created, updated"
    op.execute(f"INSERT INTO {new[0]} ({columns}) SELECT {columns} FROM {old[0]}")
    op.execute(
        f"INSERT INTO {new[1]} ({new[2]}, paper_pk, added, position) "
        f"SELECT {old[2]}, paper_pk, added, position FROM {old[1]}"
    )
    if op.get_bind().dialect.name == "postgresql":  # the copied keys: go on after the last
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{new[0]}', 'pk'), "
            f"COALESCE((SELECT MAX(pk) FROM {new[0]}), 0) + 1, false)"
        )
    op.drop_table(old[1])
    op.drop_table(old[0])


def upgrade() -> None:
    """collections, collection_items -> lists, list_items."""
    _move(("collections", "collection_items", "collection_pk"), ("lists", "list_items", "list_pk"))


def downgrade() -> None:
    """lists, list_items -> collections, collection_items."""
    _move(("lists", "list_items", "list_pk"), ("collections", "collection_items", "collection_pk"))
