"""`papertide users moderator NAME`: manage site accounts as the operator."""

from __future__ import annotations

import typer

from papertide.cli.common import console, fail, open_store, settings_of

users_app = typer.Typer(help="Site accounts: grant or take back the moderator role.")


@users_app.command("moderator")
def moderator(
    ctx: typer.Context,
    username: str = typer.Argument(..., help="The account's username (any case)."),
    revoke: bool = typer.Option(False, "--revoke", help="Take the role back instead."),
) -> None:
    """Make an account a moderator: it may hide any comment (and show it again).

    Examples:
      papertide users moderator ada
      papertide users moderator ada --revoke
    """
    store = open_store(settings_of(ctx))
    try:
        if not store.set_moderator(username, moderator=not revoke):
            raise fail(f"no user {username!r}")
        found = store.user_by_name(username)
    finally:
        store.close()
    assert found is not None
    state = "a moderator" if found.moderator else "no longer a moderator"
    console.print(f"{found.username} is {state}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `users` to the root command."""
    app.add_typer(users_app, name="users")
