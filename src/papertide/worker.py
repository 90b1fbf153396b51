"""The long-running worker's schedule: run each job every so often until told to stop.

`papertide worker` builds the jobs (sync and index, compose and send digests) and hands them
here; this module owns when they run. A job that raises is logged and tried again on its next
turn, so one failed round never ends the worker; ``stop`` (set by SIGTERM or Ctrl-C) is
looked at between jobs, so a job in hand is finished first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    """One scheduled job: its name, the seconds between runs, and what it runs."""

    name: str
    every: float
    run: Callable[[], None]


def run_jobs(
    jobs: list[Job],
    *,
    stop: threading.Event,
    once: bool = False,
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[float], object] | None = None,
) -> int:
    """Run every job when due, in order, until ``stop`` is set (or one round if ``once``).

    Each job first runs at once, then ``every`` seconds after its last run ended. Returns how
    many jobs ran. ``clock`` and ``wait`` (default: ``stop.wait``) are for tests.
    """
    pause = wait or stop.wait
    due = {job.name: float("-inf") for job in jobs}
    ran = 0
    while not stop.is_set():
        for job in jobs:
            if stop.is_set() or clock() < due[job.name]:
                continue
            try:
                job.run()
            except Exception:  # the next turn tries again
                log.exception("worker: %s failed", job.name)
            ran += 1
            due[job.name] = clock() + job.every
        if once or not jobs:
            break
        pause(max(0.0, min(due.values()) - clock()))
    return ran
