"""FastAPI dependencies every router shares: settings, store, the signed-in user, CSRF.

Each is a coroutine: FastAPI runs a plain-function dependency in the thread pool, each one
on its own, so a page with four of them waited four times for one of its worker's
``threads`` behind every request queued there (and paid four thread hand-overs). Only the
signed-in user's session read goes to a thread, only for a request with a session, and to
the small pool of /healthz, not the pages' own.

CSRF: signed double-submit token bound to the session (OWASP CSRF Prevention Cheat Sheet,
"Signed Double-Submit Cookie"). The ``pt_csrf`` cookie (SameSite=Lax) holds ``nonce.mac``,
the mac an HMAC of the nonce and the browser's session (none before signing in) under the
site's secret; forms echo it in a hidden ``csrf_token`` field and JSON clients in an
``X-CSRF-Token`` header. A write is refused with 403 when the echo does not match the cookie,
when the mac is not the site's for this session (a cookie planted by someone else), or
when the browser says it comes from another site (``Origin``, or
``Sec-Fetch-Site: cross-site``; OWASP "Verifying Origin With Standard Headers").
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import Depends, HTTPException, Path, Request, Response
from fastapi.templating import Jinja2Templates

from papertide.config import Settings
from papertide.models import User
from papertide.store import Store

CSRF_COOKIE = "pt_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_COOKIE = "pt_session"
# Row ids are 64-bit signed integers in both databases: a larger one in a path or a body is
# refused as a bad request before it reaches a query (the drivers raise OverflowError).
MAX_ID = 2**63 - 1


async def get_settings(request: Request) -> Settings:
    """The app's Settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> Store:
    """The app's Store, opened at start-up."""
    store: Store = request.app.state.store
    return store


async def get_templates(request: Request) -> Jinja2Templates:
    """The app's Jinja templates (one environment for every router)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates


def _mac(request: Request, nonce: str, session: str | None) -> str:
    key: bytes = request.app.state.csrf_key
    bound = hashlib.sha256((session or "").encode()).hexdigest()
    return hmac.new(key, f"{nonce}|{bound}".encode(), hashlib.sha256).hexdigest()[:32]


def _valid(request: Request, token: str, session: str | None) -> bool:
    nonce, _, mac = token.partition(".")
    # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
    expected = _mac(request, nonce, session).encode()
    return bool(nonce and mac) and hmac.compare_digest(mac.encode(), expected)


def csrf_cookie_valid(request: Request, token: str) -> bool:
    """Whether ``token`` is a CSRF token this site made for a browser without a session."""
    return _valid(request, token, None)


def new_csrf_token(request: Request, session: str | None) -> str:
    """A fresh token bound to ``session`` (a session cookie's token, or None)."""
    nonce = secrets.token_urlsafe(16)
    return f"{nonce}.{_mac(request, nonce, session)}"


def set_csrf_cookie(response: Response, token: str, *, secure: bool) -> None:
    """Give the browser ``token`` as its CSRF cookie (readable by the page's script, which
    echoes it in the header of JSON writes)."""
    response.set_cookie(CSRF_COOKIE, token, samesite="lax", secure=secure, httponly=False)


def csrf_token(request: Request) -> str:
    """This client's CSRF token: the cookie's if it is valid for this session, else a new one
    that the middleware sets as the cookie."""
    new = getattr(request.state, "new_csrf", None)
    if new:
        return str(new)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if cookie and _valid(request, cookie, request.cookies.get(SESSION_COOKIE)):
        return cookie
    token = new_csrf_token(request, request.cookies.get(SESSION_COOKIE))
    request.state.new_csrf = token
    return token


def _foreign_origin(request: Request) -> bool:
    """Whether the browser says this request was made by another site's page."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    if origin is None:
        return False  # not sent by every client; the token still has to match
    own = {request.headers.get("host", "")}
    settings: Settings = request.app.state.settings
    own.add(urlsplit(settings.mail.base_url).netloc)
    return origin == "null" or urlsplit(origin).netloc not in own


async def require_csrf(request: Request) -> None:
    """Refuse a state-changing request from another site or without this session's token."""
    if _foreign_origin(request):
        raise HTTPException(status_code=403, detail="Cross-site request refused.")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        sent = str(form.get(CSRF_FIELD, ""))
    session = request.cookies.get(SESSION_COOKIE)
    if (
        not cookie
        or not sent
        or not secrets.compare_digest(cookie.encode(), sent.encode())
        or not _valid(request, cookie, session)
    ):
        raise HTTPException(status_code=403, detail="Missing or wrong CSRF token; reload the page.")


def current_user(request: Request) -> User | None:
    """The signed-in user, or None (resolved once per request from the session cookie)."""
    if not hasattr(request.state, "user"):
        token = request.cookies.get(SESSION_COOKIE)
        store: Store = request.app.state.store
        request.state.user = store.user_for_session(token) if token else None
    user: User | None = request.state.user
    return user


async def request_user(request: Request) -> User | None:
    """``current_user`` as a dependency: no thread for a request without a session cookie;
    with one, the session's read (one indexed row) runs in the small pool of /healthz
    (``side_limiter``), so that a signed-in reader waits once for the pages' threads, as an
    anonymous one does, not a second time for this read."""
    if not hasattr(request.state, "user") and SESSION_COOKIE in request.cookies:
        limiter = getattr(request.app.state, "side_limiter", None)
        await anyio.to_thread.run_sync(current_user, request, limiter=limiter)
    return current_user(request)


async def require_user(user: Annotated[User | None, Depends(request_user)]) -> User:
    """The signed-in user, or 401."""
    if user is None:
        raise HTTPException(status_code=401, detail="Log in first.")
    return user


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
UserDep = Annotated[User | None, Depends(request_user)]
RequiredUserDep = Annotated[User, Depends(require_user)]
CsrfDep = Annotated[None, Depends(require_csrf)]
CommentId = Annotated[int, Path(ge=1, le=MAX_ID, description="A comment's id.")]
