"""The page cache: anonymous GET pages and API answers, kept a few seconds and keyed on the
store's change token, so that a crowd of readers costs one render per change.

Pure ASGI middleware around the app. A GET to a public page or API address (the routes each
feature declares ``cached``, web/feature.py) from a client
without a session cookie is answered from memory while the store's ``change_token()`` (the
feed head and the votes counter: any paper write or vote changes it) and this node's search
index position are what they were when it was rendered, and for at most
``page_cache_seconds``; an LRU of ``page_cache_entries`` bounds the memory. Every such
answer carries a weak ETag (a hash of its body) and a Last-Modified, and gets 304 for a
matching If-None-Match or If-Modified-Since (RFC 9110, 13.1). The token is read at most
every TOKEN_SECONDS (sparing a cached answer its database read and thread hop),
and again after every write request this process answered: its own writes (votes,
submissions) show at once, another process's (an import) within a quarter second.

Pages embed the client's CSRF token in their forms: the cached body keeps a placeholder in
its place and each client gets its own token back. A client without a valid anonymous CSRF
cookie (a first visit, a crawler that keeps no cookies) is served from the same entry: it
gets a new token in the page and a Set-Cookie for it, and that one answer is marked
``Cache-Control: private, no-store`` (no shared cache downstream may keep a cookie meant for
one browser) and carries no validators. A render is kept only when the one cookie it sets
is the CSRF cookie of the token in its body. Everything a signed-in browser sees is never
cached, here or downstream. Concurrent misses of one address wait for a single render (no
stampede when an entry expires under load).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

import anyio.to_thread
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from papertide.clock import aware_utcnow
from papertide.web.cached_gzip import SharedPart, gzipped, shared_part, worth_it
from papertide.web.compress import may_compress
from papertide.web.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_cookie_valid,
    new_csrf_token,
    set_csrf_cookie,
)
from papertide.web.feature import PathSet
from papertide.web.headers import none_match
from papertide.web.shedding import ANSWERED_ON_LOOP

PLACEHOLDER = b"\x00pt-csrf\x00"  # never in a rendered page: control characters are stripped
TOKEN_SECONDS = 0.25  # how stale another process's write may be seen (this one's: never)
MAX_BODY = 1 << 20  # larger answers are not kept
PRIVATE = "private, no-store"
_DROPPED = {b"content-length", b"set-cookie", b"server-timing", b"etag", b"last-modified"}


@dataclass(slots=True)
class _Entry:
    """One cached answer: its body with the CSRF token replaced by PLACEHOLDER."""

    version: str
    expires: float
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    has_token: bool
    digest: str
    modified: float
    route: Any = None  # the route that rendered it: a hit is counted under it (metrics)
    shared: SharedPart | None = None  # deflated on the first answer that asks for gzip


class PageCache:
    """Serve anonymous GETs from memory while the store has not changed (see module doc)."""

    def __init__(self, app: ASGIApp, *, cached: PathSet, seconds: float, entries: int) -> None:
        self.app, self.cached, self.seconds, self.size = app, cached, seconds, entries
        self.entries: OrderedDict[tuple[str, bytes], _Entry] = OrderedDict()
        self.rendering: dict[tuple[str, bytes], asyncio.Event] = {}
        self.hits = self.misses = self.writes = 0
        self.token: tuple[float, int, str] = (0.0, 0, "")  # (valid until, writes seen, token)
        self.reading: tuple[int, asyncio.Future[str | None]] | None = None  # (writes, read)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer from the cache, or render, keep and answer; mark private answers so."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] != "GET":  # a write may happen here: forget the token we read
            await self.app(scope, receive, self._forgetting(send))
            return
        started, request = time.perf_counter(), Request(scope)
        if SESSION_COOKIE in request.cookies:
            await self.app(scope, receive, _marking_private(send, always=True))
            return
        if scope["path"] not in self.cached:
            await self.app(scope, receive, _marking_private(send, always=False))
            return
        version = await self._version(scope["app"]) if self.seconds > 0 else None
        if version is None:  # caching off, index warming, or the database not answering
            await self.app(scope, receive, _marking_private(send, always=False))
            return
        token = request.cookies.get(CSRF_COOKIE, "")
        token = token if token and csrf_cookie_valid(request, token) else ""
        key = (scope["path"], scope.get("query_string", b""))
        entry = await self._fresh(key, version)
        if entry is not None:
            self.hits += 1
            scope["route"] = entry.route
            scope[ANSWERED_ON_LOOP] = True  # no thread: not the pace of the threads' queue
            cookie = None
            if entry.has_token and not token:  # a first visit: its own token, and the cookie
                token = new_csrf_token(request, None)
                cookie = _cookie_header(scope["app"], token)
            await _answer(entry, token, request, send, hit=True, started=started, cookie=cookie)
            return
        self.misses += 1
        done = self.rendering.setdefault(key, asyncio.Event())
        try:
            await self._render(
                scope, receive, send, key=key, version=version, token=token, started=started
            )
        finally:
            if self.rendering.get(key) is done:
                del self.rendering[key]
            done.set()

    async def _version(self, app: Any) -> str | None:
        """The store's change token and this node's index position, or None (do not cache).

        The token is read at most every TOKEN_SECONDS, and again after any write request
        this process answered: its own writes show at once, other processes' within that.
        One read at a time, in the small pool of /healthz (``side_limiter``): the requests
        that find the token old all wait for that read, not each for a thread of the pages.
        """
        position = _index_position(app)
        if position is None:
            return None
        until, writes, token = self.token
        if until >= time.monotonic() and writes == self.writes:
            return f"{token}|{position}"
        reading = self.reading
        if reading is None or reading[0] != self.writes:  # none, or begun before a write
            reading = (self.writes, asyncio.ensure_future(self._read_token(app)))
            self.reading = reading
        fresh = await asyncio.shield(reading[1])
        return None if fresh is None else f"{fresh}|{position}"

    async def _read_token(self, app: Any) -> str | None:
        """Read the change token; remember it unless a write was answered meanwhile."""
        now, writes = time.monotonic(), self.writes
        try:
            token: str = await anyio.to_thread.run_sync(
                app.state.store.change_token, limiter=app.state.side_limiter
            )
        except Exception:  # the app's own error pages answer for a database that is down
            return None
        finally:
            if self.reading is not None and self.reading[0] == writes:
                self.reading = None
        if writes == self.writes:  # no write answered meanwhile: the token still holds
            self.token = (now + TOKEN_SECONDS, writes, token)
        return token

    def _forgetting(self, send: Send) -> Send:
        """``send`` that drops the remembered token before the client hears of its write."""

        async def forgetting(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.writes += 1
            await send(message)

        return forgetting

    async def _fresh(self, key: tuple[str, bytes], version: str) -> _Entry | None:
        """The usable entry for ``key``, waiting for a render of it already under way."""
        pending = self.rendering.get(key)
        if pending is not None:
            await pending.wait()
        entry = self.entries.get(key)
        if entry is None or entry.version != version or entry.expires < time.monotonic():
            return None
        self.entries.move_to_end(key)
        return entry

    async def _render(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        key: Any,
        version: str,
        token: str,
        started: float,
    ) -> None:
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    # Answered as soon as the body is whole: the route's background task (a
                    # picture wish, a write) runs after it, never in the reader's wait.
                    await self._kept_and_answered(
                        scope, send, start, b"".join(chunks), key, version, token, started
                    )

        await self.app(scope, receive, capture)

    async def _kept_and_answered(
        self,
        scope: Scope,
        send: Send,
        start: Message,
        body: bytes,
        key: Any,
        version: str,
        token: str,
        started: float,
    ) -> None:
        """Keep a render that may be shared (else mark it private) and answer it."""
        headers = list(start.get("headers", []))
        cookies = [value for name, value in headers if name.lower() == b"set-cookie"]
        minted = _csrf_cookie_token(cookies)  # the token the app gave this client, if only that
        if start.get("status") != 200 or (cookies and not minted) or len(body) > MAX_BODY:
            if cookies:
                headers = _with(headers, b"cache-control", PRIVATE.encode())
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        entry = self._keep(key, version, headers, body, minted or token)
        entry.route = scope.get("route")
        cookie = cookies[0] if minted else None
        await _answer(
            entry, minted or token, Request(scope), send, hit=False, started=started, cookie=cookie
        )

    def _keep(
        self, key: Any, version: str, headers: list[tuple[bytes, bytes]], body: bytes, token: str
    ) -> _Entry:
        has_token = bool(token) and token.encode() in body
        template = body.replace(token.encode(), PLACEHOLDER) if has_token else body
        digest = hashlib.blake2b(template, digest_size=12).hexdigest()
        old = self.entries.pop(key, None)
        now = aware_utcnow().timestamp()
        modified = old.modified if old is not None and old.digest == digest else float(int(now))
        kept = [(n, v) for n, v in headers if n.lower() not in _DROPPED]
        entry = _Entry(
            version=version,
            expires=time.monotonic() + self.seconds,
            status=200,
            headers=_with(kept, b"cache-control", f"public, max-age={int(self.seconds)}".encode()),
            body=template,
            has_token=has_token,
            digest=digest,
            modified=modified,
        )
        self.entries[key] = entry
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return entry


def _index_position(app: Any) -> str | None:
    position = app.state.search.position
    if position is None:
        return None
    return f"{position.horizon}:{','.join(map(str, position.seen))}"


def _etag(entry: _Entry, token: str) -> str:
    if not entry.has_token:
        return f'W/"{entry.digest}"'
    mine = hashlib.blake2b(token.encode(), digest_size=4).hexdigest()
    return f'W/"{entry.digest}-{mine}"'


def _not_modified(request: Request, etag: str, modified: float) -> bool:
    """RFC 9110 13.2.2: If-None-Match first (weak comparison); If-Modified-Since without it."""
    matched = none_match(request, etag)
    if matched is not None:
        return matched
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        return modified <= parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return False


def _csrf_cookie_token(cookies: list[bytes]) -> str | None:
    """The token when ``cookies`` (Set-Cookie values) are exactly one CSRF cookie, else None."""
    if len(cookies) != 1:
        return None
    name, _, rest = cookies[0].decode("latin-1").partition("=")
    token = rest.partition(";")[0].strip().strip('"')
    return token if name.strip() == CSRF_COOKIE and token else None


def _cookie_header(app: Any, token: str) -> bytes:
    """The Set-Cookie value the app itself gives a new CSRF token (web/deps.py)."""
    carrier = Response()
    set_csrf_cookie(carrier, token, secure=app.state.settings.cookie_secure)
    return next(value for name, value in carrier.raw_headers if name == b"set-cookie")


async def _answer(
    entry: _Entry,
    token: str,
    request: Request,
    send: Send,
    *,
    hit: bool,
    started: float,
    cookie: bytes | None = None,
) -> None:
    """Send ``entry`` with ``token`` in its body; with ``cookie`` (a client's first CSRF
    cookie) as a private answer without validators, else with its ETag and Last-Modified
    (304 when the client's copy is current)."""
    ms = (time.perf_counter() - started) * 1e3  # the app's own time (bench web reads it)
    timing = f"cache;desc={'hit' if hit else 'miss'}, app;dur={ms:.1f}".encode()
    body, encoding = _body(entry, token, request)
    if cookie is not None:
        headers = [
            *_with(entry.headers, b"cache-control", PRIVATE.encode()),
            *((b"set-cookie", cookie), (b"vary", b"Cookie"), (b"server-timing", timing)),
            *encoding,
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": entry.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    etag = _etag(entry, token)
    validators = [
        (b"etag", etag.encode()),
        (b"last-modified", formatdate(entry.modified, usegmt=True).encode()),
        (b"vary", b"Cookie"),
        (b"server-timing", timing),
    ]
    if _not_modified(request, etag, entry.modified):
        cache_control = [(n, v) for n, v in entry.headers if n == b"cache-control"]
        await send(
            {"type": "http.response.start", "status": 304, "headers": cache_control + validators}
        )
        await send({"type": "http.response.body", "body": b""})
        return
    length = (b"content-length", str(len(body)).encode())
    headers = [*entry.headers, *validators, *encoding, length]
    await send({"type": "http.response.start", "status": entry.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _body(entry: _Entry, token: str, request: Request) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The entry's body with ``token`` in it, gzipped when the client asks for it and may
    have it (web/compress.py), and the headers that say so. Answers not compressed here go
    through the app's gzip middleware like any other."""
    wanted = "gzip" in request.headers.get("accept-encoding", "")
    if not wanted or not may_compress(request.scope) or not worth_it(entry.body, entry.headers):
        plain = entry.body.replace(PLACEHOLDER, token.encode()) if entry.has_token else entry.body
        return plain, []
    if entry.shared is None:
        entry.shared = shared_part(entry.body, PLACEHOLDER)
    body = gzipped(entry.shared, entry.body, PLACEHOLDER, token.encode())
    return body, [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]


def _with(
    headers: list[tuple[bytes, bytes]], name: bytes, value: bytes
) -> list[tuple[bytes, bytes]]:
    return [*((n, v) for n, v in headers if n.lower() != name), (name, value)]


def _marking_private(send: Send, *, always: bool) -> Send:
    """``send`` that marks an answer ``private, no-store`` when it sets a cookie or goes to a
    signed-in browser (the session cookie), unless the route chose its own Cache-Control."""

    async def marked(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            if "cache-control" not in headers and (always or "set-cookie" in headers):
                headers["Cache-Control"] = PRIVATE
        await send(message)

    return marked


__all__ = ["PageCache"]
