"""`papertide demo`: the bundled sample papers plus sample votes, for a site worth looking at."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from papertide.cli.common import console, open_store, plural, settings_of
from papertide.cli.ingest_cmd import print_report, sample_paths

if TYPE_CHECKING:
    from papertide.store import Store

_READERS = 12
DEMO_SUBSCRIBER = "demo@example.org"
DEMO_QUERIES = ["state space models", "diffusion"]


def demo(
    ctx: typer.Context,
    votes: bool = typer.Option(True, "--votes/--no-votes", help="Cast the sample votes."),
) -> None:
    """Import the bundled sample papers and cast sample votes from demo accounts.

    Running it again changes nothing. The demo accounts (demo-reader-1 ...) get random
    passwords nobody knows: they exist only to vote. It also adds a confirmed subscriber,
    demo@example.org, whose digest `papertide digest preview` shows.

    Example:  papertide demo && papertide serve
    """
    from papertide.ingest import ingest_paths

    settings = settings_of(ctx)
    paths = sample_paths()
    store = open_store(settings)
    try:
        print_report(ingest_paths(store, paths, settings=settings), files=len(paths))
        if votes:
            cast = cast_sample_votes(store)
            readers = plural(_READERS, "demo reader")
            console.print(f"Sample votes: {plural(cast, 'vote')} from {readers}.")
        if add_demo_subscriber(store):
            console.print(
                f"Demo subscriber: {DEMO_SUBSCRIBER}, daily, searches "
                + ", ".join(f"'{q}'" for q in DEMO_QUERIES)
                + f". Try: papertide digest preview {DEMO_SUBSCRIBER} --date {store.latest_day()}",
                highlight=False,
            )
    finally:
        store.close()


def add_demo_subscriber(store: Store) -> bool:
    """The demo's confirmed subscriber, with two searches; False if it is there already."""
    from datetime import timedelta

    from papertide.clock import utcnow
    from papertide.mail.records import Preferences
    from papertide.store import subscriptions as subs

    if subs.get_subscriber(store, email=DEMO_SUBSCRIBER) is not None:
        return False
    now = utcnow()
    prefs = Preferences(frequency="daily", queries=list(DEMO_QUERIES))
    found, _ = subs.subscribe(
        store, email=DEMO_SUBSCRIBER, prefs=prefs, now=now, limit=1, window=timedelta(0)
    )
    subs.confirm_subscriber(store, pk=found.pk, now=now)
    return True


def cast_sample_votes(store: Store, *, seed: int = 7) -> int:
    """Deterministic, skewed votes (a few papers get many) from demo accounts."""
    import random

    from papertide.clock import utcnow

    rng = random.Random(seed)
    ranked = sorted(store.list_papers(limit=10_000), key=lambda p: p.id or "")
    rng.shuffle(ranked)
    total = 0
    for n in range(1, _READERS + 1):
        user = _reader(store, f"demo-reader-{n}")
        for rank, paper in enumerate(ranked):
            # Zipf-like: the paper at rank r is liked with probability ~ 1 / (r/4 + 1).
            if paper.pk is not None and rng.random() < 1 / (rank / 4 + 1):
                store.set_vote(user_pk=user, paper_pk=paper.pk, up=True, now=utcnow())
                total += 1
    return total


def _reader(store: Store, name: str) -> int:
    import secrets

    from papertide.clock import utcnow
    from papertide.store import NameTaken

    found = store.user_by_name(name)
    if found is not None:
        return found.pk
    try:
        unusable = "!demo$" + secrets.token_hex(16)  # not an argon2 hash: no password opens it
        return store.create_user(username=name, email=None, password_hash=unusable, now=utcnow()).pk
    except NameTaken:  # created meanwhile by a concurrent run
        user = store.user_by_name(name)
        assert user is not None
        return user.pk


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command()(demo)
