"""Live sources: per-source sync state (watermark, checkpoint) and the log of sync runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Create source_state and source_runs."""
    op.create_table(
        "source_state",
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("watermark", sa.String(40)),
        sa.Column("checkpoint", Json),
        sa.Column("last_success", sa.DateTime()),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_source_state"),
    )
    op.create_table(
        "source_runs",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("started", sa.DateTime(), nullable=False),
        sa.Column("finished", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text()),
        sa.PrimaryKeyConstraint("pk", name="pk_source_runs"),
    )
    op.create_index("ix_source_runs_source", "source_runs", ["source"])


def downgrade() -> None:
    """Drop what the upgrade made."""
    op.drop_index("ix_source_runs_source", table_name="source_runs")
    op.drop_table("source_runs")
    op.drop_table("source_state")
