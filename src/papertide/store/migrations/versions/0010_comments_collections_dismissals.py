"""Discussion, collections and "not interested": comments, collections,
collection_items, dismissals, and the moderator flag on users.

Revision ID: social
Revises: usernames
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "social"
down_revision = "usernames"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=f"fk_{table}_{column}_{referred}", ondelete=ondelete
    )


def upgrade() -> None:
    """Create the social tables and users.moderator."""
    # A plain ALTER TABLE ... ADD COLUMN (SQLite takes it with a default): batch mode would
    # copy and drop users, and the drop cascades to every session and vote (foreign keys on).
    op.add_column(
        "users", sa.Column("moderator", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "comments",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("parent_pk", sa.Integer()),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("edited", sa.DateTime()),
        sa.Column("deleted", sa.DateTime()),
        sa.Column("hidden", sa.DateTime()),
        sa.Column("hidden_by", sa.Integer()),
        sa.PrimaryKeyConstraint("pk", name="pk_comments"),
        _fk("comments", "paper_pk", "papers.pk"),
        _fk("comments", "user_pk", "users.pk"),
        _fk("comments", "parent_pk", "comments.pk"),
        _fk("comments", "hidden_by", "users.pk", "SET NULL"),
    )
    op.create_index("ix_comments_paper_pk_created", "comments", ["paper_pk", "created"])
    op.create_index("ix_comments_parent_pk", "comments", ["parent_pk"])
    op.create_index("ix_comments_user_pk", "comments", ["user_pk"])
    op.create_table(
        "collections",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_collections"),
        _fk("collections", "user_pk", "users.pk"),
        sa.UniqueConstraint("user_pk", "slug", name="uq_collections_user_pk_slug"),
    )
    op.create_table(
        "collection_items",
        sa.Column("collection_pk", sa.Integer(), nullable=False),
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.Column("added", sa.DateTime(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("collection_pk", "paper_pk", name="pk_collection_items"),
        _fk("collection_items", "collection_pk", "collections.pk"),
        _fk("collection_items", "paper_pk", "papers.pk"),
    )
    op.create_index("ix_collection_items_paper_pk", "collection_items", ["paper_pk"])
    op.create_table(
        "dismissals",
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_pk", "paper_pk", name="pk_dismissals"),
        _fk("dismissals", "user_pk", "users.pk"),
        _fk("dismissals", "paper_pk", "papers.pk"),
    )
    op.create_index("ix_dismissals_paper_pk", "dismissals", ["paper_pk"])


def downgrade() -> None:
    """Drop what the upgrade made."""
    for table in ("dismissals", "collection_items", "collections", "comments"):
        op.drop_table(table)
    op.drop_column("users", "moderator")  # SQLite >= 3.35 drops a column in place
