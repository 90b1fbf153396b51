"""What lives in the server, through a real `papertide serve` over HTTP: request body caps,
whose address a request comes from, threads per worker, and workers that die with it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from papertide.config import Settings
from papertide.web import create_app
from tests.conftest import caught_up
from tests.support.live_server import LiveSite, live_site

HUNDRED_MB = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSite]:
    """One server for the module's tests."""
    with live_site(tmp_path_factory.mktemp("serve") / "data", "--workers", "1") as running:
        yield running


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_declared_100_mb_body_is_refused_before_a_byte_is_sent(site: LiveSite) -> None:
    for path in ("/api/subscriptions", "/login", "/subscription/x"):
        with socket.create_connection((site.host, site.port), timeout=5) as sock:
            started = time.perf_counter()
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: {site.host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {HUNDRED_MB}\r\n\r\n".encode()
            )
            head = _read_response(sock)  # nothing of the body was sent
            took = time.perf_counter() - started
        assert head.startswith(b"HTTP/1.1 413"), head
        assert took < 2, took


def test_a_streamed_100_mb_body_is_cut_at_the_cap_without_growing_memory(site: LiveSite) -> None:
    # The baseline once the server has started: it answers at once while its index follower
    # still warms up (some 8 MB in its first second), which is not the body's doing.
    with httpx.Client(base_url=site.url) as client:
        caught_up(client)
    before = site.rss_kb()
    answers: list[bytes] = []

    def post_chunked() -> None:
        with socket.create_connection((site.host, site.port), timeout=10) as sock:
            sock.sendall(
                f"POST /api/subscriptions HTTP/1.1\r\nHost: {site.host}\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            )
            chunk = b"%x\r\n%s\r\n" % (65536, b"[" * 65536)
            try:
                for _ in range(HUNDRED_MB // 65536):
                    sock.sendall(chunk)
            except OSError:
                pass  # the server answered and closed: what we want
            answers.append(_read_response(sock))

    senders = [threading.Thread(target=post_chunked) for _ in range(4)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(timeout=60)
    assert len(answers) == 4
    assert all(answer.startswith(b"HTTP/1.1 413") for answer in answers), answers
    assert site.rss_kb() - before < 10 * 1024


def test_the_cap_comes_before_the_csrf_check_and_small_bodies_pass(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        big = client.post("/login", data={"username": "x" * 40_000, "password": "y"})
        assert big.status_code == 413 and "larger than" in big.text
        api = client.post("/api/subscriptions", content=b"{" * 200_000)
        assert api.status_code == 413 and api.json()["status"] == 413
        small = client.post("/login", data={"username": "ada", "password": "y"})
        assert small.status_code == 403  # the CSRF check, as before


def test_subscription_forms_take_more_than_the_default(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        client.get("/subscribe")
        token = client.cookies["pt_csrf"]
        topics = "\n".join(f"topic number {i} " + "w" * 150 for i in range(20))  # ~3.4 KB x3
        answer = client.post(
            "/subscribe",
            data={"email": "ada@example.org", "queries": topics * 1, "csrf_token": token},
        )
        assert answer.status_code != 413
        assert client.post("/login", data={"username": topics * 6}).status_code == 413


def test_body_caps_of_the_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d", max_body_bytes=2048)
    with TestClient(create_app(settings)) as client:
        assert client.post("/login", content=b"a" * 2049).status_code == 413


@pytest.mark.parametrize("threads", [1, 3])
def test_a_worker_runs_as_many_requests_at_once_as_its_threads(
    tmp_path: Path, threads: int
) -> None:
    """Sync routes share the worker's thread pool, sized by the setting (AnyIO's default, 40,
    made them fight over the GIL): 8 slow requests at once never overlap more than that."""
    app = create_app(Settings(data_dir=tmp_path / "d", threads=threads))
    running, most = 0, 0
    lock = threading.Lock()

    @app.get("/_slow")
    def slow() -> dict[str, int]:  # a stand-in for a page's work, in the same pool
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.2)
        with lock:
            running -= 1
        return {"ok": 1}

    with TestClient(app) as client:
        calls = [threading.Thread(target=client.get, args=("/_slow",)) for _ in range(8)]
        for call in calls:
            call.start()
        for call in calls:
            call.join()
    assert most == threads


def _wrong_logins(url: str, forwarded: list[str]) -> list[int]:
    with httpx.Client(base_url=url) as client:
        client.get("/login")
        token = client.cookies["pt_csrf"]
        return [
            client.post(
                "/login",
                data={"username": "nobody", "password": "wrong", "csrf_token": token},
                headers={"X-Forwarded-For": address},
            ).status_code
            for address in forwarded
        ]


def test_forwarded_for_from_an_untrusted_client_does_not_escape_the_rate_limit(
    tmp_path: Path,
) -> None:
    """A new X-Forwarded-For per request from loopback does not get past the login limit
    (uvicorn trusts the header from 127.0.0.1 unless told otherwise; it once got past)."""
    env = {
        "PAPERTIDE_LOGIN_FAILURES_PER_ADDRESS": "3",
        "PAPERTIDE_LOGIN_FAILURES_PER_ACCOUNT": "1000",
    }
    with live_site(tmp_path / "data", env=env) as running:
        forged = [f"203.0.113.{i}" for i in range(8)]
        assert _wrong_logins(running.url, forged) == [401] * 3 + [429] * 5
        log = running.log.read_text()
    assert "203.0.113." not in log and "127.0.0.1:" in log  # the access log names the peer


def test_a_trusted_proxy_names_each_client(tmp_path: Path) -> None:
    env = {
        "PAPERTIDE_LOGIN_FAILURES_PER_ADDRESS": "3",
        "PAPERTIDE_LOGIN_FAILURES_PER_ACCOUNT": "1000",
        "PAPERTIDE_TRUSTED_PROXIES": "127.0.0.1,::1",
    }
    with live_site(tmp_path / "data", env=env) as running:
        # Each client has a bucket of its own; one client still meets its limit.
        assert _wrong_logins(running.url, [f"198.51.100.{i}" for i in range(6)]) == [401] * 6
        assert _wrong_logins(running.url, ["198.51.100.77"] * 4) == [401] * 3 + [429]
        # A client cannot prepend its own entry: the proxy's right-most address counts.
        spoofed = [f"10.9.9.{i}, 198.51.100.77" for i in range(3)]
        assert _wrong_logins(running.url, spoofed) == [429] * 3
        time.sleep(0.2)
        log = running.log.read_text()
    assert "198.51.100.77:" in log


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_die_with_a_killed_serve_and_a_restart_comes_up(tmp_path: Path) -> None:
    """After kill -9 of `serve --workers 2` no worker goes on serving and the restart comes
    up (both once went on, and the restart failed with "Address already in use")."""
    import os
    import signal

    workers: list[int] = []
    try:
        with live_site(tmp_path / "data", "--workers", "2") as first:
            deadline = time.monotonic() + 30
            while len(workers) < 2 and time.monotonic() < deadline:
                spawned = _children(first.proc.pid)
                workers = [p for p in spawned if "spawn_main" in _cmdline(p)]
                time.sleep(0.2)
            assert len(workers) == 2, _children(first.proc.pid)
            os.kill(first.proc.pid, signal.SIGKILL)
            first.proc.wait(timeout=10)
            deadline = time.monotonic() + 20
            while any(_alive(p) for p in workers) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert not any(_alive(p) for p in workers)
            port = first.port
        with live_site(tmp_path / "data", "--workers", "2", port=port) as second:
            # live_site returns at the first answer below 500, from either worker; the other
            # may still answer 503 "starting" on a loaded machine. Both come up: every
            # connection then gets 200.
            deadline, answers = time.monotonic() + 120, []
            while answers[-5:] != [200] * 5 and time.monotonic() < deadline:
                answers.append(httpx.get(second.url + "/healthz", timeout=5).status_code)
                time.sleep(0.1)
            assert answers[-5:] == [200] * 5, answers
            assert set(answers) <= {200, 503}, answers
    finally:
        for pid in workers:  # only the workers this test started, if the fix failed
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
