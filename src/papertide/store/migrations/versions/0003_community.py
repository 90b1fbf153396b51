"""Community: users, sessions, votes, submissions, rate-limit events; papers.site_votes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the community tables and the site-vote count on papers."""
    with op.batch_alter_table("papers") as batch:
        batch.add_column(sa.Column("site_votes", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_papers_feed", "papers", ["day", "site_votes", "upvotes_external"])
    op.create_table(
        "users",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(40), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("expires", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_sessions"),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name="fk_sessions_user_pk_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_sessions_expires", "sessions", ["expires"])
    op.create_table(
        "votes",
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_pk", "paper_pk", name="pk_votes"),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name="fk_votes_user_pk_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["paper_pk"], ["papers.pk"], name="fk_votes_paper_pk_papers", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_votes_paper_pk", "votes", ["paper_pk"])
    op.create_table(
        "submissions",
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.Column("user_pk", sa.Integer(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("paper_pk", name="pk_submissions"),
        sa.ForeignKeyConstraint(
            ["paper_pk"], ["papers.pk"], name="fk_submissions_paper_pk_papers", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_pk"], ["users.pk"], name="fk_submissions_user_pk_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_submissions_user_pk", "submissions", ["user_pk"])
    op.create_table(
        "rate_events",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_rate_events"),
    )
    op.create_index("ix_rate_events_key_at", "rate_events", ["key", "at"])


def downgrade() -> None:
    """Drop what the upgrade made."""
    for table in ("rate_events", "submissions", "votes", "sessions", "users"):
        op.drop_table(table)
    op.drop_index("ix_papers_feed", "papers")
    with op.batch_alter_table("papers") as batch:
        batch.drop_column("site_votes")
