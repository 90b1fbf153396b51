"""A refused connection is left unread for a moment; a request its client sent into that
moment, ignoring Retry-After, has waited when it is read. While many connections are
turned away it counts that wait against ``serve.max_wait_seconds``; with few, it is judged
as a new request, so that no client is refused for ever.

A real uvicorn server with papertide's connection handler, front and admission, on
loopback, in front of a small app whose requests to /hold/NAME stay in progress, holding no
thread, until the test lets them go: the only way to leave room in a worker at a chosen
moment.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from papertide.config import Settings
from papertide.serve_settings import ServeSettings
from papertide.web import protocol
from papertide.web.front import Front
from papertide.web.protocol import LimitedHttpToolsProtocol
from papertide.web.shedding import ADMISSION
from tests.support.serve_process import free_port

PAUSE = 4.0  # seconds a refused connection is left unread: far longer than the wait allowed


@dataclass
class Holding:
    """The app: /hold/NAME stays in progress until ``let_go(NAME)``; anything else: 200."""

    loop: asyncio.AbstractEventLoop | None = None
    held: dict[str, asyncio.Event] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.loop = asyncio.get_running_loop()
        if scope["method"] == "POST":  # read the body whole, as a form endpoint does
            message = await receive()
            while message["type"] == "http.request" and message.get("more_body"):
                message = await receive()
            if message["type"] == "http.disconnect":
                return
        if scope["path"].startswith("/hold/"):
            await self.held.setdefault(scope["path"][6:], asyncio.Event()).wait()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    def let_go(self, name: str) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.held.setdefault(name, asyncio.Event()).set)


class Connection:
    """One kept-alive connection, written and read by hand: a request can be sent before
    the answer to the last one is read, as a client that ignores Retry-After does."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def ask(self, path: str = "/") -> None:
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())

    def status(self) -> int:
        """The status of the next answer, read whole."""
        while b"\r\n\r\n" not in self.buffer:
            self._more()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(self.buffer) < length:
            self._more()
        self.buffer = self.buffer[length:]
        return int(head.split(b" ", 2)[1])

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        assert chunk, "the connection closed"
        self.buffer += chunk


@pytest.fixture
def worker() -> Iterator[tuple[int, Holding]]:
    """A worker of 1 thread and a queue of 1 (2 requests in progress at most), a 0.2 s
    longest wait and a 4 s pause after a refusal."""
    app = Holding()
    protocol.configure(ServeSettings(refusal_pause_seconds=PAUSE, max_wait_seconds=0.2))
    ADMISSION.configure(capacity=2, retry_after=1, threads=1, max_wait=0.2)
    port = free_port()
    config = uvicorn.Config(
        Front(app),
        host="127.0.0.1",
        port=port,
        http=LimitedHttpToolsProtocol,
        loop="asyncio",
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _until(lambda: server.started, "the server did not start")
    try:
        yield port, app
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        protocol.configure(ServeSettings())
        ADMISSION.configure_for(Settings.model_fields["threads"].default, ServeSettings())


def _until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.mark.parametrize("crowded", [True, False], ids=["crowd", "few"])
def test_a_request_sent_into_the_pause_after_a_refusal_counts_it_as_waiting_only_in_a_crowd(
    worker: tuple[int, Holding], crowded: bool
) -> None:
    port, app = worker
    held, filler = Connection(port), Connection(port)
    held.ask("/hold/held")  # in progress throughout: the worker's one thread is "busy"
    filler.ask("/hold/filler")  # with it, the worker is full
    _until(lambda: ADMISSION.in_progress == 2, "the held requests were not admitted")
    client, crowd = Connection(port), [Connection(port) for _ in range(8)]
    try:
        client.ask()
        assert client.status() == 503  # full: refused, and left unread for 4 s
        client.ask()  # at once, into the pause
        time.sleep(1.0)  # the crowd's pauses end a second after this one
        if crowded:
            for other in crowd:
                other.ask()
            assert [other.status() for other in crowd] == [503] * 8
        app.let_go("filler")
        assert filler.status() == 200
        _until(lambda: ADMISSION.in_progress == 1, "the filler did not leave")
        fresh = Connection(port)
        fresh.ask("/hold/fresh")  # a new client is admitted: room for one
        _until(lambda: ADMISSION.in_progress == 2, "a new client was not admitted")
        app.let_go("fresh")
        assert fresh.status() == 200
        assert client.status() == (503 if crowded else 200)
    finally:
        app.let_go("held")
        for connection in (held, filler, client, *crowd):
            connection.sock.close()


def test_a_request_whose_body_comes_in_once_the_worker_is_full_is_refused_then(
    worker: tuple[int, Holding],
) -> None:
    """A request with a body takes its place once the body is in: one that started while
    the worker had room, and whose body ends after the worker filled up, is refused then,
    with 503 and Retry-After, and its app never answers it."""
    port, app = worker
    slow = Connection(port)
    slow.sock.sendall(b"POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    time.sleep(0.3)
    assert ADMISSION.in_progress == 0  # its body is not in: no place taken
    held, filler = Connection(port), Connection(port)
    held.ask("/hold/held")
    filler.ask("/hold/filler")
    _until(lambda: ADMISSION.in_progress == 2, "the held requests were not admitted")
    try:
        slow.sock.sendall(b"defghij")  # the body is in: the worker is full
        assert slow.status() == 503
        assert ADMISSION.in_progress == 2
    finally:
        app.let_go("held")
        app.let_go("filler")
        for connection in (slow, held, filler):
            connection.sock.close()
