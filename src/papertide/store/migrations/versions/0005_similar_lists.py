"""Similar-paper lists kept between views: computed once, read by every paper page.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Create similar_lists."""
    op.create_table(
        "similar_lists",
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("computed", sa.DateTime(), nullable=False),
        sa.Column("items", Json, nullable=False),
        sa.PrimaryKeyConstraint("paper_pk", name="pk_similar_lists"),
        sa.ForeignKeyConstraint(
            ["paper_pk"], ["papers.pk"], name="fk_similar_lists_paper_pk_papers", ondelete="CASCADE"
        ),
    )


def downgrade() -> None:
    """Drop what the upgrade made."""
    op.drop_table("similar_lists")
