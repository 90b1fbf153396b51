"""The signed links a digest or confirmation mail carries (mail/tokens.py): reading one
back to its subscriber, and the one-message page every step of a subscription answers with."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from papertide.config import Settings
from papertide.mail.digest import links_for
from papertide.mail.records import Subscriber
from papertide.mail.tokens import BadToken, Purpose, read_token
from papertide.store import Store
from papertide.store import subscriptions as subs
from papertide.web.deps import TemplatesDep


def message_page(
    request: Request,
    templates: TemplatesDep,
    title: str,
    text: str,
    *,
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    """A page with one message (and, in ``extra``, a button or link) for a subscription step."""
    context = {"title": title, "text": text, **(extra or {})}
    return templates.TemplateResponse(request, "mail_message.html", context, status)


def button_page(
    request: Request, templates: TemplatesDep, title: str, text: str, *, action: str, button: str
) -> Response:
    """A page that asks one question and answers it with one button (a POST to ``action``):
    mailed links open such pages, since link scanners only GET."""
    extra = {"action": action, "button": button}
    return message_page(request, templates, title, text, extra=extra)


class _LinkError(Exception):
    def __init__(self, text: str, status: int) -> None:
        super().__init__(text)
        self.text, self.status = text, status


def from_token(store: Store, settings: Settings, purpose: Purpose, token: str) -> Subscriber:
    """The subscriber a signed link is for, or _LinkError (forged, expired, or deleted)."""
    secret = links_for(settings, store).secret
    max_age = settings.mail.confirm_max_age_hours * 3600 if purpose == "confirm" else None
    try:
        pk, email = read_token(secret, purpose, token, max_age=max_age)
    except BadToken as exc:
        hint = " Subscribe again to get a new one." if exc.expired else ""
        raise _LinkError(f"{exc}{hint}", 410 if exc.expired else 400) from exc
    sub = subs.get_subscriber(store, pk=pk)
    if sub is None or sub.email != email:
        raise _LinkError("This subscription no longer exists.", 410)
    return sub


def token_page(
    request: Request,
    templates: TemplatesDep,
    store: Store,
    settings: Settings,
    purpose: Purpose,
    token: str,
) -> Subscriber | Response:
    """The subscriber a signed link is for, or the page that says why the link is not valid."""
    try:
        return from_token(store, settings, purpose, token)
    except _LinkError as exc:
        return message_page(request, templates, "Link not valid", exc.text, status=exc.status)
