"""Who may do what, for every feature: the log-in redirect, same-site ``next`` targets, the
client's address and per-address rate limits (shared by all web processes via the store)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.store import Store


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
