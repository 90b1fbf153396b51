"""FastAPI dependencies every router shares: settings, store, the signed-in user, CSRF.

CSRF: double-submit token. Every response carries a random ``pt_csrf`` cookie (SameSite=Lax);
forms echo it in a hidden ``csrf_token`` field and JSON clients in an ``X-CSRF-Token`` header.
A POST whose token does not match the cookie is refused with 403. (OWASP CSRF Prevention
Cheat Sheet, "Double Submit Cookie".)
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.templating import Jinja2Templates

from papertide.config import Settings
from papertide.models import User
from papertide.store import Store

CSRF_COOKIE = "pt_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_COOKIE = "pt_session"


def get_settings(request: Request) -> Settings:
    """The app's Settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_store(request: Request) -> Store:
    """The app's Store, opened at start-up."""
    store: Store = request.app.state.store
    return store


def get_templates(request: Request) -> Jinja2Templates:
    """The app's Jinja templates (one environment for every router)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates


def csrf_token(request: Request) -> str:
    """This client's CSRF token: the cookie's, or a new one the middleware will set."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return str(token)


async def require_csrf(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token does not match its cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        sent = str(form.get(CSRF_FIELD, ""))
    if not cookie or not sent or not secrets.compare_digest(cookie, sent):
        raise HTTPException(status_code=403, detail="Missing or wrong CSRF token; reload the page.")


def current_user(request: Request) -> User | None:
    """The signed-in user, or None (resolved once per request from the session cookie)."""
    if not hasattr(request.state, "user"):
        token = request.cookies.get(SESSION_COOKIE)
        store: Store = request.app.state.store
        request.state.user = store.user_for_session(token) if token else None
    user: User | None = request.state.user
    return user


def require_user(user: Annotated[User | None, Depends(current_user)]) -> User:
    """The signed-in user, or 401."""
    if user is None:
        raise HTTPException(status_code=401, detail="Log in first.")
    return user


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
UserDep = Annotated[User | None, Depends(current_user)]
RequiredUserDep = Annotated[User, Depends(require_user)]
CsrfDep = Annotated[None, Depends(require_csrf)]
