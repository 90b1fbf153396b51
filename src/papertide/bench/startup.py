"""`papertide bench cli`: how long `papertide --help`, `--version` and each command's
`--help` take, in fresh processes, beside `python -c pass` timed in the same rounds."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

from typer import _click

from papertide.bench.output import Echo

BASELINE = "python -c pass"


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


def _elapsed(argv: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False, env=os.environ.copy())
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


def report_lines(medians: dict[str, float], *, budget: float) -> list[str]:
    """One line a command (median, over the baseline), then the slowest against the budget."""
    base = medians[BASELINE]
    width = max(map(len, medians))
    lines = [f"{BASELINE:{width}}  {base * 1000:7.1f} ms  (baseline)"]
    commands = {label: t for label, t in medians.items() if label != BASELINE}
    for label, seconds in commands.items():
        mark = "  over budget" if seconds > budget else ""
        lines.append(
            f"{label:{width}}  {seconds * 1000:7.1f} ms  "
            f"(+{(seconds - base) * 1000:6.1f} ms over python){mark}"
        )
    slowest = max(commands, key=commands.__getitem__)
    over = sum(t > budget for t in commands.values())
    verdict = "every command within it" if not over else f"{over} over it"
    lines.append(
        f"slowest: {slowest} {commands[slowest] * 1000:.1f} ms; budget {budget * 1000:.0f} ms: "
        f"{verdict} ({len(commands)} commands)"
    )
    return lines


def run_bench_cli(root: _click.Command, *, runs: int, budget: float, echo: Echo) -> None:
    """Time every command below ``root`` over ``runs`` rounds; print the medians against the
    baseline and the slowest against ``budget`` seconds (see `bench cli --help`)."""
    argvs = startup_argvs(root)
    echo(f"{len(argvs) - 1} commands and the baseline, {runs} rounds")
    medians = time_startup(argvs, rounds=runs)
    for line in report_lines(medians, budget=budget):
        echo(line, highlight=False)
