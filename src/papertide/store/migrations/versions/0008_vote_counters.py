"""Write counters for the writes the change feed does not carry (votes), so page caches see
them.

Revision ID: counters
Revises: secrets
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "counters"
down_revision = "secrets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create site_counters with the votes counter at 0."""
    table = op.create_table(
        "site_counters",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_site_counters"),
    )
    op.bulk_insert(table, [{"name": "votes", "value": 0}])


def downgrade() -> None:
    """Drop what the upgrade made."""
    op.drop_table("site_counters")
