"""`papertide bench cli`: how long `papertide --help`, `--version`, each command's `--help`
and `stats` on the demo's store take, in fresh processes that write no bytecode (as in a
container with PYTHONDONTWRITEBYTECODE=1), beside `python -c pass` timed in the same rounds."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from typer import _click

from papertide.bench.output import Echo

BASELINE = "python -c pass"
STATS = "papertide stats (demo store)"


def command_paths(command: _click.Command, prefix: tuple[str, ...] = ()) -> Iterator[list[str]]:
    """The path of every subcommand below ``command`` (groups too), depth first."""
    for name, child in sorted(getattr(command, "commands", {}).items()):
        yield [*prefix, name]
        yield from command_paths(child, (*prefix, name))


def startup_argvs(root: _click.Command) -> dict[str, list[str]]:
    """Label -> argv: the baseline, `papertide --help`, `--version`, each `COMMAND --help`."""
    papertide = [sys.executable, "-m", "papertide"]
    runs = {BASELINE: [sys.executable, "-c", "pass"]}
    runs["papertide --help"] = [*papertide, "--help"]
    runs["papertide --version"] = [*papertide, "--version"]
    for path in command_paths(root):
        runs[f"papertide {' '.join(path)} --help"] = [*papertide, *path, "--help"]
    return runs


def child_env() -> dict[str, str]:
    """The environment of the timed processes: no bytecode written (each start finds what
    the install compiled, or compiles again), and no PAPERTIDE_ setting of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTIDE_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _elapsed(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False, env=child_env())
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()}")
    return elapsed


def time_startup(
    argvs: dict[str, list[str]], *, rounds: int, on_round: Callable[[int], None] | None = None
) -> dict[str, float]:
    """Median seconds per label; each round runs every argv once, baseline first, so that
    the baseline and the commands share the machine's load of the moment."""
    times: dict[str, list[float]] = {label: [] for label in argvs}
    for number in range(rounds):
        for label, argv in argvs.items():
            times[label].append(_elapsed(argv))
        if on_round:
            on_round(number + 1)
    return {label: statistics.median(values) for label, values in times.items()}


def report_lines(
    medians: dict[str, float], *, budget: float, stats_budget: float | None = None
) -> list[str]:
    """One line a command (median, over the baseline, times the baseline), then the slowest
    help against ``budget`` and `stats` against ``stats_budget`` (seconds over python)."""
    base = medians[BASELINE]
    width = max(map(len, medians))
    lines = [f"{BASELINE:{width}}  {base * 1000:7.1f} ms  (baseline)"]
    commands = {label: t for label, t in medians.items() if label not in (BASELINE, STATS)}
    for label, seconds in medians.items():
        if label == BASELINE:
            continue
        limit = stats_budget if label == STATS else budget
        mark = "  over budget" if limit is not None and seconds - base > limit else ""
        lines.append(
            f"{label:{width}}  {seconds * 1000:7.1f} ms  "
            f"(+{(seconds - base) * 1000:6.1f} ms over python, {seconds / base:5.1f}x){mark}"
        )
    slowest = max(commands, key=commands.__getitem__)
    over = sum(t - base > budget for t in commands.values())
    verdict = "every command within it" if not over else f"{over} over it"
    lines.append(
        f"slowest: {slowest} {commands[slowest] * 1000:.1f} ms; budget {budget * 1000:.0f} ms "
        f"over python: {verdict} ({len(commands)} commands)"
    )
    if STATS in medians and stats_budget is not None:
        extra = medians[STATS] - base
        verdict = "within it" if extra <= stats_budget else "over it"
        lines.append(
            f"stats: +{extra * 1000:.1f} ms over python; budget {stats_budget * 1000:.0f} ms: "
            f"{verdict}"
        )
    return lines


def demo_store(folder: Path) -> list[str]:
    """Make the demo's store in ``folder`` (`papertide demo`, once, untimed); returns the
    argv of `papertide stats` on it."""
    papertide = [sys.executable, "-m", "papertide", "--data-dir", str(folder)]
    done = subprocess.run([*papertide, "demo"], capture_output=True, check=False, env=child_env())
    if done.returncode != 0:
        raise RuntimeError(f"papertide demo exited {done.returncode}: {done.stderr.decode()}")
    return [*papertide, "stats"]


def run_bench_cli(
    root: _click.Command, *, runs: int, budget: float, stats_budget: float, echo: Echo
) -> None:
    """Time every command below ``root`` and `stats` on the demo's store over ``runs``
    rounds; print the medians against the baseline, the slowest help against ``budget`` and
    `stats` against ``stats_budget`` (seconds over python; see `bench cli --help`)."""
    argvs = startup_argvs(root)
    with tempfile.TemporaryDirectory(prefix="papertide-bench-cli-") as tmp:
        argvs[STATS] = demo_store(Path(tmp) / "data")
        echo(f"{len(argvs) - 1} commands and the baseline, {runs} rounds, no bytecode written")
        medians = time_startup(argvs, rounds=runs)
    for line in report_lines(medians, budget=budget, stats_budget=stats_budget):
        echo(line, highlight=False)
