"""Paper pictures: paper_pictures (the stored WebP of a paper), picture_attempts (claims and
failures of the worker's fetches), picture_wishes (papers whose page was opened).

Revision ID: pictures
Revises: lists
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "pictures"
down_revision = "lists"
branch_labels = None
depends_on = None


def _paper_key(table: str) -> list[Any]:
    return [
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("paper_pk", name=f"pk_{table}"),
        sa.ForeignKeyConstraint(
            ["paper_pk"], ["papers.pk"], name=f"fk_{table}_paper_pk_papers", ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    """Create the three picture tables."""
    op.create_table(
        "paper_pictures",
        *_paper_key("paper_pictures"),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("mime", sa.String(40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "picture_attempts",
        *_paper_key("picture_attempts"),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_try", sa.DateTime(), nullable=False),
        sa.Column("next_try", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "picture_wishes",
        *_paper_key("picture_wishes"),
        sa.Column("wished_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_picture_wishes_wished_at", "picture_wishes", ["wished_at"])


def downgrade() -> None:
    """Drop them."""
    op.drop_table("picture_wishes")
    op.drop_table("picture_attempts")
    op.drop_table("paper_pictures")
