"""The overload run of `papertide bench load`: far more connections than the server's
threads and queues hold (256 by default), the anonymous mix, while a probe asks /healthz
every 50 ms. Reports the answers accepted and refused (503 with Retry-After), the accepted
ones' p50 and p99, and /healthz's latency during the run."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

import httpx

from papertide.bench.output import Echo

PROBE_PAUSE = 0.05


class HealthProbe:
    """Asks /healthz every ``PROBE_PAUSE`` s in a thread; keeps each answer's latency."""

    def __init__(self, url: str) -> None:
        self.url, self.failed = url, 0
        self.seconds: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="healthz-probe", daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    ok = client.get("/healthz").status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    self.seconds.append(time.perf_counter() - started)
                else:
                    self.failed += 1
                self._stop.wait(PROBE_PAUSE)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def _quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def run_overload(
    url: str, connections: int, run: Callable[[str, int], dict[str, float]], echo: Echo
) -> None:
    """The overload run: wrk's ``overload`` mix through ``run``, with the probe beside it."""
    with HealthProbe(url) as probe:
        r = run("overload", connections)
    seconds = r["duration_us"] / 1e6
    errors = int(r["connect"] + r["read"] + r["write"] + r["timeout"])
    health = probe.seconds
    echo(
        f"{'overload, ' + str(connections) + ' connections':28} "
        f"{r['requests'] / seconds:8,.1f} req/s   accepted {int(r['accepted']):,} "
        f"({r['accepted'] / seconds:,.1f}/s, p50 {r['p50_accepted'] / 1e3:.1f} ms, "
        f"p99 {r['p99_accepted'] / 1e3:.1f} ms)   refused 503 {int(r['shed']):,}   "
        f"other 5xx {int(r['other']):,}   connection errors {errors:,} "
        f"(timeout {int(r['timeout'])})",
        highlight=False,
    )
    echo(
        f"{'  /healthz meanwhile':28} {len(health):,} probes   "
        f"p50 {_quantile(health, 0.5) * 1e3:.1f} ms   p99 {_quantile(health, 0.99) * 1e3:.1f} ms"
        f"   max {max(health, default=float('nan')) * 1e3:.1f} ms   failed {probe.failed}",
        highlight=False,
    )
