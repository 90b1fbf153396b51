"""Python's cycle collector in a serving process: how often it runs, and what it costs.

The collector pauses the whole process (the event loop and every page's thread) while it
runs. A web worker holds some 170,000 tracked objects (search index, templates, caches),
and each page allocates thousands more that reference counting frees. At CPython's default
thresholds (700, 10, 10) a worker at 100k papers under load ran the young collection about
25 times a second and a full one every 5 s, 120-160 ms each: 4-5% of its time, and the
pauses landed on whatever was waiting, /healthz included (its p99 at 256 connections
108-146 ms; with the thresholds below 43-73 ms, and under half the collector's time).

``tune`` (called once by each serving process) sets ``THRESHOLDS`` and times every pass
into plain counters; the metrics loop (web/metrics.py, ``note_collector``) adds them to the
workers' metrics through ``since_noted``, never the collector's own callback: a pass can
start in a thread that holds the metrics' lock already, and taking it again would deadlock.
"""

from __future__ import annotations

import gc
import time
from typing import Any

# A young pass after 20,000 new container objects (not 700), a middle one every 20 young
# ones, a full one every 10 middle ones (and only once the survivors grew by a quarter).
THRESHOLDS = (20_000, 20, 10)

_runs = [0, 0, 0]  # by generation, since the process started
_seconds = [0.0, 0.0, 0.0]
_noted = ([0, 0, 0], [0.0, 0.0, 0.0])
_started = [0.0]


def _clock(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    generation = int(info["generation"])
    _runs[generation] += 1
    _seconds[generation] += time.perf_counter() - _started[0]


def tune() -> None:
    """This process's thresholds, and the clock on every pass (once per process)."""
    gc.set_threshold(*THRESHOLDS)
    if _clock not in gc.callbacks:
        gc.callbacks.append(_clock)


def since_noted() -> list[tuple[int, int, float]]:
    """(generation, passes, seconds) since the last call, for each generation."""
    runs, seconds = list(_runs), list(_seconds)
    done = [(g, runs[g] - _noted[0][g], seconds[g] - _noted[1][g]) for g in range(3)]
    _noted[0][:], _noted[1][:] = runs, seconds
    return done
