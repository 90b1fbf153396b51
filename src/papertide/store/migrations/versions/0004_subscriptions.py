"""Digest subscribers, the digest outbox and the ledger of papers sent to each subscriber.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Create subscribers, digests and digest_papers."""
    op.create_table(
        "subscribers",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("user_pk", sa.Integer()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("prefs", Json, nullable=False),
        sa.Column("bounces", sa.Integer(), nullable=False),
        sa.Column("confirm_window", sa.DateTime()),
        sa.Column("confirm_count", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("confirmed", sa.DateTime()),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_subscribers"),
        sa.UniqueConstraint("email", name="uq_subscribers_email"),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name="fk_subscribers_user_pk_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_subscribers_user_pk", "subscribers", ["user_pk"])
    op.create_index("ix_subscribers_status", "subscribers", ["status"])
    op.create_table(
        "digests",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("subscriber_pk", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("items", Json, nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.DateTime(), nullable=False),
        sa.Column("claim", sa.String(40)),
        sa.Column("lease_until", sa.DateTime()),
        sa.Column("sent", sa.DateTime()),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("pk", name="pk_digests"),
        sa.UniqueConstraint("message_id", name="uq_digests_message_id"),
        sa.UniqueConstraint("subscriber_pk", "period", name="uq_digests_subscriber_pk_period"),
        sa.ForeignKeyConstraint(
            ["subscriber_pk"],
            ["subscribers.pk"],
            name="fk_digests_subscriber_pk_subscribers",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_digests_status_next_attempt", "digests", ["status", "next_attempt"])
    op.create_table(
        "digest_papers",
        sa.Column("subscriber_pk", sa.Integer(), nullable=False),
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.Column("digest_pk", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("subscriber_pk", "paper_pk", name="pk_digest_papers"),
        sa.ForeignKeyConstraint(
            ["subscriber_pk"],
            ["subscribers.pk"],
            name="fk_digest_papers_subscriber_pk_subscribers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["paper_pk"], ["papers.pk"], name="fk_digest_papers_paper_pk_papers", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["digest_pk"],
            ["digests.pk"],
            name="fk_digest_papers_digest_pk_digests",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_digest_papers_digest_pk", "digest_papers", ["digest_pk"])


def downgrade() -> None:
    """Drop what the upgrade made."""
    op.drop_index("ix_digest_papers_digest_pk", table_name="digest_papers")
    op.drop_table("digest_papers")
    op.drop_index("ix_digests_status_next_attempt", table_name="digests")
    op.drop_table("digests")
    op.drop_index("ix_subscribers_status", table_name="subscribers")
    op.drop_index("ix_subscribers_user_pk", table_name="subscribers")
    op.drop_table("subscribers")
