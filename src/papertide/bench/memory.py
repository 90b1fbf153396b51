"""What `papertide serve --workers N` costs in memory: a real server over a built index,
queried through every worker, then the proportional set size (PSS) of each of its
processes read from /proc. PSS divides a shared page between the processes that map it, so
the sum is what the machine spends; RSS counts a shared page once in each, and its sum
overstates a server whose workers share the index files (they map them read-only)."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from papertide.bench.server import caught_up, serve_process, wait_until
from papertide.config import Settings


@dataclass(frozen=True)
class ServerMemory:
    """PSS and RSS of a server's processes, in MB (the first is the supervisor)."""

    pss: list[float]
    rss: list[float]

    @property
    def pss_total(self) -> float:
        """What the machine spends on the server."""
        return sum(self.pss)

    @property
    def rss_total(self) -> float:
        """RSS summed (shared pages counted once per process)."""
        return sum(self.rss)


def measure_server_memory(
    settings: Settings, *, workers: int, titles: list[str], paper_ids: list[str]
) -> ServerMemory:
    """Start `serve --workers N` on ``settings``, wait for its index, send each title as
    a hybrid and a dense search and ask each paper's similar list (8 connections at once,
    so every worker answers some), then read the memory of every process of the server."""
    with serve_process(settings, workers=workers) as (client, pid):
        # Every worker up and caught up: one still starting answers 503 "starting".
        wait_until(
            lambda: caught_up(client, workers),
            3600,
            pause=0.5,
            message="the server's index never became ready",
        )
        requests = [
            ("/api/search", {"q": t, "mode": m}) for t in titles for m in ("hybrid", "dense")
        ]
        requests += [(f"/api/papers/{pid_}/similar", {}) for pid_ in paper_ids]
        random.Random(5).shuffle(requests)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda r: _get(client, *r), requests))
        if any(status != 200 for status in answers):
            bad = sum(status != 200 for status in answers)
            raise RuntimeError(f"{bad} of {len(answers)} requests to the server failed")
        pids = [pid, *_descendants(pid)]
        return ServerMemory(
            [_status_kb(p, "Pss:", "smaps_rollup") / 1024 for p in pids],
            [_status_kb(p, "VmRSS:", "status") / 1024 for p in pids],
        )


def _get(client: httpx.Client, path: str, params: dict[str, str]) -> int:
    return client.get(path, params=params).status_code


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (uvicorn's workers, and any helper they started)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def _status_kb(pid: int, field: str, name: str) -> float:
    for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
        if line.startswith(field):
            return float(line.split()[1])
    return 0.0
