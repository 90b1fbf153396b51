"""Table definitions (SQLAlchemy Core). Alembic migrations create and change them.

Every change here needs a migration in migrations/versions;
tests/store/test_migrations_and_transactions.py checks the migrated database against these
definitions.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from papertide.store.dialects import JsonColumn

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# JSONB on PostgreSQL (comparable, indexable); JSON text elsewhere.
Json = JsonColumn()

papers = Table(
    "papers",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("arxiv_id", String(40), unique=True),
    Column("arxiv_version", Integer),
    Column("doi", String(255), index=True),
    Column("title", Text, nullable=False),
    Column("title_key", Text, nullable=False, index=True),
    Column("author_key", String(200), nullable=False, default=""),
    Column("abstract", Text, nullable=False, default=""),
    Column("authors", Json, nullable=False),
    Column("categories", Json, nullable=False),
    Column("primary_category", String(40), index=True),
    Column("published", DateTime),
    Column("updated", DateTime),
    Column("listed_on", Date),
    Column("day", Date, index=True),
    Column("url_abs", Text),
    Column("url_pdf", Text),
    Column("url_code", Text),
    Column("url_project", Text),
    Column("journal_ref", Text),
    Column("comments", Text),
    Column("upvotes_external", Integer),
    Column("github_stars", Integer),
    Column("comments_count", Integer),
    Column("submitted_by", String(200)),
    Column("sources", Json, nullable=False),
    Column("extra", Json, nullable=False),
    Column("first_seen", DateTime, nullable=False),
    # Upvotes cast on this site (a count kept beside the votes rows, in the same transaction).
    Column("site_votes", Integer, nullable=False, server_default="0"),
    # When the row was last written (UTC, microseconds): indexes catch up from it.
    Column("modified", DateTime, nullable=False, index=True),
    # Covers the feeds' "papers of a period, most voted first": the sort reads only the index.
    Index("ix_papers_feed", "day", "site_votes", "upvotes_external"),
)

external_ids = Table(
    "paper_external_ids",
    metadata,
    Column("namespace", String(100), primary_key=True),
    Column("value", String(200), primary_key=True),
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), nullable=False),
    Index("ix_paper_external_ids_paper_pk", "paper_pk"),
)

listings = Table(
    "listings",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    Column("origin", Text, nullable=False),
    Column("listed_on", Date, nullable=False),
    Column("subject_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), nullable=False),
    UniqueConstraint("kind", "listed_on", "subject_pk"),
)

listing_items = Table(
    "listing_items",
    metadata,
    Column(
        "listing_pk",
        Integer,
        ForeignKey("listings.pk", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), nullable=False),
    Index("ix_listing_items_paper_pk", "paper_pk"),
)

ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("started", DateTime, nullable=False),
    Column("finished", DateTime, nullable=False),
    Column("formats", Json, nullable=False),
    Column("paths", Json, nullable=False),
    Column("added", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
)

# Live sources (papertide sync). A Python None is SQL NULL here, not JSON 'null'.
JsonOrNull = JsonColumn(none_as_null=True)

# Where each live source stands: its incremental position and, while a run is part way
# through, the checkpoint it resumes from. Written in the same transaction as the papers.
source_state = Table(
    "source_state",
    metadata,
    Column("source", String(40), primary_key=True),
    Column("watermark", String(40)),
    Column("checkpoint", JsonOrNull),
    Column("last_success", DateTime),
    Column("updated", DateTime, nullable=False),
)

# One row per run of a live source, failed ones included.
source_runs = Table(
    "source_runs",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("source", String(40), nullable=False, index=True),
    Column("started", DateTime, nullable=False),
    Column("finished", DateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("pages", Integer, nullable=False),
    Column("added", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("errors", Integer, nullable=False),
    Column("message", Text),
)

# Community: accounts, server-side sessions, votes, submissions, rate-limit events.
users = Table(
    "users",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("username", String(40), nullable=False, unique=True),
    # normalize.username_key(username): one account per name, whatever its case or Unicode
    # form (migration "usernames").
    Column("username_key", String(160), nullable=False),
    Column("email", String(320), unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("created", DateTime, nullable=False),
    # Moderators may hide any comment (granted by `papertide users moderator NAME`).
    Column("moderator", Boolean, nullable=False, server_default=false()),
    Index("ix_users_username_key", "username_key", unique=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256 of the cookie's token
    Column("user_pk", Integer, ForeignKey("users.pk", ondelete="CASCADE"), nullable=False),
    Column("created", DateTime, nullable=False),
    Column("expires", DateTime, nullable=False, index=True),
)

votes = Table(
    "votes",
    metadata,
    Column("user_pk", Integer, ForeignKey("users.pk", ondelete="CASCADE"), primary_key=True),
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("created", DateTime, nullable=False),
    Index("ix_votes_paper_pk", "paper_pk"),
)

submissions = Table(
    "submissions",
    metadata,
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("user_pk", Integer, ForeignKey("users.pk", ondelete="CASCADE"), nullable=False),
    Column("created", DateTime, nullable=False),
    Index("ix_submissions_user_pk", "user_pk"),
)

rate_events = Table(
    "rate_events",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("at", DateTime, nullable=False),
    Index("ix_rate_events_key_at", "key", "at"),
)

# Digest subscribers (mail/). ``prefs`` holds mail.models.Preferences as JSON; ``status`` is
# pending (not confirmed yet), active, unsubscribed or bouncing.
subscribers = Table(
    "subscribers",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("user_pk", Integer, ForeignKey("users.pk", ondelete="SET NULL"), index=True),
    Column("status", String(20), nullable=False, index=True),
    Column("prefs", Json, nullable=False),
    Column("bounces", Integer, nullable=False),
    Column("confirm_window", DateTime),  # start of the confirmation-mail rate-limit window
    Column("confirm_count", Integer, nullable=False),
    Column("created", DateTime, nullable=False),
    Column("confirmed", DateTime),
    Column("updated", DateTime, nullable=False),
)

# The outbox: one row per (subscriber, period), created once; status pending -> claimed ->
# sent | failed (or 'empty' when nothing was worth sending). See mail/send.py.
digests = Table(
    "digests",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscriber_pk", Integer, ForeignKey("subscribers.pk", ondelete="CASCADE"), nullable=False
    ),
    Column("period", String(20), nullable=False),
    Column("status", String(10), nullable=False),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("subject", Text, nullable=False),
    Column("items", Json, nullable=False),
    Column("created", DateTime, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt", DateTime, nullable=False),
    Column("claim", String(40)),
    Column("lease_until", DateTime),
    Column("sent", DateTime),
    Column("error", Text),
    UniqueConstraint("subscriber_pk", "period"),
    Index("ix_digests_status_next_attempt", "status", "next_attempt"),
)

# Every paper ever put in a subscriber's digest: never sent to them again.
digest_papers = Table(
    "digest_papers",
    metadata,
    Column(
        "subscriber_pk", Integer, ForeignKey("subscribers.pk", ondelete="CASCADE"), primary_key=True
    ),
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("digest_pk", Integer, ForeignKey("digests.pk", ondelete="CASCADE"), nullable=False),
    Index("ix_digest_papers_digest_pk", "digest_pk"),
)

# A paper's similar papers as last computed (search/service.py): [[pk, score, [why...]], ...]
# under the embedding model that ranked them; recomputed when stale or the model changed.
similar_lists = Table(
    "similar_lists",
    metadata,
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("model", String(200), nullable=False),
    Column("computed", DateTime, nullable=False),
    Column("items", Json, nullable=False),
    # The change-feed position of the index that ranked them (store/changes.py): a list
    # from a staler index never replaces a fresher one.
    Column("position", BigInteger),
)

# The change feed (migration 0006): one row per paper that a transaction inserted, updated
# (a vote count aside) or deleted, written by triggers in that transaction. ``txid`` is the
# writing transaction on PostgreSQL (NULL on SQLite, where ``seq`` is commit order).
paper_changes = Table(
    "paper_changes",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("txid", BigInteger),
    Column("paper_pk", Integer, nullable=False),
    Index("ix_paper_changes_txid", "txid"),
    sqlite_autoincrement=True,
)

# Each paper's embedding, computed once by whichever process first indexed it and loaded by
# every other: float16 bytes of the unit vector (and of its passages, n x dim, when the
# model uses them), with a hash of the text it was computed from.
paper_embeddings = Table(
    "paper_embeddings",
    metadata,
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("model", String(200), primary_key=True),
    Column("text_hash", String(32), nullable=False),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Column("passages", LargeBinary),
)

# Secrets every node shares (the link and CSRF signing key when none is configured): made
# once by whichever process needs one first, so mailed links work on every node.
site_secrets = Table(
    "site_secrets",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", String(200), nullable=False),
    Column("created", DateTime, nullable=False),
)

# Counters bumped in the transaction of a write the change feed does not carry (votes), so
# "has anything changed" is one primary-key read (Store.change_token, the page cache's key).
site_counters = Table(
    "site_counters",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# Discussion (migration social): comments on papers, one level of replies. A deleted comment
# that has replies keeps its row as a "[deleted]" placeholder (body emptied); a hidden one
# (by a moderator) is shown to no one but its author and moderators.
comments = Table(
    "comments",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), nullable=False),
    Column("user_pk", Integer, ForeignKey("users.pk", ondelete="CASCADE"), nullable=False),
    Column("parent_pk", Integer, ForeignKey("comments.pk", ondelete="CASCADE")),
    Column("body", Text, nullable=False),
    Column("created", DateTime, nullable=False),
    Column("edited", DateTime),
    Column("deleted", DateTime),
    Column("hidden", DateTime),
    Column("hidden_by", Integer, ForeignKey("users.pk", ondelete="SET NULL")),
    Index("ix_comments_paper_pk_created", "paper_pk", "created"),
    Index("ix_comments_parent_pk", "parent_pk"),
    Index("ix_comments_user_pk", "user_pk"),
)

# Lists: a user's named lists of papers, private unless made public.
lists = Table(
    "lists",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("user_pk", Integer, ForeignKey("users.pk", ondelete="CASCADE"), nullable=False),
    Column("slug", String(80), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("public", Boolean, nullable=False, server_default=false()),
    Column("created", DateTime, nullable=False),
    Column("updated", DateTime, nullable=False),
    UniqueConstraint("user_pk", "slug"),
)

list_items = Table(
    "list_items",
    metadata,
    Column(
        "list_pk",
        Integer,
        ForeignKey("lists.pk", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("added", DateTime, nullable=False),
    # Order of saving within the list (times are to the second): newest is highest.
    Column("position", Integer, nullable=False),
    Index("ix_list_items_paper_pk", "paper_pk"),
)

# "Not interested": papers a reader dismissed from For you; negatives for their model.
dismissals = Table(
    "dismissals",
    metadata,
    Column("user_pk", Integer, ForeignKey("users.pk", ondelete="CASCADE"), primary_key=True),
    Column("paper_pk", Integer, ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    Column("created", DateTime, nullable=False),
    Index("ix_dismissals_paper_pk", "paper_pk"),
)

# What papers led to on the Hugging Face Hub (paper_artifacts, hub_checks): in store/hub.py,
# on this metadata (papertide.store imports it with the package).
