"""Request body caps, enforced before anything reads the body, so that no client can make
a process hold a large body in memory.

Pure ASGI middleware, outside every route and before the CSRF check: a declared
``Content-Length`` over the cap is answered 413 without calling the app or reading a byte;
a body without one (chunked) is counted as the app reads it and refused with 413 as soon
as it passes the cap (the app is told the client left), so at most the cap is ever held
in memory. Every form and JSON body the site takes is small (logins, votes, submissions:
well under 2 KB); routes that take more (comments, the subscription forms) say so in their
feature's ``larger_bodies`` (web/feature.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from papertide.web.feature import PathSet

ErrorPage = Callable[[Request, int, str], Response | Awaitable[Response]]


def body_limits(larger: Mapping[str, int]) -> list[tuple[PathSet, int]]:
    """Route paths that take larger bodies (``{path: factor}``), grouped by factor."""
    factors = sorted(set(larger.values()), reverse=True)
    return [(PathSet(p for p, f in larger.items() if f == factor), factor) for factor in factors]


def _too_large(limit: int) -> str:
    return f"The request body is larger than this address takes ({limit:,} bytes)."


class BodyLimit:
    """Refuse request bodies over their cap with 413, before they are read."""

    def __init__(
        self, app: ASGIApp, *, default: int, larger: Mapping[str, int], error_page: ErrorPage
    ) -> None:
        self.app, self.default, self.error_page = app, default, error_page
        self.larger = body_limits(larger)

    def limit(self, path: str) -> int:
        """The body cap in bytes for a request to ``path``."""
        return next((self.default * f for paths, f in self.larger if path in paths), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 413 for a declared oversize body, else count what the app reads."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(scope, receive, send, limit)
            return
        seen, started, refused = 0, False, False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Answer here and tell the app the client went away: it stops reading,
                    # and whatever it answers to that is dropped below.
                    refused = True
                    if not started:
                        await self._refuse(scope, receive, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, guarded)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        page = self.error_page(Request(scope), 413, _too_large(limit))
        response = page if isinstance(page, Response) else await page
        response.headers["Connection"] = "close"
        await response(scope, receive, send)
