"""The change feed that every index follows, embeddings kept once, similar lists' positions.

paper_changes gets one row for every paper a transaction inserts, updates (other than a vote
count) or deletes, written by triggers in that same transaction, so no write path can forget
it. Its order: on SQLite writers are serialised, so ``seq`` is commit order; on PostgreSQL
transactions commit out of order, so each row carries its transaction id (``txid``) and
followers read against the snapshot's xmin horizon (store/changes.py).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION papertide_paper_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO paper_changes (paper_pk) SELECT pk FROM new_rows ORDER BY pk;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO paper_changes (paper_pk)
        SELECT n.pk FROM new_rows n JOIN old_rows o ON o.pk = n.pk
        WHERE n.site_votes = o.site_votes ORDER BY n.pk;
    ELSE
        INSERT INTO paper_changes (paper_pk) SELECT pk FROM old_rows ORDER BY pk;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
# Statement-level triggers with transition tables: one INSERT ... SELECT per statement, not
# a function call per row (an import's executemany writes thousands of rows at a time).
_PG_TRIGGERS = {
    "papers_changes_insert": "AFTER INSERT ON papers REFERENCING NEW TABLE AS new_rows",
    "papers_changes_update": (
        "AFTER UPDATE ON papers REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    ),
    "papers_changes_delete": "AFTER DELETE ON papers REFERENCING OLD TABLE AS old_rows",
}
# A vote only moves site_votes, which search does not index: not a change for the feed.
_SQLITE_TRIGGERS = {
    "papers_changes_insert": (
        "AFTER INSERT ON papers BEGIN INSERT INTO paper_changes (paper_pk) VALUES (NEW.pk); END"
    ),
    "papers_changes_update": (
        "AFTER UPDATE ON papers WHEN NEW.site_votes = OLD.site_votes "
        "BEGIN INSERT INTO paper_changes (paper_pk) VALUES (NEW.pk); END"
    ),
    "papers_changes_delete": (
        "AFTER DELETE ON papers BEGIN INSERT INTO paper_changes (paper_pk) VALUES (OLD.pk); END"
    ),
}


def upgrade() -> None:
    """Create paper_changes (with its triggers), paper_embeddings; similar_lists.position."""
    postgres = op.get_bind().dialect.name == "postgresql"
    txid_default = sa.text("(pg_current_xact_id()::text::bigint)") if postgres else None
    op.create_table(
        "paper_changes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("txid", sa.BigInteger(), server_default=txid_default),
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_paper_changes"),
        sqlite_autoincrement=True,  # a seq is never reused, even after the newest is pruned
    )
    op.create_index("ix_paper_changes_txid", "paper_changes", ["txid"])
    if postgres:
        op.execute(_PG_FUNCTION)
        for name, when in _PG_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} {when} FOR EACH STATEMENT "
                "EXECUTE FUNCTION papertide_paper_changed()"
            )
    else:
        for name, body in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    # Every paper stored before the feed existed is a change to apply once.
    op.execute("INSERT INTO paper_changes (paper_pk) SELECT pk FROM papers ORDER BY pk")
    op.create_table(
        "paper_embeddings",
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("text_hash", sa.String(32), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("passages", sa.LargeBinary()),
        sa.PrimaryKeyConstraint("paper_pk", "model", name="pk_paper_embeddings"),
        sa.ForeignKeyConstraint(
            ["paper_pk"],
            ["papers.pk"],
            name="fk_paper_embeddings_paper_pk_papers",
            ondelete="CASCADE",
        ),
    )
    with op.batch_alter_table("similar_lists") as batch:
        batch.add_column(sa.Column("position", sa.BigInteger()))


def downgrade() -> None:
    """Drop what the upgrade made."""
    with op.batch_alter_table("similar_lists") as batch:
        batch.drop_column("position")
    op.drop_table("paper_embeddings")
    names = _PG_TRIGGERS if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    for name in names:
        op.execute(
            f"DROP TRIGGER IF EXISTS {name}" + (" ON papers" if names is _PG_TRIGGERS else "")
        )
    if names is _PG_TRIGGERS:
        op.execute("DROP FUNCTION IF EXISTS papertide_paper_changed()")
    op.drop_index("ix_paper_changes_txid", table_name="paper_changes")
    op.drop_table("paper_changes")
