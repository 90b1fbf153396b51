"""The HTTP/1.1 connection handler `serve` runs: uvicorn's httptools protocol with the
limits and timeouts it lacks, each answered with its status before the app sees anything.

- a request target longer than ``serve.max_url_bytes``: 414 URI Too Long;
- a head (request line and headers) larger than ``serve.max_header_bytes``, or more than
  ``serve.max_headers`` fields: 431 Request Header Fields Too Large;
- headers not complete ``serve.header_timeout_seconds`` after the connection opened or the
  request's first byte arrived (a slowloris client dribbling a byte at a time): 408;
- a body not complete ``serve.body_timeout_seconds`` after its headers: 408 (the
  connection is only closed when an answer has already started);
- a request that finds the worker full (web/shedding.py): 503 with Retry-After, answered
  here as soon as its headers are in, the connection kept but not read for a moment. A
  request its client sent meanwhile, ignoring Retry-After, has waited that moment already
  when it is read. While many connections are turned away at once, it is admitted only if
  its wait for a thread fits in what is left of ``serve.max_wait_seconds``, so that under
  a heavy overload the pause never lengthens an accepted request's wait; with only a few
  turned away, it is judged as a new request, so that no client is refused for ever while
  the worker's wait sits just under the limit.
Each but the last closes the connection: what follows cannot be trusted to be a request.
uvicorn (0.54) with httptools checks none of these: a 200 KB header was accepted, and a
connection sending one header byte a second was kept for ever.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import struct
import termios
from http import HTTPStatus
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from papertide.serve_settings import ServeSettings
from papertide.web.front import id_from
from papertide.web.shedding import ADMISSION, bypasses_queue

log = logging.getLogger("papertide.web.protocol")
_limits = ServeSettings()
LINGER_SECONDS = 2.0


def configure(settings: ServeSettings) -> None:
    """The limits of every connection this process accepts from now on."""
    global _limits
    _limits = settings


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with size limits and read timeouts (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = _limits
        self._head_bytes = 0  # of the head being read, in the reads before this one
        self._settled = 0  # bytes of this read that belong to the requests before that head
        self._header_count = self._header_bytes = 0
        self._in_head = True
        self._deadline: asyncio.TimerHandle | None = None
        self._refusal: int | None = None  # set by a parser callback that stops the parse
        self._draining = False  # answered and refused: what still comes is dropped
        self._skipping = False  # the request in hand was shed: its body is dropped
        self._waited = 0.0  # how long the next request has waited unread (after a refusal)
        self._paused = False  # left unread after a refusal, now

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """A new connection: its first request's headers are due within the timeout."""
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_seconds, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        """No timer outlives its connection, nor its place among those turned away."""
        self._disarm()
        self._turned_away(False)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed the parser; a refused request is answered and the connection closed.
        (uvicorn's own, but a limit's refusal raised in a parser callback reaches here
        wrapped in httptools' error: it answers its own status, not a 400.)"""
        if self._draining:
            return
        self._unset_keepalive_if_required()
        self._settled = 0
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(self._refusal)
            else:
                log.warning("invalid HTTP request received: 400, closed")
                self.send_400_response("Invalid HTTP request received.")
            return
        if not self._in_head:
            return
        # A head still open holds what this read brought, less what earlier requests in
        # it took (their heads and bodies): counted after the parse, which is what tells
        # where a request began, so that a head whose first read holds it all is measured.
        self._head_bytes += len(data) - self._settled
        if self._head_bytes > self.limits.max_header_bytes:
            self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)

    def on_message_begin(self) -> None:
        """A request's first byte: its headers are due within the timeout."""
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0
        self._header_count = self._header_bytes = 0
        if self._deadline is None:
            self._arm(self.limits.header_timeout_seconds, "headers")

    def on_url(self, url: bytes) -> None:
        """Part of the request target: refused past the limit."""
        super().on_url(url)
        if len(self.url) > self.limits.max_url_bytes:
            self._stop(HTTPStatus.REQUEST_URI_TOO_LONG)

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header field: refused past the count or the head's size."""
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._stop(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
        super().on_header(name, value)
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes + len(self.url) > self.limits.max_header_bytes:
            self._stop(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)

    def on_headers_complete(self) -> None:
        """The head is in: refused at once when the worker is full (web/shedding.py), else
        handed to the app, its body due within the timeout."""
        self._settled += max(0, self._head_size() - self._head_bytes)  # its part of this read
        self._in_head = False
        self._disarm()
        if self._shed():
            return
        self._arm(self.limits.body_timeout_seconds, "body")
        super().on_headers_complete()

    def _shed(self) -> bool:
        """Answer 503 here, before a task or the app exists, when this worker is full and
        no earlier answer on this connection is still being written (pipelining)."""
        waited, self._waited = self._waited, 0.0
        if not ADMISSION.full(waited=waited) or (
            self.cycle is not None and not self.cycle.response_complete
        ):
            return False
        path = self.url.split(b"?", 1)[0].decode("latin-1")
        if bypasses_queue(path) or self.parser.should_upgrade():
            return False
        self._skipping = True  # its body, if any, is read and dropped
        refusal = ADMISSION.refusal(id_from(self.headers), self.server_state.default_headers)
        self.transport.write(refusal)
        if not self.parser.should_keep_alive():
            self.transport.close()
            return True
        # A client that ignores Retry-After sends its next request at once: not read for a
        # moment, it cannot take the worker's time from the requests accepted.
        self.flow.pause_reading()
        self._turned_away(True)
        self.loop.call_later(self.limits.refusal_pause_seconds, self._resume)
        return True

    def _turned_away(self, now: bool) -> None:
        """Count this connection among those left unread after a refusal, or no more."""
        if now != self._paused:
            self._paused = now
            ADMISSION.turned_away += 1 if now else -1

    def _resume(self) -> None:
        self._turned_away(False)
        if not self.transport.is_closing():
            # Bytes in already: the client asked again during the pause, at once after its
            # refusal, and that request has waited up to the whole pause.
            self._waited = (
                self.limits.refusal_pause_seconds if _unread_bytes(self.transport) else 0.0
            )
            self.flow.resume_reading()

    def on_body(self, body: bytes) -> None:
        """Part of the body: dropped for a refused request."""
        self._settled += len(body)
        if not self._skipping:
            super().on_body(body)

    def _head_size(self) -> int:
        """The size of the head just parsed, at least: request line, fields, blank line
        (whitespace beyond one space is not seen, so what follows is counted the larger)."""
        line = len(self.parser.get_method()) + 1 + len(self.url) + len(b" HTTP/1.1\r\n")
        return line + self._header_bytes + 2

    def on_message_complete(self) -> None:
        """The whole request is in: no deadline until the next one begins."""
        self._disarm()
        if self._skipping:
            self._skipping = False
            if not self.transport.is_closing():  # idle from here: uvicorn's keep-alive limit
                self.timeout_keep_alive_task = self.loop.call_later(
                    self.timeout_keep_alive, self.timeout_keep_alive_handler
                )
            return
        super().on_message_complete()

    def _limit_of(self, status: int) -> str:
        if status == HTTPStatus.REQUEST_URI_TOO_LONG:
            return f"serve.max_url_bytes ({self.limits.max_url_bytes:,}) passed"
        return (
            f"serve.max_header_bytes ({self.limits.max_header_bytes:,}) or serve.max_headers "
            f"({self.limits.max_headers}) passed"
        )

    def _stop(self, status: int) -> None:
        """From a parser callback: stop parsing; ``data_received`` answers ``status``."""
        self._refusal = status
        raise ValueError(HTTPStatus(status).phrase)  # httptools wraps it in its own error

    def _arm(self, seconds: float, part: str) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow, part)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self, part: str) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and (cycle.response_started or cycle.response_complete):
            # An answer went out already (the app did not wait for the body): just close.
            cycle.disconnected = True
            cycle.message_event.set()
            log.warning("%s: the request's %s did not arrive in time: closed", self._peer(), part)
            self.transport.close()
            return
        if cycle is not None:
            cycle.disconnected = True  # an app reading the body is told the client left
            cycle.message_event.set()
        self._refuse(HTTPStatus.REQUEST_TIMEOUT, f"the request's {part} did not arrive in time")

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "-"

    def _refuse(self, status: int, why: str = "") -> None:
        """Answer ``status`` with a short JSON body and close the connection."""
        self._disarm()
        if self.transport.is_closing():
            return
        why = why or f"limit {self._limit_of(status)}"
        log.warning("%s: %s: %d, closed", self._peer(), why, status)
        phrase = HTTPStatus(status).phrase
        body = f'{{"error": "{phrase}.", "status": {status}}}'.encode()
        head = [f"HTTP/1.1 {status} {phrase}".encode()]
        head += [b"%s: %s" % pair for pair in self.server_state.default_headers]
        head += [
            b"content-type: application/json",
            b"content-length: %d" % len(body),
            b"connection: close",
        ]
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        # Closing with the client's bytes still unread would reset the connection and could
        # lose the answer on its way: read and drop what comes for a moment, then close
        # (nginx's "lingering close").
        self._draining = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self._close)

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


def _unread_bytes(transport: asyncio.BaseTransport) -> int:
    """Bytes the kernel holds for this connection that were not read yet (0 when it
    cannot tell)."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return 0
    try:
        answer = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except (OSError, ValueError):
        return 0
    unread: int = struct.unpack("i", answer)[0]
    return unread
