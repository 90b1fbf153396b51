"""`papertide bench load`: a real `papertide serve` on loopback, driven by wrk (a compiled
load generator, so the client does not compete with the server for the GIL) over the
anonymous read mix and a signed-in voting mix, with /healthz as the baseline of the run."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from papertide.bench.output import BenchFailed, Echo
from papertide.bench.overload import run_overload
from papertide.bench.server import index_ready, scratch_run, serve_process, wait_until
from papertide.bench.synth import write_snapshot
from papertide.clock import utcnow
from papertide.config import Settings
from papertide.ingest import IngestOptions, ingest_paths
from papertide.models import Paper
from papertide.store import Store

SCRIPT = Path(__file__).with_name("load.lua")
INSTALL_HINT = (
    "wrk is not installed. It is Debian's package `wrk`: run scripts/services.sh (it "
    "installs it), or `apt-get install wrk`."
)


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """What one run does: store size, wrk's connections and threads, seconds per mix."""

    papers: int
    connections: int
    duration: int
    threads: int
    workers: int
    voters: int
    serve_threads: int | None = None  # serve's --threads; None: the setting
    overload: int = 256  # connections of the overload run (bench/overload.py); 0: none


def run_bench_load(base: Settings, plan: LoadPlan, echo: Echo) -> None:
    """Generate a store, serve it, and drive it with wrk (see `bench load --help`)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise BenchFailed(INSTALL_HINT)
    with scratch_run(base, "papertide-bench-load-", "load.db") as (settings, folder):
        _bench(settings, folder, plan, wrk, echo)


def _bench(settings: Settings, folder: Path, plan: LoadPlan, wrk: str, echo: Echo) -> None:
    settings = settings.model_copy(update={"data_dir": folder / "data"})
    store = Store.open(settings.resolved_database_url)
    source = write_snapshot(folder / "papers.jsonl", plan.papers, seed=7)
    started = time.perf_counter()
    ingest_paths(store, [source], settings=settings, options=IngestOptions(fmt="arxiv-snapshot"))
    echo(
        f"{plan.papers:,} papers on {store.engine.dialect.name} "
        f"(imported in {time.perf_counter() - started:.0f} s)"
    )
    recent = store.list_papers(limit=2000)
    oldest = min(p.day for p in store.list_papers(limit=1, offset=plan.papers - 1) if p.day)
    window = (utcnow().date() - oldest).days + 1  # generated papers are old: rank them all
    timings: dict[str, float] = {}
    with _serve(settings, plan, window, echo, timings) as (server, pid):
        _until(lambda: index_ready(server), 3600)
        echo(
            f"server ready, index and its HNSW graph built, in "
            f"{time.perf_counter() - timings['started']:.0f} s"
        )
        settled = _until_quiet(pid)
        echo(f"server idle (every worker's start-up work done) {settled:.0f} s later")
        data = _write_data(folder / "data.lua", server, recent, plan.voters)
        echo(
            f"wrk: {plan.connections} connections, {plan.threads} threads, {plan.duration} s "
            f"a mix; load average before: {_load()}"
        )
        run = _Runner(wrk, server.base_url, data, plan)
        # Each mix starts on an idle server: when wrk stops, the requests its connections
        # had in flight still run (up to 30-odd a worker), and a mix started at once met a
        # worker full of them.
        settle = functools.partial(_until_quiet, pid, window=0.5, timeout=30)
        _report("/healthz (baseline)", run.one("healthz", plan.connections), pid, echo)
        settle()
        _report("anonymous mix", run.one("anonymous", plan.connections), pid, echo)
        settle()
        reads, votes = run.together(("anonymous", plan.connections), ("voters", plan.voters))
        _report("anonymous mix, with voters", reads, pid, echo)
        _report(f"{plan.voters} voters (signed in)", votes, pid, echo)
        if plan.overload:
            settle()
            run_overload(str(server.base_url), plan.overload, run.one, echo)
    echo(f"serve stopped {timings['stop']:.1f} s after SIGTERM")
    _restart(settings, plan, window, echo)
    rows, counted = store.vote_totals()
    state = "equal" if rows == counted else "[bold red]DIFFER[/]"
    echo(f"vote rows {rows:,}, papers' vote counters sum {counted:,}: {state}")
    echo(f"load average after: {_load()}")
    store.close()


class _Runner:
    """Runs wrk with load.lua and reads the PTLOAD line its done() prints."""

    def __init__(self, wrk: str, url: object, data: Path, plan: LoadPlan) -> None:
        self.wrk, self.url, self.data, self.plan = wrk, str(url), data, plan

    def _start(self, mix: str, connections: int) -> subprocess.Popen[str]:
        threads = max(1, min(self.plan.threads, connections))
        argv = [
            self.wrk,
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{self.plan.duration}s",
        ]
        argv += ["--timeout", "10s", "-s", str(SCRIPT), self.url, "--", str(self.data), mix]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def one(self, mix: str, connections: int) -> dict[str, float]:
        """One mix alone."""
        return _result(self._start(mix, connections))

    def together(self, *mixes: tuple[str, int]) -> list[dict[str, float]]:
        """Several mixes at once (each its own wrk), results in order."""
        started = [self._start(mix, connections) for mix, connections in mixes]
        return [_result(process) for process in started]


def _result(process: subprocess.Popen[str]) -> dict[str, float]:
    out, _ = process.communicate()
    found = re.search(r"^PTLOAD (\{.*\})$", out, re.M)
    if process.returncode != 0 or found is None:
        raise BenchFailed(f"wrk failed (exit {process.returncode}):\n{out}")
    result: dict[str, float] = json.loads(found.group(1))
    return result


def _report(name: str, r: dict[str, float], pid: int, echo: Echo) -> None:
    errors = int(r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"])
    rate = r["requests"] / (r["duration_us"] / 1e6)
    rss, peak = _rss(pid)
    echo(
        f"{name:28} {rate:8,.1f} req/s   p50 {r['p50'] / 1e3:7.1f} ms   "
        f"p95 {r['p95'] / 1e3:7.1f} ms   p99 {r['p99'] / 1e3:7.1f} ms   errors {errors:,} "
        f"(status {int(r['status'])}: 503 refused {int(r['shed'])}, "
        f"timeout {int(r['timeout'])})   "
        f"server RSS {rss:,.0f} MB (peak {peak:,.0f} MB)",
        highlight=False,
    )


def _write_data(path: Path, server: httpx.Client, recent: list[Paper], voters: int) -> Path:
    """The Lua data file: paper ids, query words, and signed-in voters' cookies."""
    rng = random.Random(3)
    ids = [p.id for p in recent if p.id]
    counts: dict[str, int] = {}
    for paper in recent[:500]:
        for word in re.findall(r"[a-z]{4,}", (paper.title or "").lower()):
            counts[word] = counts.get(word, 0) + 1
    words = sorted(counts, key=lambda w: -counts[w])[:60] or ["paper"]
    people = [_sign_up(server, n) for n in range(voters)]
    lines = ["return {", f"  ids = {{{_lua_list(ids)}}},", f"  words = {{{_lua_list(words)}}},"]
    lines.append(f"  vote_ids = {{{_lua_list(rng.sample(ids, min(200, len(ids))))}}},")
    lines.append("  voters = {")
    lines += [f"    {{cookie = {_lua(cookie)}, csrf = {_lua(csrf)}}}," for cookie, csrf in people]
    lines += ["  },", "}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def _sign_up(server: httpx.Client, n: int) -> tuple[str, str]:
    """Register voter n over HTTP; their Cookie header value and CSRF token."""
    with httpx.Client(base_url=server.base_url, timeout=60) as browser:
        browser.get("/login")
        form = {
            "username": f"load-{n}",
            "password": f"bench load voter {n} passphrase",
            "csrf_token": browser.cookies.get("pt_csrf") or "",
        }
        answer = browser.post("/register", data=form)
        if answer.status_code != 303:
            raise BenchFailed(
                f"registering a voter failed: {answer.status_code} {answer.text[:200]}"
            )
        session, csrf = browser.cookies.get("pt_session"), browser.cookies.get("pt_csrf")
        return f"pt_session={session}; pt_csrf={csrf}", csrf or ""


def _lua(text: str) -> str:
    return json.dumps(text)  # a JSON string of ASCII is a valid Lua string literal


def _lua_list(items: list[str]) -> str:
    return ", ".join(_lua(item) for item in items)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _rss(pid: int) -> tuple[float, float]:
    """RSS and peak RSS in MB of ``pid`` and its descendants (every worker)."""
    rss = peak = 0.0
    for each in _tree(pid):
        with contextlib.suppress(OSError):
            status = Path(f"/proc/{each}/status").read_text()
            rss, peak = rss + _mb(status, "VmRSS"), peak + _mb(status, "VmHWM")
    return rss, peak


def _mb(status: str, field: str) -> float:
    found = re.search(rf"^{field}:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) / 1024 if found else 0.0


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        each = todo.pop()
        found.append(each)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{each}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def _restart(settings: Settings, plan: LoadPlan, window: int, echo: Echo) -> None:
    """serve started again on the folder it left (its index on disk, the store full): how
    soon it answers (503 'starting' until its store and index are open), how soon it is
    ready, and how soon it stops on SIGTERM."""
    timings: dict[str, float] = {}
    with _serve(settings, plan, window, echo, timings) as (server, _):
        wait_until(lambda: _answers(server), 120, pause=0.01, message="serve never answered")
        first = time.perf_counter() - timings["started"]
        _until(lambda: index_ready(server), 3600)
        ready = time.perf_counter() - timings["started"]
    echo(
        f"restart on the same folder: first answer {first:.2f} s after start, "
        f"ready in {ready:.1f} s; stopped {timings['stop']:.1f} s after SIGTERM"
    )


def _answers(server: httpx.Client) -> bool:
    """Whether serve answers HTTP at all (any status: 503 'starting' counts)."""
    server.get("/healthz", timeout=1.0)
    return True


@contextlib.contextmanager
def _serve(
    settings: Settings,
    plan: LoadPlan,
    window: int,
    echo: Echo,
    timings: dict[str, float] | None = None,
) -> Iterator[tuple[httpx.Client, int]]:
    threads = plan.serve_threads or settings.threads
    echo(f"serve: {plan.workers} worker(s), {threads} thread(s) each")
    env = {
        "PAPERTIDE_THREADS": str(threads),
        "PAPERTIDE_TRENDING_WINDOW_DAYS": str(window),
        "PAPERTIDE_RATE_LIMIT_PER_HOUR": "1000000",  # the voters sign up from one address
    }
    with serve_process(settings, workers=plan.workers, env=env, timings=timings) as served:
        yield served


def _until_quiet(pid: int, *, window: float = 2.0, timeout: float = 300.0) -> float:
    """Seconds until ``pid`` and its workers use under a tenth of a core over ``window``:
    one worker's /healthz says ready while another may still be mapping or checking its
    graph, and a load run started then measures that work too (seen: 1.7 cores for 15 s)."""
    started = time.perf_counter()
    tick = os.sysconf("SC_CLK_TCK")
    while time.perf_counter() - started < timeout:
        before = _cpu_ticks(pid)
        time.sleep(window)
        if (_cpu_ticks(pid) - before) / tick / window < 0.1:
            break
    return time.perf_counter() - started


def _cpu_ticks(pid: int) -> int:
    """User and system clock ticks of ``pid`` and its descendants so far."""
    total = 0
    for each in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (proc(5))
    return total


def _until(check: Callable[[], object], timeout: float) -> None:
    wait_until(
        check,
        timeout,
        pause=0.2,
        message="the server was not ready",
        tolerate=(httpx.HTTPError, KeyError, ValueError),
    )
