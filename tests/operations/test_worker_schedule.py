"""The worker's schedule (papertide.worker.run_jobs) on a fake clock: no test waits."""

from __future__ import annotations

import logging
import threading

import pytest

from papertide.worker import Job, run_jobs


class Clock:
    """Time that moves only when the worker waits; sets ``stop`` once ``until`` is reached."""

    def __init__(self, stop: threading.Event, until: float) -> None:
        self.now, self.stop, self.until = 0.0, stop, until

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += seconds
        if self.now >= self.until:
            self.stop.set()


def test_each_job_runs_at_once_then_every_so_often() -> None:
    stop = threading.Event()
    clock = Clock(stop, until=55)
    ran: list[tuple[str, float]] = []
    jobs = [
        Job("sync", 10, lambda: ran.append(("sync", clock.now))),
        Job("digests", 25, lambda: ran.append(("digests", clock.now))),
    ]
    count = run_jobs(jobs, stop=stop, clock=clock, wait=clock.wait)
    assert ran == [
        ("sync", 0), ("digests", 0), ("sync", 10), ("sync", 20), ("digests", 25),
        ("sync", 30), ("sync", 40), ("sync", 50), ("digests", 50),
    ]  # fmt: skip
    assert count == len(ran)


def test_a_failing_job_is_logged_and_tried_again(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    clock = Clock(stop, until=25)
    calls: list[float] = []

    def flaky() -> None:
        calls.append(clock.now)
        if len(calls) == 1:
            raise RuntimeError("SMTP down")

    other: list[float] = []
    jobs = [Job("digests", 10, flaky), Job("sync", 10, lambda: other.append(clock.now))]
    with caplog.at_level(logging.ERROR, logger="papertide.worker"):
        run_jobs(jobs, stop=stop, clock=clock, wait=clock.wait)
    assert calls == [0, 10, 20] and other == [0, 10, 20]
    assert [r.getMessage() for r in caplog.records] == ["worker: digests failed"]


def test_once_runs_each_job_one_time() -> None:
    ran: list[str] = []
    jobs = [Job("a", 60, lambda: ran.append("a")), Job("b", 60, lambda: ran.append("b"))]
    assert run_jobs(jobs, stop=threading.Event(), once=True) == 2
    assert ran == ["a", "b"]


def test_a_stop_during_a_job_lets_it_finish_and_runs_no_other() -> None:
    stop = threading.Event()
    ran: list[str] = []

    def first() -> None:
        ran.append("first")
        stop.set()  # SIGTERM arrives while the job works

    jobs = [Job("first", 60, first), Job("second", 60, lambda: ran.append("second"))]
    assert run_jobs(jobs, stop=stop) == 1
    assert ran == ["first"]
