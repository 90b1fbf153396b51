"""Who may do what, for every feature: the log-in redirect, same-site ``next`` targets, the
client's address and per-address rate limits (shared by all web processes via the store)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.store import Store

# Every rate limit counts one hour: a refused client may try again within that.
RETRY_AFTER = {"Retry-After": "3600"}


def too_many(message: str) -> HTTPException:
    """A rate limit's refusal: 429 with Retry-After (RFC 6585 section 4)."""
    return HTTPException(status_code=429, detail=message, headers=RETRY_AFTER)


def came_from(request: Request) -> str | None:
    """The page of this site the request came from (its Referer's path and query), or None
    for another site's page or a target the log-in rule would refuse (``safe_next``)."""
    referer = urlsplit(request.headers.get("referer") or "")
    settings: Settings = request.app.state.settings
    own = {request.headers.get("host"), urlsplit(settings.mail.base_url).netloc}
    if referer.scheme not in ("http", "https") or referer.netloc not in own:
        return None
    target = referer.path + (f"?{referer.query}" if referer.query else "")
    return target if safe_next(target) == target else None


def login_first(next_path: str) -> RedirectResponse:
    """Send a reader without a session to the log-in page, and back to ``next_path`` after."""
    return RedirectResponse(f"/login?next={next_path}", status_code=303)


def safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a login to another host. Browsers read a
    backslash as "/" and skip tabs and newlines, so "/" + backslash + "evil.example" is
    another host too; the login and registration pages themselves lead home."""
    if not target or not target.startswith("/") or len(target) > 2000:
        return "/"
    if any(c in target for c in "\\\t\r\n") or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/register", "/logout"):
        return "/"
    return target


def client_address(request: Request) -> str:
    """The client's address (the peer's, or a trusted proxy's X-Forwarded-For; see serve)."""
    return request.client.host if request.client else "unknown"


def allow(request: Request, store: Store, settings: Settings, action: str) -> bool:
    """Per-address rate limit for an action (shared by all web processes via the store)."""
    address = client_address(request)
    limit, hour = settings.rate_limit_per_hour, timedelta(hours=1)
    return store.allow(f"{action}:{address}", limit=limit, window=hour, now=utcnow())
