"""Author claims: an account's claim on an author page, confirmed by a moderator; at most one
confirmed claim per page (a partial unique index, on SQLite and PostgreSQL alike).

Revision ID: author_claims
Revises: pictures
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "author_claims"
down_revision = "pictures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "author_claims",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("name_key", sa.String(300), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("decided", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name="fk_author_claims_user_pk_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["users.pk"],
            name="fk_author_claims_decided_by_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("pk", name="pk_author_claims"),
        sa.UniqueConstraint("user_pk", "name_key", name="uq_author_claims_user_pk_name_key"),
    )
    op.create_index(
        "ix_author_claims_confirmed_name",
        "author_claims",
        ["name_key"],
        unique=True,
        sqlite_where=sa.text("status = 'confirmed'"),
        postgresql_where=sa.text("status = 'confirmed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_author_claims_confirmed_name", table_name="author_claims")
    op.drop_table("author_claims")
