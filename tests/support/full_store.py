"""A store with something in every table, written through the store's own functions (papers,
accounts with password hashes, sessions, votes, submissions, comments and a hidden reply,
lists, dismissals, subscribers with their state, digests and their ledger, embeddings,
secrets, rate-limit events, live-source state and runs, similar lists), and every table's
rows read back for comparing two stores."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from papertide.config import Settings
from papertide.mail.records import DigestItem, NewDigest, Preferences
from papertide.store import Store, StoredEmbedding, outbox
from papertide.store import subscriptions as subs
from papertide.store.schema import metadata
from papertide.store.secrets import site_secret
from papertide.store.sync_state import SourceRun, log_run, save_state
from tests.support.search_corpus import CORPUS, add_papers

NOW = datetime(2026, 11, 20, 9, 30, 15, 123456)
SESSION_TOKEN = "a-session-cookie-token"
MODEL = "hash:64"


def fill_every_table(store: Store, settings: Settings) -> dict[str, Any]:
    """Write rows into every table of ``store``; returns what a test checks after a move."""
    add_papers(store, settings, CORPUS)
    found = store.list_papers(limit=100)
    pks = sorted(p.pk or 0 for p in found)
    ada = store.create_user(username="ada", email="ada@example.org", password_hash="h$ada", now=NOW)
    bob = store.create_user(username="Bob", email=None, password_hash="h$bob", now=NOW)
    store.set_moderator("Bob", moderator=True)
    bob = replace(bob, moderator=True)
    store.create_session(user_pk=ada.pk, token=SESSION_TOKEN, now=NOW, ttl=timedelta(days=400))
    for user in (ada, bob):
        store.set_vote(user_pk=user.pk, paper_pk=pks[0], up=True, now=NOW)
    store.set_vote(user_pk=ada.pk, paper_pk=pks[1], up=True, now=NOW)
    store.record_submission(user=ada, paper=found[0], now=NOW)
    top = store.add_comment(paper_pk=pks[0], user=ada, body="Nice *results*.", now=NOW)
    reply = store.add_comment(paper_pk=pks[0], user=bob, body="Agreed", now=NOW, parent_pk=top.pk)
    store.hide_comment(pk=reply.pk, moderator=bob, hidden=True, now=NOW)
    reading = store.create_list(user_pk=ada.pk, name="Reading", public=True, now=NOW)
    for pk in pks[:3]:
        store.set_saved(list_pk=reading.pk, paper_pk=pk, saved=True, now=NOW)
    store.dismiss(user_pk=ada.pk, paper_pk=pks[-1], now=NOW)
    prefs = Preferences(frequency="weekly", queries=["sparse attention"])
    subscriber, _ = subs.subscribe(
        store, email="reader@example.org", prefs=prefs, now=NOW, limit=3, window=timedelta(hours=1)
    )
    subs.confirm_subscriber(store, pk=subscriber.pk, now=NOW)
    subs.link_account(store, pk=subscriber.pk, user_pk=ada.pk, now=NOW)
    subs.subscribe(
        store,
        email="pending@example.org",
        prefs=Preferences(),
        now=NOW,
        limit=3,
        window=timedelta(hours=1),
    )
    items = [
        DigestItem(pks[0], "trending", ["votes"], 0.8125),
        DigestItem(pks[1], "interests", [], 1 / 3),
    ]
    with store.write() as ws:
        digest = NewDigest(subscriber.pk, "2026-W47", "<m1@papertide>", "Your week", items, NOW)
        outbox.add_digest(ws, digest=digest)
        save_state(
            ws, source="arxiv", watermark="2026-11-19", checkpoint={"page": 2}, succeeded=True
        )
        save_state(ws, source="oai", watermark=None, checkpoint=None)
    log_run(store, run=SourceRun("arxiv", NOW, NOW + timedelta(seconds=3), "ok", pages=2, added=5))
    store.allow("login:ada", limit=5, window=timedelta(minutes=5), now=NOW)
    vectors = [
        StoredEmbedding(pk, f"h{pk}", 4, bytes([pk % 256, 0, 1, 2, 3, 4, 5, 255])) for pk in pks
    ]
    vectors[0] = StoredEmbedding(pks[0], "h", 4, b"\x00\x01" * 4, passages=b"\x02\x03" * 8)
    store.save_embeddings(vectors, model=MODEL)
    store.save_similar(pks[0], model=MODEL, items=[(pks[1], 0.5, ["title"])], now=NOW, position=7)
    secret = site_secret(store, "signing")
    return {"secret": secret, "subscriber_pk": subscriber.pk, "ada": ada, "list": reading}


def table_rows(
    store: Store, *, skip: set[str] | frozenset[str] = frozenset()
) -> dict[str, list[dict[str, Any]]]:
    """Every row of every declared table (but ``skip``), in primary-key order."""
    found: dict[str, list[dict[str, Any]]] = {}
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in skip:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(select(table).order_by(*order)).mappings()
            found[table.name] = [
                {k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()}
                for row in rows
            ]
    return found
