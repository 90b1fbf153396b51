"""A tested multi-node deployment: two `papertide serve` processes with data folders of
their own (two machines) and one `papertide worker`, on one PostgreSQL. What is stored
through one node is searchable, similar-listed, voted and confirmed through the other."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from papertide.store import Store
from tests.conftest import SEEDS
from tests.support import smtp_server
from tests.support.smtp_server import SmtpSink

pytestmark = pytest.mark.postgres
smtp = smtp_server.smtp  # the loopback SMTP server fixture


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Node:
    """One `papertide serve` process on loopback, with its own data folder."""

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "PAPERTIDE_DATA_DIR": str(data_dir)}
        self.env["PAPERTIDE_MAIL__BASE_URL"] = self.url
        self.process = subprocess.Popen(
            [sys.executable, "-m", "papertide", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def wait_up(self, timeout: float = 60) -> dict[str, object]:
        """The first /healthz of the node once it has opened its store and index (until
        then it answers 503 "starting")."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                answer = self.client.get("/healthz")
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.status_code != 503:
                return dict(answer.json())
            if answer is not None:
                assert answer.json()["state"] == "starting", answer.text
            time.sleep(0.1)
        raise AssertionError(f"{self.url} did not answer")

    def stop(self) -> None:
        self.client.close()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _until(check: object, timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        found = check()  # type: ignore[operator]
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def cluster(
    pg_url: str, tmp_path: Path, smtp: SmtpSink
) -> Iterator[tuple[Node, Node, subprocess.Popen[bytes], dict[str, str]]]:
    env = {
        **os.environ,
        "PAPERTIDE_DATABASE_URL": pg_url,
        "PAPERTIDE_MAIL__SMTP_HOST": "127.0.0.1",
        "PAPERTIDE_MAIL__SMTP_PORT": str(smtp.port),
        "PAPERTIDE_SEARCH__FOLLOW_INTERVAL": "0.5",
    }
    a, b = Node(env, tmp_path / "node-a"), Node(env, tmp_path / "node-b")
    worker_env = {**env, "PAPERTIDE_DATA_DIR": str(tmp_path / "worker")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "papertide", "worker", "--no-sync"],
        env=worker_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        a.wait_up()
        b.wait_up()
        yield a, b, worker, env
    finally:
        a.stop()
        b.stop()
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)


