"""`papertide ingest` and `papertide sync` beside a running `papertide serve` on the same data
folder: once their papers are stored they end (exit 0) without waiting on the index the node
is writing, say that the node's index follows them, and the node does take them in."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from papertide.bench.synth import write_snapshot
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.sources import arxiv_api, oai
from papertide.store import Store
from tests.support.fixture_server import FixtureServer, Reply, Seen
from tests.support.fixture_server import arxiv_api as recorded_api
from tests.support.fixture_server import oai_harvest as recorded_harvest
from tests.support.processes import _env, _papertide, _sync_env

PAPERS = 10_000  # a first build that lasts well beyond a one-paper import
FOLLOWS = "a running `papertide serve`, say): it follows the store's change feed"


def _until(condition: object, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _node_building_its_index(
    settings: Settings, store: Store, tmp_path: Path
) -> Iterator[tuple[int, Path]]:
    """A `serve` on ``settings``' data folder, PAPERS papers stored, caught in the middle
    of its first index build (past a checkpoint); yields its port and its index folder."""
    source = write_snapshot(tmp_path / "s.jsonl", PAPERS, seed=11)
    ingest_paths(store, [source], settings=settings, options=IngestOptions(fmt="arxiv-snapshot"))
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "papertide",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=_env(settings, PAPERTIDE_SEARCH__BUILD_CHECKPOINT="500"),
            stdout=out,
            stderr=out,
        )
    index = settings.data_dir / "index"

    def building() -> bool:  # the node's first generation has passed a checkpoint
        for state in (index / "gens").glob("*/state.json"):
            build = json.loads(state.read_text()).get("build")
            if build and int(build["after_pk"]) > 0:
                return True
        return False

    try:
        _until(building)
        yield port, index
    finally:
        serve.terminate()
        serve.wait(timeout=60)


def _node_finds(port: int, title: str) -> None:
    """Wait until the node's search answers ``title`` (quoted) with that paper alone."""

    def found() -> bool:
        params = {"q": f'"{title}"', "mode": "bm25"}
        answer = httpx.get(f"http://127.0.0.1:{port}/api/search", params=params, timeout=30)
        return answer.status_code == 200 and [p["title"] for p in answer.json()["papers"]] == [
            title
        ]

    _until(found)


def test_ingest_beside_a_node_building_its_index_stores_and_leaves_indexing_to_it(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    with _node_building_its_index(settings, store, tmp_path) as (port, index):
        title = "Quokka locomotion policies for tardigrade robots"
        solo = tmp_path / "solo.jsonl"
        solo.write_text(json.dumps({"_id": "q-1", "title": title, "text": "Quokka gaits."}))
        done = _papertide(settings, "ingest", str(solo), "--format", "jsonl")
        stdout, stderr = done.communicate(timeout=600)
        # It stored its paper and ended while the node was still building (before it
        # waited on the node's index lock until the build ended, then built again).
        still_building = not (index / "CURRENT").exists()
        assert done.returncode == 0, stderr
        assert still_building
        assert store.count_papers() == PAPERS + 1
        assert "Read 1 record from 1 file in " in stdout
        assert FOLLOWS in " ".join(stderr.split())
        _node_finds(port, title)  # the node's index took the paper in


def _recorded(seen: Seen) -> Reply:
    return recorded_api(seen) if seen.path == "/api/query" else recorded_harvest(seen)


def test_sync_beside_a_node_building_its_index_stores_and_leaves_indexing_to_it(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
    with (
        FixtureServer() as services,
        _node_building_its_index(settings, store, tmp_path) as (port, index),
    ):
        services.handler = _recorded
        done = _papertide(settings, "sync", **_sync_env(services))
        stdout, stderr = done.communicate(timeout=600)
        # Its papers stored, it ended while the node was still building, as ingest does
        # (before, it waited on the node's index lock until the build ended).
        still_building = not (index / "CURRENT").exists()
        assert done.returncode == 0, stderr
        assert still_building
        synced = [
            p
            for p in store.list_papers(limit=PAPERS + 100)
            if {arxiv_api.SOURCE, oai.SOURCE} & set(p.sources)
        ]
        assert len(synced) >= 8  # both recorded sources, every page
        assert store.count_papers() == PAPERS + len(synced)
        assert "new papers." in stdout
        assert FOLLOWS in " ".join(stderr.split())
        plain = [p.title for p in synced if re.fullmatch(r"[\w -]+", p.title)]
        _node_finds(port, plain[0])  # the node's index took them in
