"""`papertide ingest` beside a running `papertide serve` on the same data folder: once its
papers are stored it ends (exit 0) without waiting on the index the node is writing, says
that the node's index follows them, and the node does take them in."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from papertide.bench.synth import write_snapshot
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.store import Store
from tests.support.processes import _env

PAPERS = 10_000  # a first build that lasts well beyond a one-paper import


def _until(condition: object, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_ingest_beside_a_node_building_its_index_stores_and_leaves_indexing_to_it(
    settings: Settings, store: Store, tmp_path: Path
) -> None:
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
        title = "Quokka locomotion policies for tardigrade robots"
        solo = tmp_path / "solo.jsonl"
        solo.write_text(json.dumps({"_id": "q-1", "title": title, "text": "Quokka gaits."}))
        done = subprocess.run(
            [sys.executable, "-m", "papertide", "ingest", str(solo), "--format", "jsonl"],
            env=_env(settings),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        # It stored its paper and ended while the node was still building (before it
        # waited on the node's index lock until the build ended, then built again).
        still_building = not (index / "CURRENT").exists()
        assert done.returncode == 0, done.stderr
        assert still_building
        assert store.count_papers() == PAPERS + 1
        assert "Read 1 record from 1 file in " in done.stdout
        said = " ".join(done.stderr.split())
        assert "a running `papertide serve`, say): it follows the store's change feed" in said

        def found() -> bool:
            params = {"q": f'"{title}"', "mode": "bm25"}
            answer = httpx.get(f"http://127.0.0.1:{port}/api/search", params=params, timeout=30)
            return answer.status_code == 200 and [p["title"] for p in answer.json()["papers"]] == [
                title
            ]

        _until(found)  # the node's index took the paper in
    finally:
        serve.terminate()
        serve.wait(timeout=60)
