"""Slow and oversized clients against a real `papertide serve`, over raw sockets: a long
request target is 414, a large head or too many headers 431, headers or a body that do not
arrive in time 408, each with the connection closed; none of it keeps the site from
answering others."""

from __future__ import annotations

import re
import select
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_server import LiveSite, live_site

TIMEOUT = 1.5  # the header and body read timeouts of this module's server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    env = {
        "PAPERTIDE_SERVE__HEADER_TIMEOUT_SECONDS": str(TIMEOUT),
        "PAPERTIDE_SERVE__BODY_TIMEOUT_SECONDS": str(TIMEOUT),
    }
    with live_site(tmp_path_factory.mktemp("slow") / "data", "--workers", "1", env=env) as s:
        yield s


def _exchange(site: LiveSite, data: bytes, *, drip: bytes = b"", pause: float = 0.3) -> bytes:
    """Send ``data``, then ``drip`` a byte every ``pause`` s until the server answers; all
    it answers until it ends the connection."""
    with socket.create_connection((site.host, site.port), timeout=20) as sock:
        try:
            sock.sendall(data)
            for byte in drip:
                if select.select([sock], [], [], pause)[0]:
                    break  # an answer (or the end) came
                sock.sendall(bytes([byte]))
        except OSError:
            pass  # the server closed the connection: what it answered is read below
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def test_a_10000_character_path_is_414(site: LiveSite) -> None:
    answer = _exchange(site, b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _status(answer) == 414, answer[:200]
    assert b"connection: close" in answer.lower()


def test_a_long_query_is_414_too(site: LiveSite) -> None:
    answer = _exchange(site, b"GET /search?q=" + b"w+" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert _status(answer) == 414, answer[:200]


def test_a_200_kb_header_is_431(site: LiveSite) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n"
    answer = _exchange(site, head)
    assert _status(answer) == 431, answer[:200]


def test_many_small_headers_are_431(site: LiveSite) -> None:
    fields = b"".join(b"X-%d: 1\r\n" % i for i in range(500))
    answer = _exchange(site, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert _status(answer) == 431, answer[:200]


def test_a_head_sent_in_pieces_is_measured_whole(site: LiveSite) -> None:
    """No single read is large: the limit counts the head across reads."""
    start = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
    with socket.create_connection((site.host, site.port), timeout=20) as sock:
        sock.sendall(start)
        try:
            for _ in range(10):  # 40 KB in 10 reads, each under the 32 KB limit, in 0.1 s
                sock.sendall(b"a" * 4000)
                time.sleep(0.01)
        except OSError:
            pass
        answer = sock.recv(65536)
    assert _status(answer) == 431, answer[:200]


def test_an_unfinished_head_over_the_limit_in_one_read_is_431_at_once(site: LiveSite) -> None:
    """A head that arrives whole in the connection's first read, too large and not ended
    (a loaded server reads late, so the client's pieces pile up): refused at once, not left
    to the header timeout, whose answer would be 408)."""
    start = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
    with socket.create_connection((site.host, site.port), timeout=20) as sock:
        sock.sendall(start + b"a" * 40_000)
        answer = sock.recv(65536)
    assert _status(answer) == 431, answer[:200]


_PAD = b"X-Pad: " + b"p" * 340 + b"\r\n"
_GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + _PAD + b"\r\n"  # 385 bytes
_BODY = b"{" + b" " * 40_000 + b"}"
_POST = (
    b"POST /api/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(_BODY)
) + _BODY


@pytest.mark.parametrize(
    ("before", "requests"), [(_GET * 90, 90), (_POST, 1)], ids=["heads", "body"]
)
def test_requests_pipelined_in_one_read_are_each_measured_on_their_own(
    site: LiveSite, before: bytes, requests: int
) -> None:
    """Requests (90 heads, 35 KB; or a 40 KB body) and then half a head, sent at once
    (one read), the rest a moment later: the half head is measured alone, not with the
    bytes before it, and no request is taken for a head over the 32 KB limit."""
    last = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection((site.host, site.port), timeout=20) as sock:
        sock.sendall(before + _GET[:200])
        time.sleep(0.1)
        sock.sendall(_GET[200:] + last)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    statuses = [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)]
    assert len(statuses) == requests + 2 and 431 not in statuses, statuses
    assert statuses[-2:] == [200, 200]


def test_ordinary_requests_pass(site: LiveSite) -> None:
    headers = {f"X-Fine-{i}": "v" * 100 for i in range(20)}
    answer = httpx.get(site.url + "/search", params={"q": "w " * 100}, headers=headers)
    assert answer.status_code == 200
    assert httpx.get(site.url + "/papers/" + "a" * 6000).status_code == 404


def test_a_slowloris_header_is_cut_at_the_timeout(site: LiveSite) -> None:
    """One header byte every 0.3 s would take 9 s: the head is due within the timeout."""
    started = time.perf_counter()
    answer = _exchange(
        site, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", drip=b"X-Slow: " + b"s" * 30 + b"\r\n\r\n"
    )
    took = time.perf_counter() - started
    assert answer == b"" or _status(answer) == 408, answer[:200]
    assert took < TIMEOUT + 2, took


def test_a_silent_connection_is_closed_with_408(site: LiveSite) -> None:
    started = time.perf_counter()
    answer = _exchange(site, b"")
    assert _status(answer) == 408, answer[:200]
    assert time.perf_counter() - started < TIMEOUT + 2


def test_a_body_that_does_not_arrive_is_408(site: LiveSite) -> None:
    head = (
        b"POST /api/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    started = time.perf_counter()
    answer = _exchange(site, head, drip=b"[" * 40, pause=0.3)
    took = time.perf_counter() - started
    assert _status(answer) == 408, answer[:300]
    assert answer.count(b"HTTP/1.1 ") == 1  # one answer for one request
    assert took < TIMEOUT + 2, took


def test_many_slow_clients_are_all_dropped_and_the_site_answers_meanwhile(
    site: LiveSite,
) -> None:
    dropped: list[float] = []

    def slow_client() -> None:
        started = time.perf_counter()
        _exchange(site, b"GET / HTTP/1.1\r\nHost: x\r\n", drip=b"X-a: b\r\n" * 10, pause=0.5)
        dropped.append(time.perf_counter() - started)

    clients = [threading.Thread(target=slow_client) for _ in range(200)]
    for client in clients:
        client.start()
    time.sleep(0.5)
    health = httpx.get(site.url + "/healthz", timeout=5)
    for client in clients:
        client.join(timeout=30)
    assert health.status_code == 200
    assert len(dropped) == 200
    assert max(dropped) < TIMEOUT + 3, max(dropped)
