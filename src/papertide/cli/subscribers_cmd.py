"""`papertide subscribers add|list|remove`: manage digest subscribers as the operator.

The site's own way in is the subscribe form and its confirmation mail; these commands are
for the operator (a test address, a colleague who asked in person, an erasure request).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from papertide.cli.common import console, fail, open_store, plural, settings_of

if TYPE_CHECKING:
    from papertide.mail.records import Subscriber

subscribers_app = typer.Typer(help="Digest subscribers: add, list and remove them.")


def _address(raw: str) -> str:
    """A syntactically valid address, lower-cased (as the subscribe form stores it)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        found = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise fail(f"not a valid email address: {raw!r} ({exc})", code=2) from exc
    return str(found.normalized).lower()


@subscribers_app.command("add")
def add(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The subscriber's address."),
    queries: list[str] = typer.Option(
        [], "--queries", "-q", metavar="QUERY", help="A search for the digest. Repeatable."
    ),
    frequency: str = typer.Option("daily", "--frequency", help="daily or weekly."),
    confirmed: bool = typer.Option(
        False, "--confirmed", help="Active at once, without the confirmation mail's link."
    ),
) -> None:
    """Add a subscriber; with --confirmed the digests start with the next `digest send`.

    Without --confirmed the address is stored pending and gets no digest until confirmed:
    run the command again with --confirmed. An address already subscribed is left as it is.

    Examples:
      papertide subscribers add ada@example.org --queries "sparse attention" --confirmed
      papertide subscribers add bob@example.org -q diffusion -q "cat:cs.CV" --frequency weekly
    """
    from datetime import timedelta

    from papertide.clock import utcnow
    from papertide.mail.records import Preferences
    from papertide.store import subscriptions as subs

    address = _address(email)
    if frequency not in ("daily", "weekly"):
        raise fail("--frequency is daily or weekly", code=2)
    store = open_store(settings_of(ctx))
    try:
        found = subs.get_subscriber(store, email=address)
        if found is not None and not (confirmed and found.status == "pending" and not queries):
            raise fail(f"{address} is already a subscriber ({found.status}); nothing changed")
        now = utcnow()
        if found is None:
            prefs = Preferences(frequency=frequency, queries=list(queries))  # type: ignore[arg-type]
            # The form's rate limit guards confirmation mails; none is sent from here.
            found, _ = subs.subscribe(
                store, email=address, prefs=prefs, now=now, limit=1, window=timedelta(0)
            )
        if confirmed:
            subs.confirm_subscriber(store, pk=found.pk, now=now)
        sub = subs.get_subscriber(store, pk=found.pk)
    finally:
        store.close()
    assert sub is not None
    console.print(f"{sub.email}: {sub.status}, {_describe(sub)}", highlight=False)


@subscribers_app.command("list")
def list_subscribers(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines, one subscriber each."),
) -> None:
    """List every subscriber: address, status, frequency, queries.

    Example:  papertide subscribers list
    """
    from papertide.store import subscriptions as subs

    store = open_store(settings_of(ctx))
    try:
        found = subs.list_subscribers(store)
    finally:
        store.close()
    if as_json:
        import orjson

        for sub in found:
            typer.echo(orjson.dumps(_json(sub)).decode())
        return
    for sub in found:
        console.print(f"{sub.email}  {sub.status}  {_describe(sub)}", highlight=False)
    console.print(plural(len(found), "subscriber") + ".", highlight=False)


@subscribers_app.command("remove")
def remove(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The subscriber's address."),
) -> None:
    """Delete a subscriber and everything stored about them (digests, papers sent).

    Example:  papertide subscribers remove ada@example.org
    """
    from papertide.store import subscriptions as subs

    address = _address(email)
    store = open_store(settings_of(ctx))
    try:
        found = subs.get_subscriber(store, email=address)
        if found is None:
            raise fail(f"no subscriber {address}")
        subs.delete_subscriber(store, pk=found.pk)
    finally:
        store.close()
    console.print(f"removed {address}", highlight=False)


def _describe(sub: Subscriber) -> str:
    queries = "; ".join(sub.prefs.queries) or "no queries"
    return f"{sub.prefs.frequency}, {queries}"


def _json(sub: Subscriber) -> dict[str, Any]:
    return {
        "email": sub.email,
        "status": sub.status,
        "frequency": sub.prefs.frequency,
        "queries": sub.prefs.queries,
        "created": sub.created.isoformat() if sub.created else None,
        "confirmed": sub.confirmed.isoformat() if sub.confirmed else None,
    }


def register(app: typer.Typer) -> None:
    """Add `subscribers` to the CLI."""
    app.add_typer(subscribers_app, name="subscribers")
