"""Secrets kept in the store, so that every node and process signs with the same key."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from papertide.clock import utcnow
from papertide.store import Store
from papertide.store.dialects import insert_of
from papertide.store.schema import site_secrets
from papertide.store.writer import writing


def site_secret(store: Store, name: str, *, adopt: str | None = None) -> str:
    """The secret called ``name``: the stored one, else ``adopt`` or a new random one, stored.

    The first process to ask stores it (INSERT ... ON CONFLICT DO NOTHING); every later one,
    on any node, reads that one back, so two starting together agree.
    """
    query = select(site_secrets.c.value).where(site_secrets.c.name == name)
    with store.engine.connect() as conn:
        found = conn.execute(query).scalar()
    if found is not None:
        return str(found)
    row = {
        "name": name,
        "value": adopt or secrets.token_urlsafe(48),
        "created": utcnow(),
    }
    with writing(store.engine) as conn:
        conn.execute(insert_of(conn)(site_secrets).values(row).on_conflict_do_nothing())
        return str(conn.execute(query).scalar_one())
