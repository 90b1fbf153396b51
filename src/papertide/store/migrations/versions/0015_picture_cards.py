"""Card variants of paper pictures: the small 16:10 band the grid's tiles show, beside the
full picture the paper page shows, with its own version key (its address names its bytes).

Expand only: both columns may be empty (a picture stored before them, or by an older node),
and then the cards use the full picture, so an older node keeps serving while a newer one
runs this.

Revision ID: picture_cards
Revises: hub_links
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "picture_cards"
down_revision = "hub_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the card variant's bytes and version key to paper_pictures."""
    with op.batch_alter_table("paper_pictures") as batch:
        batch.add_column(sa.Column("card", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("card_version", sa.String(16), nullable=True))


def downgrade() -> None:
    """Drop the card variants; cards show the full pictures again."""
    with op.batch_alter_table("paper_pictures") as batch:
        batch.drop_column("card_version")
        batch.drop_column("card")
