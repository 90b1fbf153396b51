"""Every `papertide` example in the README's shell blocks runs on the data `make demo` leaves.

Read from README.md itself, so the two cannot drift. `eval` and `bench` lines are left out:
they take minutes and have tests of their own (search/test_evaluation.py and
cli/test_bench_commands.py).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import orjson
from typer.testing import CliRunner

from papertide.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
SLOW = ("eval", "bench")


def readme_examples() -> list[list[str]]:
    """The argv after `papertide` of each example line in a ```sh block, in order."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(), re.M | re.S)
    found = []
    for block in blocks:
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0].removeprefix(".venv/bin/") == "papertide":
                found.append(words[1:])
    return found


def test_the_readme_has_examples_to_run() -> None:
    examples = readme_examples()
    assert len(examples) >= 8
    assert {args[0] for args in examples} >= {"search", "similar", "show", "subscribers"}


def test_every_readme_example_works_on_the_demo_data(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "demo")]
    assert runner.invoke(app, [*base, "demo"]).exit_code == 0  # what `make demo` runs
    ran = 0
    for args in readme_examples():
        if args[0] in SLOW:
            continue
        args = [a.replace("/tmp/", f"{tmp_path}/") for a in args]  # files go to tmp_path
        result = runner.invoke(app, [*base, *args])
        assert result.exit_code == 0, (args, result.output)
        if args[0] == "search":  # and finds something: "0 of 0" is no example
            if "--json" in args:
                assert orjson.loads(result.output)["hits"], args
            else:
                shown = re.search(r"^(\d+) of [\d,]+ shown$", result.output, re.M)
                assert shown and int(shown.group(1)) > 0, (args, result.output)
        if args[0] in ("similar", "show"):
            assert result.output.strip(), args
        ran += 1
    assert ran >= 8
