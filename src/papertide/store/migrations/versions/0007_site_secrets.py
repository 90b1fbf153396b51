"""Site secrets kept in the database, shared by every node, so a mail link or CSRF token one
node signed is accepted by every other.

Revision ID: secrets
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "secrets"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create site_secrets."""
    op.create_table(
        "site_secrets",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_site_secrets"),
    )


def downgrade() -> None:
    """Drop what the upgrade made."""
    op.drop_table("site_secrets")
