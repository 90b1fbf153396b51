"""A signed-in user's digests: /subscription, and tying a subscription to an account.

An account's email field is never verified, so it alone never reaches a subscription
(else registering with someone else's address would hand over their preferences and
"Delete my data"). A subscription is tied to an account only when the
address is proven: its confirmation link followed while signed in to the account with that
address, or an account link (mail/tokens.py, purpose ``link``) mailed to the address and
confirmed, signed in, with a button. The address asked for is typed on /subscription (the
account's own one is offered): someone who registered first with your address cannot keep
you from tying your digests to your account, since the mail, not the account, proves it.
The answers never tell whether the address subscribes.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from papertide.clock import utcnow
from papertide.mail.digest import links_for
from papertide.mail.render import render_account_link
from papertide.mail.send import Mailer, PermanentFailure, TemporaryFailure
from papertide.mail.tokens import BadToken, make_link_token, make_token, read_link_token
from papertide.models import User
from papertide.store import subscriptions as subs
from papertide.web.access import allow, login_first, too_many
from papertide.web.deps import CsrfDep, SettingsDep, StoreDep, TemplatesDep, UserDep
from papertide.web.features.subscriptions.links import button_page, message_page
from papertide.web.features.subscriptions.subscribe import normalise_email

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API
log = logging.getLogger(__name__)
LINK_PATH = "/account/link-subscription"


@router.get("/subscription", response_model=None)
def my_subscription(
    request: Request, user: UserDep, store: StoreDep, settings: SettingsDep, templates: TemplatesDep
) -> Response:
    """For a signed-in user: the preferences of the tied subscription, or how to tie one."""
    if user is None:
        return login_first("/subscription")
    sub = subs.subscriber_for_user(store, user_pk=user.pk)
    if sub is not None:
        secret = links_for(settings, store).secret
        token = make_token(secret, "prefs", subscriber_pk=sub.pk, email=sub.email)
        return RedirectResponse(f"/subscription/{token}", status_code=303)
    # The same page whether or not the account has an address (registering with a taken
    # address keeps none, and must not be told which addresses have accounts).
    return message_page(
        request,
        templates,
        "Your digests",
        "No subscription is tied to your account yet. If an address of yours subscribes, we "
        "can mail it a link that ties the subscription to this account.",
        extra={
            "action": LINK_PATH,
            "email_field": True,
            "button": "Mail the link to this address",
            "link": "/subscribe",
            "link_text": "Or subscribe",
        },
    )


@router.post(LINK_PATH, response_class=HTMLResponse)
def request_link(
    request: Request,
    user: UserDep,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    _csrf: CsrfDep,
    email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    """Mail an account link to the address typed (by default the account's own) if it
    subscribes; the same answer if not."""
    if user is None:
        return login_first("/subscription")
    # Empty: the account's own address, and the same answer when it kept none (a taken
    # address at registration), so that nothing tells the two apart.
    address = normalise_email(email) if email.strip() else user.email
    text = (
        "If that address subscribes to digests, a mail with a link is on its way to it: open "
        "it while signed in here."
    )
    if not allow(request, store, settings, "link"):
        raise too_many("Too many requests; try again in an hour.")
    sub = subs.get_subscriber(store, email=address) if address else None
    if sub is not None:
        _mail_link(settings, store, user, sub.pk, sub.email)
    return message_page(request, templates, "Check your inbox", text)


def _mail_link(settings: SettingsDep, store: StoreDep, user: User, sub_pk: int, email: str) -> None:
    links = links_for(settings, store)
    token = make_link_token(links.secret, subscriber_pk=sub_pk, email=email, user_pk=user.pk)
    msg = render_account_link(
        to=email,
        links=links,
        link_url=links.url(f"{LINK_PATH}/{token}"),
        username=user.username,
        now=utcnow(),
    )
    try:
        with Mailer(settings.mail) as mailer:
            mailer.send(msg, email)
    except (TemporaryFailure, PermanentFailure) as exc:
        log.warning("account link to subscriber %s failed: %s", sub_pk, exc)


def _read(settings: SettingsDep, store: StoreDep, user: User, token: str) -> int | str:
    """The subscriber pk the link ties to ``user``, or why it cannot."""
    max_age = settings.mail.confirm_max_age_hours * 3600
    try:
        pk, email, user_pk = read_link_token(
            links_for(settings, store).secret, token, max_age=max_age
        )
    except BadToken as exc:
        return str(exc)
    sub = subs.get_subscriber(store, pk=pk)
    if user_pk != user.pk:
        return "This link was made for another account: sign in to that one."
    if sub is None or sub.email != email:
        return "This subscription no longer exists."
    return pk


@router.get(LINK_PATH + "/{token}", response_class=HTMLResponse)
def link_page(
    request: Request,
    token: str,
    user: UserDep,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
) -> Response:
    """The page an account link opens: one button ties (link scanners only GET)."""
    if user is None:
        return login_first(f"{LINK_PATH}/{token}")
    found = _read(settings, store, user, token)
    if isinstance(found, str):
        return message_page(request, templates, "Link not valid", found, status=400)
    return button_page(
        request,
        templates,
        "Manage your digests from your account",
        f"Tie the digests of this address to the account {user.username}?",
        action=f"{LINK_PATH}/{token}",
        button="Tie them",
    )


@router.post(LINK_PATH + "/{token}", response_model=None)
def link(
    request: Request,
    token: str,
    user: UserDep,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    _csrf: CsrfDep,
) -> Response:
    """Tie the subscription to the signed-in account and open its preferences."""
    if user is None:
        return login_first(f"{LINK_PATH}/{token}")
    found = _read(settings, store, user, token)
    if isinstance(found, str):
        return message_page(request, templates, "Link not valid", found, status=400)
    subs.link_account(store, pk=found, user_pk=user.pk, now=utcnow())
    return RedirectResponse("/subscription", status_code=303)
