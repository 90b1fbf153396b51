"""Digest subscriptions on the site: subscribe (double opt-in), confirm, preferences,
unsubscribe (RFC 8058 one-click) and delete-my-data. No account needed: every link in a
mail carries a signed token (mail/tokens.py); signed-in users reach theirs from /subscription.

Subscribing answers the same whether or not the address was known, and confirmation mails
to one address are rate-limited (``mail.confirm_limit`` per ``mail.confirm_window_hours``),
as are subscribe requests per client address.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Body, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.mail.digest import links_for
from papertide.mail.forms import PrefsForm, prefs_from_form
from papertide.mail.records import Preferences, Subscriber, limits_problem
from papertide.mail.render import render_confirmation
from papertide.mail.send import Mailer, PermanentFailure, TemporaryFailure
from papertide.mail.tokens import BadToken, Purpose, make_token, read_token
from papertide.store import Store
from papertide.store import subscriptions as subs
from papertide.web.access import allow
from papertide.web.deps import CsrfDep, SettingsDep, StoreDep, TemplatesDep, UserDep

router = APIRouter()
log = logging.getLogger(__name__)
SENT = (
    "If the address can receive mail, a message is on its way: open the link in it to "
    "confirm. Nothing is sent until you do."
)


class SubscribeRequest(BaseModel):
    """Body of POST /api/subscriptions."""

    email: str = Field(max_length=320)
    frequency: str = "daily"
    queries: list[str] = Field(default_factory=list, max_length=20)
    categories: list[str] = Field(default_factory=list, max_length=50)
    authors: list[str] = Field(default_factory=list, max_length=50)


def normalise_email(raw: str) -> str:
    """A syntactically valid address, lower-cased; HTTPException 422 otherwise."""
    try:
        found = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise HTTPException(status_code=422, detail=f"Not a valid email address: {exc}") from exc
    return str(found.normalized).lower()


def _request_subscription(
    request: Request, store: Store, settings: Settings, email: str, prefs: Preferences
) -> None:
    """Store the request and mail the confirmation (or, if already active, the prefs link)."""
    if not allow(request, store, settings, "subscribe"):
        raise HTTPException(status_code=429, detail="Too many requests; try again later.")
    mail, now = settings.mail, utcnow()
    window = timedelta(hours=mail.confirm_window_hours)
    sub, may_send = subs.subscribe(
        store, email=email, prefs=prefs, now=now, limit=mail.confirm_limit, window=window
    )
    if not may_send:
        log.info("confirmation to subscriber %s not sent: rate limit", sub.pk)
        return
    links = links_for(settings, store)
    msg = render_confirmation(
        to=sub.email,
        links=links,
        confirm_url=links.signed(
            "confirm", "/subscribe/confirm", subscriber_pk=sub.pk, email=email
        ),
        prefs_url=links.signed("prefs", "/subscription", subscriber_pk=sub.pk, email=email),
        active=sub.status == "active",
        now=now,
    )
    try:
        with Mailer(mail) as mailer:
            mailer.send(msg, sub.email)
    except (TemporaryFailure, PermanentFailure) as exc:  # same answer: reveal nothing
        log.warning("confirmation to subscriber %s failed: %s", sub.pk, exc)


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(
    request: Request,
    templates: TemplatesDep,
    q: Annotated[str, Query(max_length=500, description="A topic to fill in.")] = "",
) -> Response:
    """The subscribe form (the address empty: an account's is not shown back, see
    web/auth.py); ``q`` fills in a topic (a search page's "Mail me new matches")."""
    context = {"email": "", "queries": q.strip()}
    return templates.TemplateResponse(request, "mail_subscribe.html", context)


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    store: StoreDep,
    settings: SettingsDep,
    templates: TemplatesDep,
    _csrf: CsrfDep,
    frequency: Annotated[str, Form()] = "daily",
    queries: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Ask for digests: mails a confirmation link (same answer for known addresses)."""
    try:
        address = normalise_email(email)
    except HTTPException as exc:
        context = {"email": email, "error": exc.detail}
        return templates.TemplateResponse(request, "mail_subscribe.html", context, 422)
    prefs = Preferences(
        frequency="weekly" if frequency == "weekly" else "daily",
        send_hour=settings.mail.default_hour,
        papers_per_mail=settings.mail.default_papers,
        queries=[q.strip() for q in queries.splitlines() if q.strip()],
    )
    if problem := limits_problem(prefs):
        context = {"email": email, "error": f"Too much: {problem}."}
        return templates.TemplateResponse(request, "mail_subscribe.html", context, 422)
    _request_subscription(request, store, settings, address, prefs)
    return _message(request, templates, "Check your inbox", SENT)


@router.post("/api/subscriptions", status_code=202)
def api_subscribe(
    request: Request,
    body: Annotated[SubscribeRequest, Body()],
    store: StoreDep,
    settings: SettingsDep,
    _csrf: CsrfDep,
) -> dict[str, str]:
    """Ask for digests by JSON; 202 whether or not the address was known."""
    prefs = Preferences(
        frequency="weekly" if body.frequency == "weekly" else "daily",
        send_hour=settings.mail.default_hour,
        papers_per_mail=settings.mail.default_papers,
        queries=body.queries,
        categories=body.categories,
        authors=body.authors,
    )
    if problem := limits_problem(prefs):
        raise HTTPException(status_code=422, detail=f"Too much: {problem}.")
    _request_subscription(request, store, settings, normalise_email(body.email), prefs)
    return {"status": "pending", "message": SENT}


def _message(
    request: Request,
    templates: TemplatesDep,
    title: str,
    text: str,
    *,
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    context = {"title": title, "text": text, **(extra or {})}
    return templates.TemplateResponse(request, "mail_message.html", context, status)


class _LinkError(Exception):
    def __init__(self, text: str, status: int) -> None:
        super().__init__(text)
        self.text, self.status = text, status


def _from_token(store: Store, settings: Settings, purpose: Purpose, token: str) -> Subscriber:
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


def _token_page(
    request: Request,
    templates: TemplatesDep,
    store: Store,
    settings: Settings,
    purpose: Purpose,
    token: str,
) -> Subscriber | Response:
    try:
        return _from_token(store, settings, purpose, token)
    except _LinkError as exc:
        return _message(request, templates, "Link not valid", exc.text, status=exc.status)


@router.get("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm_page(
    request: Request, token: str, store: StoreDep, settings: SettingsDep, templates: TemplatesDep
) -> Response:
    """The page a confirmation link opens: one button confirms (link scanners only GET)."""
    found = _token_page(request, templates, store, settings, "confirm", token)
    if isinstance(found, Response):
        return found
    return _message(
        request,
        templates,
        "Confirm your subscription",
        f"Send papertide digests to {found.email}?",
        extra={"action": f"/subscribe/confirm/{token}", "button": "Confirm"},
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
    found = _token_page(request, templates, store, settings, "confirm", token)
    if isinstance(found, Response):
        return found
    subs.confirm_subscriber(store, pk=found.pk, now=utcnow())
    if user is not None and user.email == found.email:
        # The mailed link was followed in this account's browser: the address is proven.
        subs.link_account(store, pk=found.pk, user_pk=user.pk, now=utcnow())
    prefs = links_for(settings, store).signed(
        "prefs", "/subscription", subscriber_pk=found.pk, email=found.email
    )
    return _message(
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
    found = _token_page(request, templates, store, settings, "prefs", token)
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
    """Save the preferences form."""
    found = _token_page(request, templates, store, settings, "prefs", token)
    if isinstance(found, Response):
        return found
    form = await request.form()
    try:
        prefs = prefs_from_form(PrefsForm.of({k: str(v) for k, v in form.multi_items()}))
    except ValueError as exc:
        return _prefs_page(request, templates, store, settings, found, token, error=str(exc))
    subs.save_preferences(store, pk=found.pk, prefs=prefs, now=utcnow())
    found.prefs = prefs
    return _prefs_page(request, templates, store, settings, found, token, saved=True)


def _confirm_delete(
    request: Request, templates: TemplatesDep, sub: Subscriber, token: str
) -> Response:
    return _message(
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
    found = _token_page(request, templates, store, settings, "prefs", token)
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
    found = _token_page(request, templates, store, settings, "prefs", token)
    if isinstance(found, Response):
        return found
    if confirm != "yes":
        return _confirm_delete(request, templates, found, token)
    subs.delete_subscriber(store, pk=found.pk)
    return _message(request, templates, "Deleted", f"Everything about {found.email} is gone.")


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(
    request: Request, token: str, store: StoreDep, settings: SettingsDep, templates: TemplatesDep
) -> Response:
    """The unsubscribe link in a digest's body: one button (link scanners only GET)."""
    found = _token_page(request, templates, store, settings, "unsubscribe", token)
    if isinstance(found, Response):
        return found
    return _message(
        request,
        templates,
        "Unsubscribe",
        f"Stop sending papertide digests to {found.email}?",
        extra={"action": f"/unsubscribe/{token}", "button": "Unsubscribe"},
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
    found = _token_page(request, templates, store, settings, "unsubscribe", token)
    if isinstance(found, Response):
        return found
    subs.unsubscribe(store, pk=found.pk, now=utcnow())
    # Only a way back: the preferences link (with "Delete my data") is not handed to whoever
    # holds this URL, which travels in List-Unsubscribe headers (issue 13, finding 7).
    return _message(
        request,
        templates,
        "Unsubscribed",
        f"No more digests go to {found.email}.",
        extra={"action": f"/unsubscribe/{token}/undo", "button": "Subscribe again"},
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
    found = _token_page(request, templates, store, settings, "unsubscribe", token)
    if isinstance(found, Response):
        return found
    if found.status == "unsubscribed":
        subs.confirm_subscriber(store, pk=found.pk, now=utcnow())
    return _message(request, templates, "Subscribed again", f"Digests go to {found.email} again.")
