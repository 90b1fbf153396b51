"""Subscribing to digests (double opt-in): the form at ``/subscribe`` and JSON at
``/api/subscriptions``. The answer is the same whether or not the address was known;
confirmation mails to one address are rate-limited (``mail.confirm_limit`` per
``mail.confirm_window_hours``), as are subscribe requests per client address."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Body, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.mail.digest import links_for
from papertide.mail.records import Preferences, limits_problem
from papertide.mail.render import render_confirmation
from papertide.mail.send import Mailer, PermanentFailure, TemporaryFailure
from papertide.store import Store
from papertide.store import subscriptions as subs
from papertide.web.access import allow, too_many
from papertide.web.api_route import api_router
from papertide.web.deps import CsrfDep, SettingsDep, StoreDep, TemplatesDep
from papertide.web.features.subscriptions.links import message_page

router = APIRouter(include_in_schema=False)  # pages: the API docs show the JSON API
api = api_router()
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
        raise too_many("Too many requests; try again later.")
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
    web/features/accounts); ``q`` fills in a topic (a search page's "Mail me new matches")."""
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
    return message_page(request, templates, "Check your inbox", SENT)


@api.post("/subscriptions", status_code=202)
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
