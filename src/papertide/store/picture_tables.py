"""Table definitions of paper pictures (migration pictures), on the one ``schema.metadata``
(schema.py is at its size limit): the stored pictures, the worker's fetch attempts, and the
wishes paper pages record. Loaded with the store package, so ``metadata`` always holds them.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from papertide.store.schema import metadata

# Pictures (migration pictures): one per paper at most, kept here so every node serves it.
# ``version`` is a short hash of ``data``: the picture's address changes with its bytes, so
# it can be cached for a year.
paper_pictures = Table(
    "paper_pictures",
    metadata,
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("version", String(16), nullable=False),
    Column("mime", String(40), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("origin", String(20), nullable=False),  # hf-thumbnail or pdf
    Column("data", LargeBinary, nullable=False),
    Column("fetched_at", DateTime, nullable=False),
    # The grid's 16:10 band of it (migration picture_cards), with its own version key; empty
    # for a picture stored before, which the worker then cuts (cards show the full one till).
    Column("card", LargeBinary),
    Column("card_version", String(16)),
)

# Each paper's fetch attempts: a round claims a paper by moving next_try past its lease (so
# two workers never fetch one paper at once), a failure records why and when to try again.
picture_attempts = Table(
    "picture_attempts",
    metadata,
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("tries", Integer, nullable=False),
    Column("last_error", Text),
    Column("last_try", DateTime, nullable=False),
    Column("next_try", DateTime, nullable=False),
)

# Papers whose page a reader opened without a picture there: the worker fetches those first.
picture_wishes = Table(
    "picture_wishes",
    metadata,
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("wished_at", DateTime, nullable=False),
    Index("ix_picture_wishes_wished_at", "wished_at"),
)
