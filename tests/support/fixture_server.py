"""A real HTTP server on 127.0.0.1 (ephemeral port, own thread) that plays recorded responses.

Tests point a source's base URL at it, so the real client code (httpx) runs end to end.
Each request is logged (path, query, headers, monotonic arrival time); each answer comes
from a handler the test sets, which may script status codes, headers (Retry-After), slow
answers (to trip time-outs) and bodies cut short (Content-Length larger than what is sent).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
from sqlalchemy import select

from papertide.config import Settings
from papertide.sources.settings import SyncSettings
from papertide.store import Store
from papertide.store.schema import papers, source_state

FIXTURES = Path(__file__).parents[1] / "fixtures"


@dataclass
class Reply:
    """What the server answers to one request."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    truncate_at: int | None = None  # send only this many body bytes, then hang up
    drip: float = 0.0  # seconds between 1 KB pieces of the body (a server that dribbles)


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


Handler = Callable[[Seen], Reply]


def fixture(*parts: str) -> bytes:
    """The bytes of a recorded payload under tests/fixtures."""
    return FIXTURES.joinpath(*parts).read_bytes()


def xml(name: str, *folder: str, status: int = 200, **kwargs: object) -> Reply:
    """An XML reply from a fixture file."""
    return Reply(body=fixture(*folder, name), status=status, **kwargs)  # type: ignore[arg-type]


def json_reply(body: bytes, status: int = 200) -> Reply:
    """A JSON reply."""
    return Reply(body=body, status=status, content_type="application/json; charset=utf-8")


class FixtureServer:
    """Serve ``handler(request)`` on 127.0.0.1 until closed; log every request."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.handler: Handler = lambda seen: Reply(b"no handler set", status=500)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._make_handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        """The server's base URL, e.g. http://127.0.0.1:54321."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FixtureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def script(self, *replies: Reply) -> None:
        """Answer requests with these replies in order; the last one repeats."""
        queue = list(replies)

        def handler(seen: Seen) -> Reply:
            return queue.pop(0) if len(queue) > 1 else queue[0]

        self.handler = handler

    def paths(self) -> list[str]:
        """The path and query of each request so far."""
        return [
            f"{s.path}?{'&'.join(f'{k}={v}' for k, v in s.query.items())}" for s in self.requests
        ]

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                seen = Seen(parts.path, query, dict(self.headers.items()), time.monotonic())
                with server._lock:
                    server.requests.append(seen)
                    reply = server.handler(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if reply.truncate_at is not None:
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    body = reply.body[: reply.truncate_at]
                    step = 1024 if reply.drip else max(len(body), 1)
                    for start in range(0, len(body), step):
                        self.wfile.write(body[start : start + step])
                        self.wfile.flush()
                        time.sleep(reply.drip)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (a time-out test)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        return _Handler


NOW = datetime(2026, 11, 21, 12, 0)  # "now" of the recorded responses


def settings_for(base: Settings, server: FixtureServer, **sync: object) -> Settings:
    """``base`` with every live source pointed at ``server`` and tuned for fast tests."""
    values: dict[str, object] = {
        "arxiv_api_url": f"{server.url}/api/query",
        "oai_url": f"{server.url}/oai",
        "hf_url": f"{server.url}/api/daily_papers",
        "arxiv_categories": ["cs.CL", "cs.LG"],
        "arxiv_page_size": 2,
        "start_date": date(2026, 11, 18),
        "request_interval": 0,
        "backoff": 0.01,
        "timeout": 2.0,  # generous: only the time-out cases use impatient()
        "retries": 1,
    }
    values.update(sync)
    return base.model_copy(update={"sync": SyncSettings(**values)})  # type: ignore[arg-type]


def impatient(settings: Settings, timeout: float = 0.3) -> Settings:
    """``settings`` with a short time-out, for the cases that make the server dawdle."""
    sync = settings.sync.model_copy(update={"timeout": timeout})
    return settings.model_copy(update={"sync": sync})


def snapshot(store: Store) -> tuple[list[tuple[str, datetime]], list[tuple[object, ...]]]:
    """Every paper (id, last write) and every source-state row: what a failure must not touch."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(papers.c.id, papers.c.modified).order_by(papers.c.id))
        states = conn.execute(select(source_state).order_by(source_state.c.source))
        return [tuple(r) for r in rows], [tuple(s) for s in states]  # type: ignore[misc]


# Handlers that play the recorded services ------------------------------------------------

ARXIV_PAGES = {"0": "page1.xml", "2": "page2.xml", "4": "page3.xml"}
OAI_TOKENS = {"6034821|1001": "page2.xml", "6034821|2001": "page3.xml"}


def arxiv_api(seen: Seen) -> Reply:
    """The recorded three-page API result set (two entries a page), by ``start``."""
    name = ARXIV_PAGES.get(seen.query.get("start", ""))
    return xml(name, "arxiv") if name else Reply(b"unexpected start", status=400)


def oai_harvest(seen: Seen) -> Reply:
    """The recorded three-page harvest: a fresh request, then two resumption tokens."""
    token = seen.query.get("resumptionToken")
    if token is None:
        return xml("page1.xml", "oai")
    return xml(OAI_TOKENS[token], "oai") if token in OAI_TOKENS else xml("bad_token.xml", "oai")


class HfFeed:
    """Recorded daily_papers payloads by date/week/month value, paged by ``limit`` and ``p``."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def __call__(self, seen: Seen) -> Reply:
        """The slice of the recorded list this page asks for ([] for unknown spans)."""
        key = seen.query.get("date") or seen.query.get("week") or seen.query.get("month") or ""
        items = orjson.loads(fixture("hf", self.files[key])) if key in self.files else []
        limit, page = int(seen.query.get("limit", 50)), int(seen.query.get("p", 0))
        return json_reply(orjson.dumps(items[page * limit : (page + 1) * limit]))


def all_services(hf: HfFeed) -> Handler:
    """One server playing all three services, told apart by path."""

    def handler(seen: Seen) -> Reply:
        if seen.path == "/api/query":
            return arxiv_api(seen)
        if seen.path == "/oai":
            return oai_harvest(seen)
        return hf(seen)

    return handler
