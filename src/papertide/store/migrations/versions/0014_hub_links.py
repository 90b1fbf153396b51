"""What papers led to on the Hugging Face Hub: paper_artifacts (the models, datasets and
Spaces citing a paper) and hub_checks (when a paper's repositories and GitHub stars were
last asked for, and its counts for the cards).

Revision ID: hub_links
Revises: author_claims
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "hub_links"
down_revision = "author_claims"
branch_labels = None
depends_on = None


def _paper_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["paper_pk"], ["papers.pk"], name=f"fk_{table}_paper_pk_papers", ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create paper_artifacts and hub_checks."""
    op.create_table(
        "paper_artifacts",
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("repo", sa.String(200), nullable=False),
        sa.Column("likes", sa.Integer(), nullable=False),
        sa.Column("downloads", sa.Integer(), nullable=True),
        sa.Column("updated", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("paper_pk", "kind", "repo", name="pk_paper_artifacts"),
        _paper_fk("paper_artifacts"),
    )
    op.create_table(
        "hub_checks",
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.Column("checked", sa.DateTime(), nullable=True),
        sa.Column("models", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("datasets", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("spaces", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("more", sa.String(40), nullable=False, server_default=""),
        sa.Column("stars_checked", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("paper_pk", name="pk_hub_checks"),
        _paper_fk("hub_checks"),
    )
    op.create_index("ix_hub_checks_checked", "hub_checks", ["checked"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_hub_checks_checked", table_name="hub_checks")
    op.drop_table("hub_checks")
    op.drop_table("paper_artifacts")
