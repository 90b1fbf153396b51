"""The polite client against a real loopback server: spacing, retries, Retry-After, UA."""

from __future__ import annotations

import itertools
import logging
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from papertide import __version__
from papertide.sources.http import (
    BadBody,
    FetchError,
    PoliteClient,
    RateLimiter,
    Refused,
    naive_utc,
    parse_xml,
    retry_after_seconds,
    short_url,
    user_agent,
)
from papertide.sources.settings import SyncSettings
from tests.support.fixture_server import FixtureServer, Reply


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    with FixtureServer() as srv:
        yield srv


def fast(**overrides: object) -> SyncSettings:
    """Settings that keep tests quick: no spacing, tiny backoff, short time-out."""
    values: dict[str, object] = {
        "request_interval": 0,
        "backoff": 0.01,
        "timeout": 0.5,
        "retries": 2,
    }
    values.update(overrides)
    return SyncSettings(**values)  # type: ignore[arg-type]


def text(response: httpx.Response) -> str:
    return response.text


class FakeClock:
    """The clock and sleep a client is given: time moves only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def clocked(source: str, settings: SyncSettings) -> tuple[PoliteClient, FakeClock, list[float]]:
    """A client on a fake clock, and the clock's reading as each request leaves."""
    clock = FakeClock()
    client = PoliteClient(source, settings, clock=clock, sleep=clock.sleep)
    sent: list[float] = []
    client.http.event_hooks["request"] = [lambda request: sent.append(clock.now)]
    return client, clock, sent


def test_requests_are_spaced_by_the_interval(server: FixtureServer) -> None:
    server.script(Reply(b"ok"))
    client, clock, sent = clocked("test", fast(request_interval=0.2))
    with client:
        for n in range(4):
            assert client.fetch(f"{server.url}/q", {"n": n}, text) == "ok"
    assert len(server.requests) == 4
    assert [round(b - a, 6) for a, b in itertools.pairwise(sent)] == [0.2, 0.2, 0.2]
    assert [round(s, 6) for s in clock.slept] == [0.2, 0.2, 0.2]  # the limiter's waits


def test_retries_are_spaced_too(server: FixtureServer) -> None:
    server.script(Reply(b"busy", status=500), Reply(b"ok"))
    client, clock, sent = clocked("test", fast(request_interval=0.2, backoff=0))
    with client:
        assert client.fetch(f"{server.url}/q", {}, text) == "ok"
    assert len(server.requests) == 2
    assert round(sent[1] - sent[0], 6) == 0.2
    assert [round(s, 6) for s in clock.slept] == [0.0, 0.2]  # no back-off, then the limiter


def test_rate_limiter_on_a_fake_clock() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(3.0, clock=lambda: now[0], sleep=sleep)
    limiter.wait()
    now[0] += 1.0
    limiter.wait()
    now[0] += 5.0
    limiter.wait()
    assert slept == [2.0]


def test_user_agent_names_papertide_and_the_contact(server: FixtureServer) -> None:
    server.script(Reply(b"ok"))
    settings = fast(contact_email="ops@example.org", contact_url="https://papers.example.org")
    with PoliteClient("test", settings) as client:
        client.fetch(f"{server.url}/q", {}, text)
    agent = server.requests[0].headers["User-Agent"]
    assert agent == f"papertide/{__version__} (+https://papers.example.org; mailto:ops@example.org)"
    assert user_agent(SyncSettings()) == f"papertide/{__version__}"


