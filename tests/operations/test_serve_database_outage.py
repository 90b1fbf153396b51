"""`papertide serve` and a PostgreSQL that is not there: started before its database it
waits for it (one log line an attempt, 503 with Retry-After meanwhile, SIGTERM obeyed) and
serves once it answers; while the database is down every page answers 503 with
Retry-After, for signed-in readers too; a database restart under load costs nothing but
such 503s (no 500, no dropped connection). The shared test server is never stopped: the
database is cut off through a TCP proxy, or is a private server of the test's own."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from papertide.clock import utcnow
from papertide.config import Settings
from papertide.ingest import ingest_paths
from papertide.store import Store
from tests.conftest import SEEDS
from tests.support.private_pg import PrivateServer
from tests.support.serve_process import Serving, serve_process
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres
START_SECONDS = 120
NO_CACHE = {"PAPERTIDE_PAGE_CACHE_SECONDS": "0"}  # answers from the database, not kept pages
PAGES = ("/", "/trending", "/search?q=attention", "/lists", "/for-you", "/api/daily")


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    """A TCP proxy in front of this test process's database."""
    url = make_url(pg_url)
    found = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    yield found
    found.stop()


def _settings(tmp_path: Path, url: str, proxy: TcpProxy | None = None) -> Settings:
    """Settings on the database at ``url`` (reached through ``proxy``, if given)."""
    if proxy is not None:
        url = make_url(url).set(port=proxy.port).render_as_string(hide_password=False)
    return Settings(data_dir=tmp_path / "data", database_url=url)


def _seeded_with_a_reader(url: str, settings: Settings) -> tuple[str, str]:
    """The seed papers and a signed-in reader: (their username, their session token)."""
    store = Store.open(url)
    ingest_paths(store, SEEDS, settings=settings)
    user = store.create_user(username="reader", email=None, password_hash="x", now=utcnow())
    token = "reader-session-token"
    store.create_session(user_pk=user.pk, token=token, now=utcnow(), ttl=timedelta(days=1))
    store.close()
    return user.username, token


def _waiting_lines(site: Serving) -> list[str]:
    return [line for line in site.text().splitlines() if "waiting for the database" in line]


def _to_login(answer: httpx.Response) -> bool:
    return answer.status_code == 303 and answer.headers["location"].startswith("/login")


def _ready(site: Serving) -> bool:
    health = site.get("/healthz")
    return health.status_code == 200 and health.json()["index"]["ready"] is True


def test_serve_started_before_its_database_waits_for_it(
    tmp_path: Path, proxy: TcpProxy, pg_url: str
) -> None:
    proxy.stop()  # the database does not answer
    settings = _settings(tmp_path, pg_url, proxy)
    with serve_process(settings, env=NO_CACHE) as site:
        site.wait_for(lambda: len(_waiting_lines(site)) >= 2, START_SECONDS, "two attempts")
        lines = _waiting_lines(site)
        assert f"127.0.0.1:{proxy.port}" in lines[0] and "attempt 1" in lines[0]
        assert "attempt 2" in lines[1] and "Traceback" not in site.text()
        page = site.get("/")
        assert page.status_code == 503 and page.headers["retry-after"].isdigit()
        assert "Waiting for the database" in page.text
        assert page.headers["content-type"].startswith("text/html")
        api = site.get("/api/daily")
        assert api.status_code == 503 and api.json()["status"] == 503
        health = site.get("/healthz")
        assert health.status_code == 503 and health.headers["retry-after"].isdigit()
        assert health.json()["state"] == "starting" and health.json()["building"] is True
        assert "waiting for the database" in health.json()["starting"]
        proxy.start()  # the database is back: the node comes up on its own
        site.wait_for(lambda: _ready(site), START_SECONDS, "ready once the database is up")
        assert site.get("/").status_code == 200
        assert site.get("/api/daily").status_code == 200


def test_sigterm_stops_serve_within_5_s_while_it_waits_for_its_database(
    tmp_path: Path, proxy: TcpProxy, pg_url: str
) -> None:
    proxy.stop()
    settings = _settings(tmp_path, pg_url, proxy)
    with serve_process(settings) as site:
        site.wait_for(lambda: _waiting_lines(site), START_SECONDS, "an attempt")
        took = site.terminate()
        assert took < 5.0, f"{took:.1f} s:\n{site.text()}"


def test_every_page_is_a_503_for_signed_in_readers_while_the_database_is_down(
    tmp_path: Path, proxy: TcpProxy, pg_url: str
) -> None:
    settings = _settings(tmp_path, pg_url, proxy)
    username, token = _seeded_with_a_reader(pg_url, settings)
    signed_in = {"pt_session": token}
    with serve_process(settings, env=NO_CACHE) as site:
        site.wait_for(lambda: _ready(site), START_SECONDS, "a ready node")
        assert username in site.get("/", cookies=signed_in).text  # signed in indeed
        proxy.stop()
        for path in (*PAGES, f"/users/{username}"):
            for cookies in (signed_in, {}):
                answer = site.get(path, cookies=cookies)
                who = "signed in" if cookies else "anonymous"
                if not cookies and _to_login(answer):
                    continue  # a page for readers only sends the others to log in first
                assert answer.status_code == 503, (path, who, answer.status_code)
                assert answer.headers["retry-after"].isdigit(), (path, who)
        proxy.start()
        site.wait_for(
            lambda: site.get("/", cookies=signed_in).status_code == 200, 60, "served again"
        )
    assert "unhandled error" not in site.text()  # no 500 at all


class _Crowd:
    """Threads asking for pages in a loop, signed in or not, each on kept-alive
    connections, noting every answer (status, Retry-After) or transport error."""

    def __init__(self, url: str, token: str, threads: int = 4) -> None:
        self.url, self.token = url, token
        self.answers: list[tuple[int, str | None]] = []  # (status, Retry-After)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._ask, args=(n,), daemon=True) for n in range(threads)
        ]

    def __enter__(self) -> _Crowd:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _ask(self, number: int) -> None:
        cookies = {"pt_session": self.token} if number % 2 else {}
        with httpx.Client(base_url=self.url, cookies=cookies, timeout=30) as client:
            while not self._stop.is_set():
                for path in PAGES:
                    try:
                        answer = client.get(path)
                    except httpx.TransportError as exc:
                        self.errors.append(f"{path}: {exc!r}")
                        continue
                    if not _to_login(answer):  # (readers only: no database asked)
                        self.answers.append((answer.status_code, answer.headers.get("retry-after")))


def test_a_database_restart_under_load_costs_only_503s_with_retry_after(
    tmp_path: Path, private_pg: PrivateServer
) -> None:
    settings = _settings(tmp_path, private_pg.url)
    _, token = _seeded_with_a_reader(private_pg.url, settings)
    with serve_process(settings, env=NO_CACHE) as site:
        site.wait_for(lambda: _ready(site), START_SECONDS, "a ready node")
        with _Crowd(site.url, token) as crowd:
            time.sleep(2)
            private_pg.restart()
            time.sleep(2)
            private_pg.ctl("stop", "-m", "fast", "-w")
            time.sleep(3)
            private_pg.start()
            site.wait_for(lambda: _ready(site), 60, "ready after the restart")
            served = len(crowd.answers)
            time.sleep(2)
        assert crowd.errors == [], crowd.errors[:5]
        wrong = [a for a in crowd.answers if a[0] != 200 and (a[0], bool(a[1])) != (503, True)]
        assert wrong == [], wrong[:10]
        assert any(status == 503 for status, _ in crowd.answers)  # the outage was met
        assert any(status == 200 for status, _ in crowd.answers[served:])
