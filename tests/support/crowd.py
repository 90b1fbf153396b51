"""Threads released together, for the tests of simultaneous writes."""

from __future__ import annotations

import threading
from collections.abc import Callable


def all_at_once(jobs: list[Callable[[], object]]) -> list[BaseException]:
    """Run every job in its own thread, released together; the exceptions they raised."""
    gate = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        gate.wait()
        try:
            job()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
