"""Papers, their external ids, page listings and the ingest log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Create the first tables."""
    op.create_table(
        "papers",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("arxiv_id", sa.String(40)),
        sa.Column("arxiv_version", sa.Integer()),
        sa.Column("doi", sa.String(255)),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_key", sa.Text(), nullable=False),
        sa.Column("author_key", sa.String(200), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("authors", Json, nullable=False),
        sa.Column("categories", Json, nullable=False),
        sa.Column("primary_category", sa.String(40)),
        sa.Column("published", sa.DateTime()),
        sa.Column("updated", sa.DateTime()),
        sa.Column("listed_on", sa.Date()),
        sa.Column("day", sa.Date()),
        sa.Column("url_abs", sa.Text()),
        sa.Column("url_pdf", sa.Text()),
        sa.Column("url_code", sa.Text()),
        sa.Column("url_project", sa.Text()),
        sa.Column("journal_ref", sa.Text()),
        sa.Column("comments", sa.Text()),
        sa.Column("upvotes_external", sa.Integer()),
        sa.Column("github_stars", sa.Integer()),
        sa.Column("comments_count", sa.Integer()),
        sa.Column("submitted_by", sa.String(200)),
        sa.Column("sources", Json, nullable=False),
        sa.Column("extra", Json, nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("modified", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_papers"),
        sa.UniqueConstraint("id", name="uq_papers_id"),
        sa.UniqueConstraint("arxiv_id", name="uq_papers_arxiv_id"),
    )
    op.create_index("ix_papers_doi", "papers", ["doi"])
    op.create_index("ix_papers_title_key", "papers", ["title_key"])
    op.create_index("ix_papers_primary_category", "papers", ["primary_category"])
    op.create_index("ix_papers_day", "papers", ["day"])
    op.create_index("ix_papers_modified", "papers", ["modified"])
    op.create_table(
        "paper_external_ids",
        sa.Column("namespace", sa.String(100), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "value", name="pk_paper_external_ids"),
        sa.ForeignKeyConstraint(
            ["paper_pk"],
            ["papers.pk"],
            name="fk_paper_external_ids_paper_pk_papers",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_paper_external_ids_paper_pk", "paper_external_ids", ["paper_pk"])
    op.create_table(
        "listings",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("listed_on", sa.Date(), nullable=False),
        sa.Column("subject_pk", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_listings"),
        sa.ForeignKeyConstraint(
            ["subject_pk"], ["papers.pk"], name="fk_listings_subject_pk_papers", ondelete="CASCADE"
        ),
        sa.UniqueConstraint(
            "kind", "listed_on", "subject_pk", name="uq_listings_kind_listed_on_subject_pk"
        ),
    )
    op.create_table(
        "listing_items",
        sa.Column("listing_pk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("listing_pk", "position", name="pk_listing_items"),
        sa.ForeignKeyConstraint(
            ["listing_pk"],
            ["listings.pk"],
            name="fk_listing_items_listing_pk_listings",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["paper_pk"], ["papers.pk"], name="fk_listing_items_paper_pk_papers", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_listing_items_paper_pk", "listing_items", ["paper_pk"])
    op.create_table(
        "ingest_runs",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("started", sa.DateTime(), nullable=False),
        sa.Column("finished", sa.DateTime(), nullable=False),
        sa.Column("formats", Json, nullable=False),
        sa.Column("paths", Json, nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_ingest_runs"),
    )


def downgrade() -> None:
    """Drop everything the upgrade made."""
    for table in ("ingest_runs", "listing_items", "listings", "paper_external_ids", "papers"):
        op.drop_table(table)