def test_429_then_success_is_retried_with_a_log_line(
    server: FixtureServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.script(Reply(b"slow down", status=429), Reply(b"ok"))
    with caplog.at_level(logging.WARNING), PoliteClient("arxiv", fast()) as client:
        assert client.fetch(f"{server.url}/api/query", {"start": 0}, text) == "ok"
    assert len(server.requests) == 2
    (record,) = caplog.records
    host = server.url.removeprefix("http://")
    # One short line: host and path, not the whole URL with its query string.
    assert record.getMessage() == (
        f"arxiv: HTTP 429 Too Many Requests from {host}/api/query; retry 1 of 2 in 0.0 s"
    )


def test_long_urls_are_shown_as_host_and_path(server: FixtureServer) -> None:
    server.script(Reply(b"down", status=503))
    query = {"search_query": " OR ".join(f"cat:cs.{c}" for c in "ABCDEFGHIJKLMNOP" * 4)}
    with PoliteClient("arxiv", fast()) as client, pytest.raises(FetchError) as caught:
        client.fetch(f"{server.url}/api/query", query, text)
    assert len(caught.value.url) > 300
    host = server.url.removeprefix("http://")
    assert str(caught.value) == (
        f"arxiv: GET {host}/api/query failed: HTTP 503 Service Unavailable after 3 attempts"
    )
    assert short_url("https://export.arxiv.org/api/query?a=1") == "export.arxiv.org/api/query"


def test_503_retry_after_is_honoured(server: FixtureServer) -> None:
    server.script(Reply(b"", status=503, headers={"Retry-After": "1"}), Reply(b"ok"))
    client, clock, sent = clocked("oai", fast(backoff=0))
    with client:
        assert client.fetch(f"{server.url}/oai", {}, text) == "ok"
    assert clock.slept == [1.0]
    assert sent[1] - sent[0] == 1.0


def test_retry_after_is_capped_by_max_wait(server: FixtureServer) -> None:
    server.script(Reply(b"", status=503, headers={"Retry-After": "3600"}), Reply(b"ok"))
    client, clock, _ = clocked("oai", fast(max_wait=0.05))
    with client:
        assert client.fetch(f"{server.url}/oai", {}, text) == "ok"
    assert clock.slept == [0.05]


def test_retry_after_forms() -> None:
    now = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Sat, 21 Nov 2026 12:00:30 GMT", now=now) == 30
    assert retry_after_seconds("Sat, 21 Nov 2026 11:00:00 GMT", now=now) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_giving_up_names_source_url_status_and_attempts(server: FixtureServer) -> None:
    server.script(Reply(b"down", status=503))
    with PoliteClient("hf", fast()) as client, pytest.raises(FetchError) as caught:
        client.fetch(f"{server.url}/api/daily_papers", {"date": "2026-11-20"}, text)
    assert len(server.requests) == 3
    message = str(caught.value)
    assert message.startswith("hf: GET 127.0.0.1:")
    assert "/api/daily_papers failed: HTTP 503 Service Unavailable after 3 attempts" in message
    assert caught.value.url.endswith("/api/daily_papers?date=2026-11-20")
    assert caught.value.status == 503


def test_client_errors_are_not_retried(server: FixtureServer) -> None:
    server.script(Reply(b"no", status=404))
    with PoliteClient("hf", fast()) as client, pytest.raises(FetchError, match="HTTP 404"):
        client.fetch(f"{server.url}/missing", {}, text)
    assert len(server.requests) == 1


def _refused_port() -> int:
    """A loopback port nobody listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://papers.invalid/api", r"cannot resolve papers\.invalid \(.+\); not retried$"),
        ("http://127.0.0.1:{port}/api", r"127\.0\.0\.1 refused the connection; not retried$"),
    ],
)
def test_permanent_failures_fail_at_once_without_retries(
    url: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    # .invalid never resolves (RFC 2606), so no network is needed either way.
    client, clock, sent = clocked("arxiv", fast(retries=4, backoff=5))
    with caplog.at_level(logging.WARNING), client, pytest.raises(FetchError) as caught:
        client.fetch(url.format(port=_refused_port()), {"q": "x"}, text)
    assert len(sent) == 1  # one attempt
    assert clock.slept == []  # no back-off
    assert caplog.records == []  # no retry lines
    assert "\n" not in str(caught.value)
    assert re.search(reason, str(caught.value)), str(caught.value)


def test_a_tls_failure_is_permanent(server: FixtureServer) -> None:
    # The fixture server speaks plain HTTP: a TLS handshake with it fails.
    server.script(Reply(b"ok"))
    client, clock, sent = clocked("hf", fast(retries=3))
    with client, pytest.raises(FetchError, match=r"TLS failed with 127\.0\.0\.1 .*not retried"):
        client.fetch(server.url.replace("http://", "https://") + "/api", {}, text)
    assert (len(sent), clock.slept) == (1, [])


def test_a_slow_answer_times_out_and_is_retried(server: FixtureServer) -> None:
    # 2 s for the good answer (a loaded machine still makes it); the late one needs 5.
    server.script(Reply(b"late", delay=5.0), Reply(b"ok"))
    client, clock, _ = clocked("arxiv", fast(timeout=2.0))
    with client:
        assert client.fetch(f"{server.url}/q", {}, text) == "ok"
    assert len(server.requests) == 2
    assert clock.slept == [0.01]  # the back-off before the one retry


def test_a_truncated_body_is_a_transport_error_and_retried(server: FixtureServer) -> None:
    server.script(Reply(b"<feed>" + b"x" * 500 + b"</feed>", truncate_at=40), Reply(b"ok"))
    with PoliteClient("arxiv", fast()) as client:
        assert client.fetch(f"{server.url}/q", {}, text) == "ok"
    assert len(server.requests) == 2


def test_unusable_bodies_are_retried_and_refusals_are_not(server: FixtureServer) -> None:
    server.script(Reply(b"<html>"), Reply(b"fine"))

    def strict(response: httpx.Response) -> str:
        if response.text.startswith("<html"):
            raise BadBody("an HTML page")
        return response.text

    with PoliteClient("arxiv", fast()) as client:
        assert client.fetch(f"{server.url}/q", {}, strict) == "fine"

    def refuse(response: httpx.Response) -> str:
        raise Refused("bad query")

    server.requests.clear()
    with PoliteClient("arxiv", fast()) as client, pytest.raises(FetchError, match="refused"):
        client.fetch(f"{server.url}/q", {}, refuse)
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body"),
        (b"<!DOCTYPE html><html><body>502</body></html>", "an HTML page"),
        (b"<feed><entry>", "malformed or truncated XML"),
        (b'<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "DTD"),
    ],
)
def test_parse_xml_names_what_is_wrong(body: bytes, reason: str) -> None:
    with pytest.raises(BadBody, match=reason):
        parse_xml(body, what="a feed")


def test_naive_utc() -> None:
    assert naive_utc("2007-02-27T16:02:02-05:00") == datetime(2007, 2, 27, 21, 2, 2)
    assert naive_utc("2026-11-19T01:02:03.447Z") == datetime(2026, 11, 19, 1, 2, 3)
    assert naive_utc("2026-11-19") == datetime(2026, 11, 19)
    assert naive_utc("") is None
    with pytest.raises(ValueError, match="not an ISO 8601 date"):
        naive_utc("yesterday")
