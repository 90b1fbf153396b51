"""A subscription's signed pages, no account needed: confirm the address, choose what and
when (preferences), unsubscribe (RFC 8058 one-click) and undo it, delete my data."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.mail.digest import links_for
from papertide.mail.forms import PrefsForm, prefs_from_form
from papertide.mail.records import Subscriber
from papertide.mail.tokens import make_token
from papertide.store import Store
from papertide.store import subscriptions as subs
from papertide.web.deps import CsrfDep, SettingsDep, StoreDep, TemplatesDep, UserDep
from papertide.web.features.subscriptions.links import button_page, message_page, token_page

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API


@router.get("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm_page(
    request: Request, token: str, store: StoreDep, settings: SettingsDep, templates: TemplatesDep
) -> Response:
    """The page a confirmation link opens: one button confirms (link scanners only GET)."""
    found = token_page(request, templates, store, settings, "confirm", token)
    if isinstance(found, Response):
        return found
    return button_page(
        request,
        templates,
        "Confirm your subscription",
        f"Send papertide digests to {found.email}?",
        action=f"/subscribe/confirm/{token}",
        button="Confirm",
    )


@router.post("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm(
    request: Request,
    token: str,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    user: UserDep,
    _csrf: CsrfDep,
) -> Response:
    """Confirm the address (and tie it to the signed-in account with that address)."""
    found = token_page(request, templates, store, settings, "confirm", token)
    if isinstance(found, Response):
        return found
    subs.confirm_subscriber(store, pk=found.pk, now=utcnow())
    if user is not None and user.email == found.email:
        # The mailed link was followed in this account's browser: the address is proven.
        subs.link_account(store, pk=found.pk, user_pk=user.pk, now=utcnow())
    prefs = links_for(settings, store).signed(
        "prefs", "/subscription", subscriber_pk=found.pk, email=found.email
    )
    return message_page(
        request,
        templates,
        "Subscribed",
        "You will get your first digest at the next send time.",
        extra={"link": prefs, "link_text": "Choose what and when"},
    )


def _prefs_page(
    request: Request,
    templates: TemplatesDep,
    store: Store,
    settings: Settings,
    sub: Subscriber,
    token: str,
    **extra: Any,
) -> Response:
    secret = links_for(settings, store).secret
    leave = make_token(secret, "unsubscribe", subscriber_pk=sub.pk, email=sub.email)
    context = {"sub": sub, "prefs": sub.prefs, "token": token, "unsubscribe_token": leave}
    context.update(extra)
    status = 422 if extra.get("error") else 200
    return templates.TemplateResponse(request, "mail_preferences.html", context, status)


@router.get("/subscription/{token}", response_class=HTMLResponse)
def preferences_page(
    request: Request, token: str, store: StoreDep, settings: SettingsDep, templates: TemplatesDep
) -> Response:
    """The preferences form a digest's "Preferences" link opens (no login needed)."""
    found = token_page(request, templates, store, settings, "prefs", token)
    if isinstance(found, Response):
        return found
    return _prefs_page(request, templates, store, settings, found, token)


@router.post("/subscription/{token}", response_class=HTMLResponse)
async def save_preferences(
    request: Request,
    token: str,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    _csrf: CsrfDep,
) -> Response:
    """Save the preferences form. The form is read here, on the event loop; the database's
    reads and write run in a thread, so that a write waiting for a lock holds up no other
    connection of the worker."""
    form = await request.form()
    fields = {k: str(v) for k, v in form.multi_items()}
    return await run_in_threadpool(_save, request, templates, store, settings, token, fields)


def _save(
    request: Request,
    templates: TemplatesDep,
    store: Store,
    settings: Settings,
    token: str,
    fields: dict[str, str],
) -> Response:
    found = token_page(request, templates, store, settings, "prefs", token)
    if isinstance(found, Response):
        return found
    try:
        prefs = prefs_from_form(PrefsForm.of(fields))
    except ValueError as exc:
        return _prefs_page(request, templates, store, settings, found, token, error=str(exc))
    subs.save_preferences(store, pk=found.pk, prefs=prefs, now=utcnow())
    found.prefs = prefs
    return _prefs_page(request, templates, store, settings, found, token, saved=True)


