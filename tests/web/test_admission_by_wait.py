"""A worker admits a request only if its wait for a thread, reckoned from the worker's
recent pace, fits in ``serve.max_wait_seconds``, whatever room its queue has left; the pace
is learnt only from the threads' answers while requests wait.

The rule is driven here with a clock of the test's own, so that each pace is exact; the
same rule through a real `serve` is in tests/operations/test_load_shedding.py.
"""

from __future__ import annotations

import pytest

from papertide.web.shedding import Admission


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _worker(clock: Clock, *, threads: int = 2, queue: int = 64, max_wait: float = 0.5) -> Admission:
    admission = Admission(clock=clock)
    admission.configure(capacity=threads + queue, retry_after=1, threads=threads, max_wait=max_wait)
    return admission


def _busy(admission: Admission, clock: Clock, *, requests: int, gap: float, answers: int) -> None:
    """``requests`` in progress, then ``answers`` of them answered ``gap`` apart by the
    threads, each replaced at once by a new one (closed-loop clients)."""
    for _ in range(requests):
        admission.enter()
    for _ in range(answers):
        clock.now += gap
        admission.leave(paced=True)
        admission.enter()


def test_a_request_that_would_wait_longer_than_allowed_is_refused_though_the_queue_has_room() -> (
    None
):
    clock = Clock()
    admission = _worker(clock)
    _busy(admission, clock, requests=20, gap=0.01, answers=200)
    assert admission.pace == pytest.approx(0.01)
    # 20 in progress, 19 ahead of a newcomer at 10 ms each: 0.19 s, admitted.
    assert admission.expected_wait() == pytest.approx(0.19)
    assert not admission.full()
    for _ in range(30):
        admission.enter()
    assert not admission.full()  # 50 in progress: 49 ahead, 0.49 s
    admission.enter()
    admission.enter()
    # 52 in progress: far from the queue's 66, but a newcomer would wait 0.51 s.
    assert admission.in_progress == 52 < admission.capacity
    assert admission.full()


def test_a_slower_pace_refuses_sooner_and_a_quicker_one_later() -> None:
    clock = Clock()
    slow, quick = _worker(clock), _worker(clock)
    _busy(slow, clock, requests=30, gap=0.02, answers=200)
    _busy(quick, clock, requests=30, gap=0.005, answers=200)
    assert slow.full()  # 29 ahead at 20 ms: 0.58 s
    assert not quick.full()  # 0.145 s
    for _ in range(35):
        quick.enter()
    assert quick.in_progress == 65 and not quick.full()  # 64 ahead at 5 ms: 0.32 s
    quick.enter()
    assert quick.full()  # the queue's count: threads + queue in progress


def test_the_pace_follows_the_worker_as_it_slows_down() -> None:
    clock = Clock()
    admission = _worker(clock)
    _busy(admission, clock, requests=30, gap=0.005, answers=300)
    assert not admission.full()
    _busy(admission, clock, requests=0, gap=0.03, answers=700)  # the host slows sixfold
    assert admission.pace == pytest.approx(0.03, rel=0.02)
    assert admission.full()


def test_time_with_no_request_waiting_does_not_slow_the_pace() -> None:
    clock = Clock()
    admission = _worker(clock)
    _busy(admission, clock, requests=10, gap=0.01, answers=100)
    while admission.in_progress:  # the clients stop; the worker drains
        clock.now += 0.01
        admission.leave(paced=True)
    pace = admission.pace
    clock.now += 60.0  # a quiet minute
    for _ in range(3):  # a burst: one request waits for a thread
        admission.enter()
    clock.now += 0.01
    admission.leave(paced=True)
    assert admission.pace == pytest.approx(pace, rel=0.01)
    assert admission.expected_wait() < 0.05


def test_answers_given_without_a_thread_do_not_set_the_pace() -> None:
    """Page-cache hits are answered on the event loop in microseconds: counted, they would
    make a worker whose threads take 20 ms a request look four times as quick."""
    clock = Clock()
    admission = _worker(clock)
    for _ in range(40):
        admission.enter()
    for _ in range(200):
        clock.now += 0.005
        for _ in range(3):  # three cache hits...
            admission.leave(paced=False)
            admission.enter()
        clock.now += 0.015
        admission.leave(paced=True)  # ...then a thread's answer, 20 ms after the last
        admission.enter()
    assert admission.pace == pytest.approx(0.02)
    assert admission.full()  # 39 ahead at 20 ms: 0.78 s


def test_before_any_pace_is_known_only_the_count_limits() -> None:
    clock = Clock()
    admission = _worker(clock, queue=10)
    for _ in range(11):
        admission.enter()
    assert admission.pace == 0.0 and not admission.full()
    admission.enter()
    assert admission.full()


def test_a_new_configuration_learns_its_pace_afresh() -> None:
    clock = Clock()
    admission = _worker(clock)
    _busy(admission, clock, requests=30, gap=0.05, answers=100)
    assert admission.full()
    admission.configure(capacity=66, retry_after=1, threads=2, max_wait=0.5)
    assert admission.pace == 0.0 and not admission.full()


def test_while_many_are_turned_away_a_request_sent_into_the_pause_has_only_the_rest() -> None:
    """A client that asks again at once after a 503 finds its connection left unread for a
    moment. While many connections are turned away, that moment counts towards the longest
    wait, so the pause never makes an accepted request wait longer than allowed; with few
    turned away it does not, so that such a client is not refused for ever while the wait
    sits just under the limit."""
    clock = Clock()
    admission = _worker(clock)
    _busy(admission, clock, requests=20, gap=0.01, answers=100)  # 19 ahead: 0.19 s
    admission.turned_away = 8
    assert not admission.full(waited=0.3)  # 0.49 s in all
    for _ in range(5):
        admission.enter()  # 24 ahead: 0.24 s
    assert not admission.full()
    assert admission.full(waited=0.3)  # 0.54 s in all
    admission.turned_away = 7
    assert not admission.full(waited=0.3)  # judged as a new request: 0.24 s


def test_with_a_thread_free_a_request_is_admitted_whatever_it_waited() -> None:
    clock = Clock()
    admission = _worker(clock)
    admission.turned_away = 100
    admission.enter()
    assert not admission.full(waited=5.0)
    admission.enter()
    assert admission.full(waited=5.0)


def test_a_new_workers_slow_first_answers_do_not_refuse_its_ordinary_load() -> None:
    """The first answers of a new worker are slow (cold caches): the pace starts as their
    plain mean, not as the first of them, and is not trusted before some dozens."""
    clock = Clock()
    admission = _worker(clock, max_wait=0.8)
    for _ in range(30):
        admission.enter()
    for gap in [0.5, 0.5] + [0.01] * 60:
        clock.now += gap
        admission.leave(paced=True)
        admission.enter()
    assert not admission.full()  # 62 answers: not known yet, and the count has room
    _busy(admission, clock, requests=0, gap=0.01, answers=40)
    assert admission.pace == pytest.approx(2.0 / 102)
    assert not admission.full()  # 29 ahead at 20 ms: 0.57 s