def _ingest_seeds(node: Node) -> None:
    ingest = subprocess.run(
        [sys.executable, "-m", "papertide", "ingest", *map(str, SEEDS), "-q"],
        env=node.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ingest.returncode == 0, ingest.stderr


def _register(node: Node, name: str) -> str:
    node.client.get("/register")
    token = node.client.cookies.get("pt_csrf") or ""
    form = {"username": name, "password": "correct horse battery staple", "csrf_token": token}
    headers = {"Origin": node.url}
    answer = node.client.post("/register", data=form, headers=headers, follow_redirects=False)
    assert answer.status_code == 303, answer.text[:500]
    return node.client.cookies.get("pt_csrf") or token


def test_two_nodes_and_a_worker_on_one_database(
    cluster: tuple[Node, Node, subprocess.Popen[bytes], dict[str, str]],
    tmp_path: Path,
    smtp: SmtpSink,
) -> None:
    a, b, worker, env = cluster
    _ingest_seeds(a)  # through node A (its data folder, as an operator there would)
    store = Store.open(env["PAPERTIDE_DATABASE_URL"])
    paper = store.list_papers(limit=1)[0]
    total = store.count_papers()
    # Node B never saw the import: it finds the paper through its own follower.
    started = time.monotonic()

    def found_on_b() -> bool:
        hits = b.client.get("/api/search", params={"q": f'"{paper.title}"', "mode": "bm25"})
        return paper.id in [p["id"] for p in hits.json()["papers"]]

    _until(found_on_b)
    print(f"searchable on node B {time.monotonic() - started:.2f} s after the import returned")

    # /healthz reads each worker's published position, rewritten 4 times a second: it may
    # trail the index the search just used by that much.
    def caught_up_on_b() -> dict[str, Any] | None:
        health: dict[str, Any] = b.client.get("/healthz").json()
        return health if health["index"]["lag"] == 0 else None

    health = _until(caught_up_on_b, timeout=10)
    assert health["index"]["ready"] and health["papers"] == total  # type: ignore[index]
    assert not list((tmp_path / "node-b").rglob("*.usearch"))  # no HNSW at this size
    similar_b = b.client.get(f"/api/papers/{paper.id}/similar").json()
    similar_a = _until(lambda: a.client.get(f"/api/papers/{paper.id}/similar").json())
    assert similar_b and [p["id"] for p in similar_b] == [p["id"] for p in similar_a]  # type: ignore[union-attr]
    # A vote on A shows in B's trending (on its leader, which a vote only keeps on top).
    leader = b.client.get("/api/trending").json()["papers"][0]
    assert leader["site_votes"] == 0
    token = _register(a, "ada_nodes")
    vote = a.client.post(
        f"/api/papers/{leader['id']}/vote", headers={"X-CSRF-Token": token, "Origin": a.url}
    )
    assert vote.status_code == 200, vote.text
    assert vote.json() == {"votes": 1, "voted": True}

    # B's page cache reads the store's change token at most every quarter second (another
    # node's write shows within that): it may answer from the copy it just made, once.
    def voted_on_b() -> bool:
        trending = b.client.get("/api/trending").json()["papers"]
        return [(p["id"], p["site_votes"]) for p in trending[:1]] == [(leader["id"], 1)]

    _until(voted_on_b, timeout=10)
    # A confirmation link mailed by A opens on B (one signing secret for every node).
    b.client.get("/subscribe")
    answer = a.client.post(
        "/api/subscriptions",
        json={"email": "reader@example.org", "queries": ["attention"]},
        headers={"X-CSRF-Token": token, "Origin": a.url},
    )
    assert answer.status_code == 202, answer.text
    mail = _until(lambda: smtp.received)
    body = str(mail[-1].get_body(("plain",)).get_content())  # type: ignore[index,union-attr]
    link = re.search(r"http://127\.0\.0\.1:\d+(/subscribe/confirm/\S+)", body)
    assert link, body
    page = b.client.get(link.group(1))
    assert page.status_code == 200 and "not valid" not in page.text
    assert worker.poll() is None  # the worker ran beside them all along
    store.close()


def test_a_new_node_answers_at_once_and_warms_up(
    cluster: tuple[Node, Node, subprocess.Popen[bytes], dict[str, str]], tmp_path: Path
) -> None:
    a, _, _, env = cluster
    _ingest_seeds(a)
    # A graph from 50 vectors on: the new node goes live first, then builds and maps one.
    late = Node({**env, "PAPERTIDE_SEARCH__ANN_THRESHOLD": "50"}, tmp_path / "node-late")
    try:
        first = late.wait_up()
        assert first["ok"] is True
        assert late.client.get("/").status_code == 200  # pages from the database at once
        _until(lambda: late.client.get("/healthz").json()["index"]["ready"])
        hits = late.client.get("/api/search", params={"q": "attention"}).json()
        assert hits["papers"] and not hits.get("warming")
        _until(lambda: late.client.get("/healthz").json()["index"]["graph"])
        assert list((tmp_path / "node-late").rglob("ann-*.usearch"))
        # Through the graph, the same nearest papers as node A's exact search (below A's
        # threshold) finds.
        query = {"q": "attention heads in transformers", "mode": "dense"}
        through_graph = late.client.get("/api/search", params=query).json()["papers"]
        exact = a.client.get("/api/search", params=query).json()["papers"]
        assert len(exact) >= 5
        assert [p["id"] for p in through_graph[:5]] == [p["id"] for p in exact[:5]]
    finally:
        late.stop()
