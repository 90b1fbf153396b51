"""`serve` listens from its first second: the answer of a node that is starting, and the
listener that gives it before the web stack is even imported.

Importing the web stack (FastAPI, SQLAlchemy, the features) takes seconds on a loaded
machine, and opening the store and the search index more (13-35 s at 39k papers were
measured with the port closed), so a load balancer saw a dead node and a browser "connection
refused". `serve` therefore binds its port first of all (``EarlyListener``), and answers
every request 503 with Retry-After (``starting_answer``: JSON under /api/ and for /healthz,
a small page that reloads itself elsewhere) until a web worker of this run takes over the
socket; from then on the worker's own gate (web/startup.py) gives the same answer until its
store and index are open. This module imports nothing heavy, on purpose.
"""

from __future__ import annotations

import contextlib
import json
import logging
import selectors
import socket
import sys
import threading
from collections.abc import Callable
from html import escape

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
_HEAD_LIMIT = 16_384  # bytes of a request read before answering (its head, usually)
_READ_SECONDS = 2.0  # a client that sends no head this long after connecting: answered anyway
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{seconds}">
<meta name="color-scheme" content="light dark">
<title>Starting · papertide</title>
<style>body {{ font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto }}</style>
</head><body>
<h1>papertide is starting</h1>
<p>{doing}. This page reloads itself in {seconds} seconds.</p>
</body></html>
"""


def starting_answer(path: str, doing: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The headers and body of the 503 a starting node answers to ``path`` (what it is
    doing said in words): JSON under /api/ and for /healthz, an HTML page elsewhere."""
    message = f"papertide is starting ({doing}); try again in a moment."
    if path.startswith("/api/") or path in ("/healthz", "/metrics"):
        body = json.dumps(
            {
                "ok": False,
                "status": 503,
                "state": "starting",
                "starting": doing,
                "building": True,
                # As /healthz's own, for checks that read it: not ready, lag unknown.
                "index": {"ready": False, "building": True, "lag": None, "graph": None},
                "error": message,
            }
        ).encode()
        kind = b"application/json"
    else:
        body = _PAGE.format(seconds=RETRY_AFTER_SECONDS, doing=escape(doing.capitalize())).encode()
        kind = b"text/html; charset=utf-8"
    headers = [
        (b"content-type", kind),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        (b"cache-control", b"no-store"),
        (b"content-length", str(len(body)).encode()),
    ]
    return headers, body


# Linux spreads the connections to a port over the sockets bound to it with SO_REUSEPORT (by
# a hash of each connection's addresses); other systems may give them all to one socket.
BALANCES_REUSED_PORTS = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def bind(
    host: str, port: int, *, backlog: int = 2048, reuse_port: bool = False, listen: bool = True
) -> socket.socket:
    """A TCP socket on ``host``:``port`` (as uvicorn binds it), inheritable by the worker
    processes; listening unless told otherwise; with ``reuse_port``, one of several."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    if listen:
        sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class OwnSocket:
    """What `serve --workers N` hands each worker in place of the shared socket: unpickled
    in the worker (uvicorn sends its sockets to each worker process that way), it becomes a
    socket of the worker's own on the same port (SO_REUSEPORT), bound but not listening;
    uvicorn makes it listen once the worker's app is up.

    One socket shared by all workers let whichever worker woke first accept every
    connection waiting (its event loop accepts until none is left): 57 of 64 keep-alive
    connections went to one worker, which ran out of its one core while the other idled.
    With a socket each, the kernel spreads new connections over the workers evenly."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[Callable[..., socket.socket], tuple[str, int]]:
        return _own_socket, (self.host, self.port)


def _own_socket(host: str, port: int) -> socket.socket:
    return bind(host, port, reuse_port=True, listen=False)


class EarlyListener:
    """A thread answering ``starting_answer`` on ``sock`` until ``stop()``, or until
    ``taken_over()`` says the web workers serve (polled between connections). With
    ``close_after`` (workers that listen on sockets of their own, ``OwnSocket``), it then
    answers the connections still waiting on ``sock`` and closes it, so that the kernel
    stops giving it any."""

    def __init__(
        self, sock: socket.socket, taken_over: Callable[[], bool], *, close_after: bool = False
    ) -> None:
        self.sock, self.taken_over, self.close_after = sock, taken_over, close_after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="early-listener", daemon=True)

    def start(self) -> None:
        """Answer from now on."""
        self.sock.setblocking(False)  # shared: a worker may take a connection we were told of
        self._thread.start()

    def stop(self) -> None:
        """Stop answering (the socket stays open, for the web workers)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(1.0)

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.sock, selectors.EVENT_READ)
            while not self._stop.is_set() and not self.taken_over():
                if not selector.select(timeout=0.05):
                    continue
                try:
                    conn, _ = self.sock.accept()  # the socket is shared: another took it
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    return  # closed under us
                with contextlib.suppress(OSError):
                    _answer(conn)
        if self.close_after and not self._stop.is_set():
            self._drain_and_close()

    def _drain_and_close(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # none left waiting (or closed already)
                break
            with contextlib.suppress(OSError):
                _answer(conn)
        self.sock.close()


def _answer(conn: socket.socket) -> None:
    """Read one request's head (briefly), answer it as starting, close."""
    with conn:
        conn.settimeout(_READ_SECONDS)
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and len(head) < _HEAD_LIMIT:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                head += chunk
        parts = head.split(b"\r\n", 1)[0].split(b" ")
        path = parts[1].split(b"?", 1)[0].decode("latin-1") if len(parts) > 1 else "/"
        headers, body = starting_answer(path, "loading the program")
        if parts[0] == b"HEAD":
            body = b""
        lines = [b"HTTP/1.1 503 Service Unavailable", *(b"%s: %s" % h for h in headers)]
        lines.append(b"connection: close")
        conn.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_WR)
