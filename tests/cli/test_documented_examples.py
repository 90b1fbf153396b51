"""Every `papertide` example in the shell blocks of the README and docs/search.md runs on the
data `make demo` leaves.

Read from the documents themselves, so they cannot drift. `eval` and `bench` lines are left
out: they take minutes and have tests of their own (search/test_evaluation.py and
cli/test_bench_commands.py).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import orjson
from typer.testing import CliRunner

from papertide.cli import app

ROOT = Path(__file__).resolve().parents[2]
# The documents whose ```sh blocks run on the demo's data; the other docs' blocks need a
# PostgreSQL server, a second machine or minutes of benchmark.
DOCUMENTS = (ROOT / "README.md", ROOT / "docs" / "search.md")
SLOW = ("eval", "bench")


def examples(document: Path) -> list[list[str]]:
    """The argv after `papertide` of each example line in a ```sh block, in order."""
    blocks = re.findall(r"^```sh\n(.*?)^```", document.read_text(), re.M | re.S)
    found = []
    for block in blocks:
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0].removeprefix(".venv/bin/") == "papertide":
                found.append(words[1:])
    return found


def test_the_readme_and_the_search_page_have_examples_to_run() -> None:
    readme, search = (examples(document) for document in DOCUMENTS)
    assert len(readme) >= 5
    assert {args[0] for args in readme} >= {"search", "show", "subscribers", "digest"}
    assert {args[0] for args in search} >= {"search", "similar"}


def test_every_documented_example_works_on_the_demo_data(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path / "demo")]
    assert runner.invoke(app, [*base, "demo"]).exit_code == 0  # what `make demo` runs
    ran = 0
    for args in [args for document in DOCUMENTS for args in examples(document)]:
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
        if args[:2] == ["digest", "preview"]:  # the quick start ends on a digest with papers
            assert "nothing new" not in result.output, (args, result.output)
        ran += 1
    assert ran >= 8
