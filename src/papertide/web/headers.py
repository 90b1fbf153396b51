"""The headers every answer gets: Server-Timing, the security headers, and the CSRF cookie a
page minted for a new reader (web/deps.py), as a plain ASGI middleware.

It was an ``@app.middleware("http")`` function: Starlette's BaseHTTPMiddleware runs the app
in a task of its own and streams the body through a memory channel, work on every request
that a middleware which only adds headers does not need (Starlette's docs recommend pure
ASGI middleware for that reason).
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from papertide.web.deps import CSRF_COOKIE, set_csrf_cookie

# Scripts and styles come from this site only (plus the one inline start-up script, by its
# hash: it sets the theme before the first paint); KaTeX needs inline styles and data: fonts.
_CSP = (
    "default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'"
)
BOOT_SCRIPT = (Path(__file__).parent / "static" / "boot.js").read_text(encoding="utf-8").strip()
_BOOT_HASH = base64.b64encode(hashlib.sha256(BOOT_SCRIPT.encode()).digest()).decode()
SECURITY_HEADERS = {
    "Content-Security-Policy": _CSP.format(scripts=f" 'sha256-{_BOOT_HASH}'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "interest-cohort=()",
}
# Swagger UI starts itself with an inline script; a hash beside 'unsafe-inline' would void it.
DOCS_CSP = _CSP.format(scripts=" 'unsafe-inline'")


def none_match(request: Request, etag: str) -> bool | None:
    """Whether the request's If-None-Match names ``etag`` (RFC 9110 13.1.2: weak comparison,
    ``*`` matches any); None when it sends no If-None-Match."""
    match = request.headers.get("if-none-match")
    if match is None:
        return None
    wanted = {tag.strip().removeprefix("W/") for tag in match.split(",")}
    return "*" in wanted or etag.removeprefix("W/") in wanted


class SiteHeaders:
    """Adds ``headers`` where the answer has none of its own (``docs_csp`` replaces the
    policy on /docs), Server-Timing, and the CSRF cookie of a token the app minted."""

    def __init__(
        self, app: ASGIApp, *, headers: Mapping[str, str], docs_csp: str, secure_cookie: bool
    ) -> None:
        self.app = app
        self.headers = dict(headers)
        self.docs_csp = docs_csp
        self.secure_cookie = secure_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the answer's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # The routes' request.state lives here (Starlette keeps it in scope["state"]): made
        # before the app runs, so a token minted inside is seen on the way out.
        state = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                # Server-Timing (W3C): how long the app took, visible in browsers' dev tools.
                headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1e3:.1f}"
                for name, value in self.headers.items():
                    if name not in headers:
                        headers[name] = value
                if scope["path"] == "/docs":  # Swagger UI starts itself with an inline script
                    headers["Content-Security-Policy"] = self.docs_csp
                token = state.get("new_csrf")
                if token and Request(scope).cookies.get(CSRF_COOKIE) != token:
                    headers.append("Set-Cookie", self._csrf_cookie(str(token)))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _csrf_cookie(self, token: str) -> str:
        """The Set-Cookie value of ``token``, written by the one helper that sets it."""
        carrier = Response()
        set_csrf_cookie(carrier, token, secure=self.secure_cookie)
        return carrier.headers["set-cookie"]


__all__ = ["SiteHeaders"]