def _confirm_delete(
    request: Request, templates: TemplatesDep, sub: Subscriber, token: str
) -> Response:
    return message_page(
        request,
        templates,
        "Delete your data?",
        f"This deletes {sub.email}, its preferences and the record of every digest sent to "
        "it. It cannot be undone.",
        extra={
            "action": f"/subscription/{token}/delete",
            "button": "Delete everything",
            "confirm": True,
            "danger": True,
            "back": f"/subscription/{token}",
            "back_text": "Keep my subscription",
        },
    )


@router.get("/subscription/{token}/delete", response_class=HTMLResponse)
def delete_page(
    request: Request, token: str, store: StoreDep, settings: SettingsDep, templates: TemplatesDep
) -> Response:
    """The confirmation step of "Delete my data" (a page of its own: works without scripts)."""
    found = token_page(request, templates, store, settings, "prefs", token)
    if isinstance(found, Response):
        return found
    return _confirm_delete(request, templates, found, token)


@router.post("/subscription/{token}/delete", response_class=HTMLResponse)
def delete_my_data(
    request: Request,
    token: str,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    _csrf: CsrfDep,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    """Delete the subscriber and everything stored about them (digests, sent papers), once
    the confirmation page's button said so (``confirm=yes``); else show that page."""
    found = token_page(request, templates, store, settings, "prefs", token)
    if isinstance(found, Response):
        return found
    if confirm != "yes":
        return _confirm_delete(request, templates, found, token)
    subs.delete_subscriber(store, pk=found.pk)
    return message_page(request, templates, "Deleted", f"Everything about {found.email} is gone.")


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(
    request: Request, token: str, store: StoreDep, settings: SettingsDep, templates: TemplatesDep
) -> Response:
    """The unsubscribe link in a digest's body: one button (link scanners only GET)."""
    found = token_page(request, templates, store, settings, "unsubscribe", token)
    if isinstance(found, Response):
        return found
    return button_page(
        request,
        templates,
        "Unsubscribe",
        f"Stop sending papertide digests to {found.email}?",
        action=f"/unsubscribe/{token}",
        button="Unsubscribe",
    )


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe(
    request: Request, token: str, store: StoreDep, settings: SettingsDep, templates: TemplatesDep
) -> Response:
    """Unsubscribe at once: the page's button, and RFC 8058 one-click POSTs from mail clients.

    No CSRF check here on purpose: a one-click POST ("List-Unsubscribe=One-Click") comes from
    the mailbox provider without our cookie (RFC 8058 section 3.2); the signed token in the
    URL is the authorisation, and it can only stop mail.
    """
    found = token_page(request, templates, store, settings, "unsubscribe", token)
    if isinstance(found, Response):
        return found
    subs.unsubscribe(store, pk=found.pk, now=utcnow())
    # Only a way back: the preferences link (with "Delete my data") is not handed to whoever
    # holds this URL, which travels in List-Unsubscribe headers.
    return button_page(
        request,
        templates,
        "Unsubscribed",
        f"No more digests go to {found.email}.",
        action=f"/unsubscribe/{token}/undo",
        button="Subscribe again",
    )


@router.post("/unsubscribe/{token}/undo", response_class=HTMLResponse)
def resubscribe(
    request: Request,
    token: str,
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    _csrf: CsrfDep,
) -> Response:
    """Undo an unsubscribe from its own page: digests start again, nothing else opens."""
    found = token_page(request, templates, store, settings, "unsubscribe", token)
    if isinstance(found, Response):
        return found
    if found.status == "unsubscribed":
        subs.confirm_subscriber(store, pk=found.pk, now=utcnow())
    return message_page(
        request, templates, "Subscribed again", f"Digests go to {found.email} again."
    )
